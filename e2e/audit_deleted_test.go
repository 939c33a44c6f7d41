package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/iogate/iogate/internal/testenv"
)

// TestDeletedKeyDenial requests tokens over HTTPS for a key deleted with the CLI, at both
// token endpoints. Each response equals the one for a client ID that never existed, byte
// for byte but for the request ID. Each request for the deleted key leaves one token.denied
// record with reason key_deleted in its account's log, also after a restart.
func TestDeletedKeyDenial(t *testing.T) {
	opts := testenv.Options{HTTPListen: "-"}
	f := newFixture(t, opts)
	dir := f.srv.DataDir
	// The key belongs to a second account, so that a record in the fixture's account would
	// be in the wrong chain.
	otherID := createAccount(t, dir, "Other Custody", "ops@other.test")
	k := createKey(t, dir, otherID, "doomed")
	waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
	tok := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
	testenv.CLIJSON(t, dir, nil, "key", "delete", k.ClientID)
	waitForRejectedToken(t, f.srv, tok)

	unknown := uuid.NewString()
	endpoints := []struct {
		name string
		post func(srv *testenv.Server, clientID string) response
	}{
		{"/v1/auth/accessToken", func(srv *testenv.Server, clientID string) response {
			return do(t, srv.Client, "POST", srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(clientID, k.ClientSecret))
		}},
		{"/oauth2/token", func(srv *testenv.Server, clientID string) response {
			return send(t, srv.Client, "POST", srv.URL+"/oauth2/token", formHeader(clientID, k.ClientSecret), "grant_type=client_credentials")
		}},
	}
	for _, e := range endpoints {
		t.Run(e.name, func(t *testing.T) {
			deleted := e.post(f.srv, k.ClientID)
			never := e.post(f.srv, unknown)
			if deleted.status != http.StatusUnauthorized {
				t.Errorf("status for the deleted key = %d, want 401", deleted.status)
			}
			checkSameResponse(t, deleted, never)
		})
	}

	denials := waitForDenials(t, dir, otherID, 2)
	checkKeyDeletedDenials(t, denials, k.ClientID)
	if got := auditList(t, dir, f.accountID, "--event", "token.denied"); len(got) != 0 {
		t.Errorf("token.denied records in the fixture's account = %d, want 0", len(got))
	}
	for _, account := range []string{f.accountID, otherID} {
		res := testenv.RunCLI(t, dir, nil, "audit", "export", "--account", account, "--format", "json")
		if res.ExitCode != 0 {
			t.Fatalf("audit export: exit %d, stderr %s", res.ExitCode, res.Stderr)
		}
		if strings.Contains(res.Stdout, unknown) {
			t.Errorf("the audit log of account %s names the client ID that never existed", account)
		}
	}
	checkAuditVerifies(t, dir)

	// A restarted server learns of the deletion from the key.deleted record.
	if err := f.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := testenv.Start(t, dir, opts)
	if r := endpoints[0].post(restarted, k.ClientID); r.status != http.StatusUnauthorized {
		t.Errorf("status for the deleted key after a restart = %d, want 401", r.status)
	}
	denials = waitForDenials(t, dir, otherID, 3)
	checkKeyDeletedDenials(t, denials, k.ClientID)
	checkAuditVerifies(t, dir)
}

// waitForRejectedToken polls GET /v1/vaults with tok until the server rejects it, which it
// does once its change feed has delivered the key's deletion. Bearer requests write no
// audit record, so polling adds none.
func waitForRejectedToken(t *testing.T, srv *testenv.Server, tok string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for getVaults(t, srv, tok).status != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the token of the deleted key still works after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForDenials polls the account's token.denied records until there are n, which the
// server writes off the request path, and returns them.
func waitForDenials(t *testing.T, dir, accountID string, n int) []auditRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		records := auditList(t, dir, accountID, "--event", "token.denied")
		if len(records) >= n {
			if len(records) > n {
				t.Errorf("token.denied records = %d, want %d", len(records), n)
			}
			return records
		}
		if time.Now().After(deadline) {
			t.Fatalf("token.denied records after 5s = %d, want %d", len(records), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkKeyDeletedDenials(t *testing.T, denials []auditRecord, clientID string) {
	t.Helper()
	for _, r := range denials {
		if r.Reason != "key_deleted" || r.ClientID != clientID || r.Actor.Type != "client" || r.Actor.ID != clientID || r.Actor.IP != "127.0.0.1" {
			t.Errorf("token.denied record = %+v, want reason key_deleted by the client %s from 127.0.0.1", r, clientID)
		}
	}
}

// checkSameResponse fails the test unless a and b have the same status, headers and body.
// The request ID differs by design, in X-Request-Id and wherever the body repeats it, and so
// may Date, which changes with the clock.
func checkSameResponse(t *testing.T, a, b response) {
	t.Helper()
	if a.status != b.status {
		t.Errorf("status %d, want %d as for an unknown client ID", a.status, b.status)
	}
	headerA, headerB := a.header.Clone(), b.header.Clone()
	bodyA, bodyB := a.body, b.body
	for _, h := range []http.Header{headerA, headerB} {
		if h.Get("X-Request-Id") == "" {
			t.Error("response has no X-Request-Id")
		}
	}
	if id := headerA.Get("X-Request-Id"); id != "" {
		bodyA = bytes.ReplaceAll(bodyA, []byte(id), []byte("REQUEST-ID"))
	}
	if id := headerB.Get("X-Request-Id"); id != "" {
		bodyB = bytes.ReplaceAll(bodyB, []byte(id), []byte("REQUEST-ID"))
	}
	for _, h := range []http.Header{headerA, headerB} {
		h.Del("X-Request-Id")
		h.Del("Date")
	}
	if diff := cmp.Diff(headerB, headerA); diff != "" {
		t.Errorf("headers differ from those for an unknown client ID (-unknown +deleted):\n%s", diff)
	}
	if !bytes.Equal(bodyA, bodyB) {
		t.Errorf("body %q differs from the body for an unknown client ID %q", bodyA, bodyB)
	}
}
