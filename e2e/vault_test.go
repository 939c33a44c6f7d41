package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestVaultReadsFollowWrites checks that the server's in-memory copy of the vaults follows
// every write: its own at once, and the CLI's, another process, within a second.
func TestVaultReadsFollowWrites(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	k := createKey(t, dir, f.accountID, "writer", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
	auth := map[string]string{"Authorization": "Bearer " + accessToken(t, f.srv, k.ClientID, k.ClientSecret)}
	names := func() string {
		t.Helper()
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults", auth, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/vaults: status %d", r.status)
		}
		var page struct{ Data []struct{ Name string } }
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET /v1/vaults: %v", err)
		}
		var out []string
		for _, v := range page.Data {
			out = append(out, v.Name)
		}
		return strings.Join(out, ",")
	}

	// The first read fills the server's copy.
	if got := names(); got != "Treasury" {
		t.Fatalf("vaults = %q, want Treasury", got)
	}

	t.Run("created by the API", func(t *testing.T) {
		header := map[string]string{"Content-Type": "application/json"}
		for name, value := range auth {
			header[name] = value
		}
		r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", header, `{"name":"Cold","threshold":2}`)
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v1/vaults: status %d", r.status)
		}
		if got := names(); got != "Treasury,Cold" {
			t.Errorf("vaults right after POST = %q, want Treasury,Cold", got)
		}
		id, _ := r.json(t)["id"].(string)
		if r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults/"+id, auth, ""); r.status != http.StatusOK {
			t.Errorf("GET of the vault just created: status %d, want 200", r.status)
		}
	})

	t.Run("created by the CLI", func(t *testing.T) {
		testenv.CLIJSON(t, dir, nil, "vault", "create", "--account", f.accountID, "--name", "Warm", "--threshold", "3")
		created := time.Now()
		for got := names(); got != "Treasury,Cold,Warm"; got = names() {
			if time.Since(created) > time.Second {
				t.Fatalf("vaults 1s after the CLI created one = %q, want Treasury,Cold,Warm", got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
