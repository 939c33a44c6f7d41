package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestCreationAudited creates an account and a vault with the CLI and a vault over HTTPS,
// and checks that each left one record, with who created it, in the account's log.
func TestCreationAudited(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	writer := createKey(t, dir, f.accountID, "writer", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, f.srv, writer.ClientID, writer.ClientSecret)
	tok := accessToken(t, f.srv, writer.ClientID, writer.ClientSecret)
	r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"},
		`{"name":"Cold","threshold":3}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /v1/vaults: status %d, want 201; body %s", r.status, r.body)
	}
	apiVaultID, _ := r.json(t)["id"].(string)

	accounts := auditList(t, dir, f.accountID, "--event", "account.created")
	vaults := auditList(t, dir, f.accountID, "--event", "vault.created")
	if len(accounts) != 1 || len(vaults) != 2 {
		t.Fatalf("account.created records = %d, vault.created records = %d; want 1 and 2", len(accounts), len(vaults))
	}

	t.Run("account created with the CLI", func(t *testing.T) {
		a := accounts[0]
		if a.Seq != 1 || a.AccountID != f.accountID || a.Actor.Type != "operator" || a.Actor.ID == "" || a.Actor.IP != "" || a.ClientID != "" {
			t.Errorf("account.created record = %+v, want record 1 of the account by the operator", a)
		}
		checkDetails(t, a, map[string]any{"name": "Acme Custody", "email": "ops@acme.test", "via": "cli"})
	})

	// Records are listed newest first.
	t.Run("vault created with the CLI", func(t *testing.T) {
		v := vaults[1]
		if v.Actor.Type != "operator" || v.Actor.ID == "" || v.ClientID != "" || v.TokenID != "" {
			t.Errorf("vault.created record = %+v, want one by the operator without a client", v)
		}
		checkDetails(t, v, map[string]any{"vaultId": f.vaultID, "name": "Treasury", "threshold": float64(2)})
	})

	t.Run("vault created with an access token", func(t *testing.T) {
		v := vaults[0]
		if v.Actor.Type != "client" || v.Actor.ID != writer.ClientID || v.Actor.IP != "127.0.0.1" || v.ClientID != writer.ClientID {
			t.Errorf("vault.created record = %+v, want one by the client %s from 127.0.0.1", v, writer.ClientID)
		}
		checkDetails(t, v, map[string]any{"vaultId": apiVaultID, "name": "Cold", "threshold": float64(3)})
		issued := map[string]bool{}
		for _, r := range auditList(t, dir, f.accountID, "--event", "token.issued", "--client-id", writer.ClientID) {
			issued[r.TokenID] = true
		}
		if v.TokenID == "" || !issued[v.TokenID] {
			t.Errorf("vault.created token ID %q is none of the writer's issued tokens %v", v.TokenID, issued)
		}
	})

	checkAuditVerifies(t, dir)
}

// checkDetails fails the test unless r's details equal want.
func checkDetails(t *testing.T, r auditRecord, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(r.Details, &got); err != nil {
		t.Fatalf("%s details are not a JSON object: %v", r.Event, err)
	}
	if !equalJSON(got, want) {
		t.Errorf("%s details = %v, want %v", r.Event, got, want)
	}
}

// checkAuditVerifies fails the test unless "iogate audit verify" verifies every chain.
func checkAuditVerifies(t *testing.T, dir string) {
	t.Helper()
	if res := testenv.RunCLI(t, dir, nil, "audit", "verify"); res.ExitCode != 0 {
		t.Errorf("audit verify: exit %d, stdout %s, stderr %s", res.ExitCode, res.Stdout, res.Stderr)
	}
}
