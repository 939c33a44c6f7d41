package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestDeletedKeyTokenDoesNotBlockAddress deletes key A while a client behind a shared
// address still sends A's token. With the default limits, 35 such requests get 401 each
// and neither slow down nor block the address, so key B's client behind the same address
// still gets and uses a token.
func TestDeletedKeyTokenDoesNotBlockAddress(t *testing.T) {
	srv, _, keys := preparedServer(t, 2)
	a, b := keys[0], keys[1]
	shared := clientFrom(t, srv, "127.0.0.3")

	r := tokenRequest(t, shared, srv, nil, a.ClientID, a.ClientSecret)
	if r.status != http.StatusOK {
		t.Fatalf("token for key A from 127.0.0.3: status %d, want 200", r.status)
	}
	tokA, _ := r.json(t)["accessToken"].(string)
	testenv.CLIJSON(t, srv.DataDir, nil, "key", "delete", a.ClientID)
	waitForRejectedToken(t, srv, tokA)

	bearerA := map[string]string{"Authorization": "Bearer " + tokA}
	for i := range 35 {
		if r := do(t, shared, "GET", srv.URL+"/v1/vaults", bearerA, ""); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d with the deleted key's token: status %d, want 401", i+1, r.status)
		}
	}

	r = tokenRequest(t, shared, srv, nil, b.ClientID, b.ClientSecret)
	if r.status != http.StatusOK {
		t.Fatalf("token for key B from 127.0.0.3 after A's stale requests: status %d, want 200", r.status)
	}
	tokB, _ := r.json(t)["accessToken"].(string)
	if r := do(t, shared, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + tokB}, ""); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults with B's token from 127.0.0.3: status %d, want 200", r.status)
	}
	logs := srv.SyncedLogs(t)
	for _, line := range []string{"address slowed down after repeated failed authentication", "address blocked after repeated failed authentication"} {
		if strings.Contains(logs, line) {
			t.Errorf("the log has %q for requests with an outdated token", line)
		}
	}

	// A made-up token from the same address still counts. Past the slowdown threshold of
	// 10, the address must wait, and the server logs the slowdown once.
	forged := map[string]string{"Authorization": "Bearer not.a.token"}
	for i := range 11 {
		if r := do(t, shared, "GET", srv.URL+"/v1/vaults", forged, ""); r.status != http.StatusUnauthorized {
			t.Fatalf("made-up token %d: status %d, want 401", i+1, r.status)
		}
	}
	if r := do(t, shared, "GET", srv.URL+"/v1/vaults", forged, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("made-up token after 11 failures: status %d, want 429", r.status)
	}
	if n := strings.Count(srv.SyncedLogs(t), "address slowed down after repeated failed authentication"); n != 1 {
		t.Errorf("slowdown log lines = %d, want 1", n)
	}
}

// TestRetiredSecretDoesNotBlockAddress rotates a key without grace while its client
// still sends the old secret. 35 requests with it get 401 each and leave the address
// usable, and each is a token.denied record with reason secret_retired. The per-client
// rate limit is off, so that only the failure count could refuse the requests.
func TestRetiredSecretDoesNotBlockAddress(t *testing.T) {
	// The key is rotated before the server starts, so that no request waits for the
	// change feed and leaves a denial of its own.
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	k := createKey(t, dir, account, "rotated")
	var rotated createdKey
	testenv.CLIJSON(t, dir, &rotated, "key", "rotate", k.ClientID, "--grace", "0")
	if rotated.ClientSecret == "" {
		t.Fatal("key rotate returned no clientSecret")
	}
	srv := testenv.Start(t, dir, testenv.Options{ProductionLimits: true, Args: []string{"--rate-limit-token-per-client", "0"}})
	shared := clientFrom(t, srv, "127.0.0.4")

	for i := range 35 {
		if r := tokenRequest(t, shared, srv, nil, k.ClientID, k.ClientSecret); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d with the retired secret: status %d, want 401", i+1, r.status)
		}
	}
	if r := tokenRequest(t, shared, srv, nil, k.ClientID, rotated.ClientSecret); r.status != http.StatusOK {
		t.Errorf("token with the new secret from 127.0.0.4: status %d, want 200", r.status)
	}

	denials := waitForReason(t, srv.DataDir, account, "secret_retired", 35)
	for _, d := range denials {
		if d.ClientID != k.ClientID || d.Actor.IP != "127.0.0.4" {
			t.Errorf("token.denied record = %+v, want one for client %s from 127.0.0.4", d, k.ClientID)
			break
		}
	}
	if other := auditList(t, srv.DataDir, account, "--event", "token.denied"); len(other) != 35 {
		t.Errorf("token.denied records = %d, want only the 35 with reason secret_retired", len(other))
	}
}

// waitForReason polls the account's token.denied records until n have reason, and
// returns those.
func waitForReason(t *testing.T, dir, accountID, reason string, n int) []auditRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var matched []auditRecord
		for _, r := range auditList(t, dir, accountID, "--event", "token.denied") {
			if r.Reason == reason {
				matched = append(matched, r)
			}
		}
		if len(matched) >= n {
			return matched
		}
		if time.Now().After(deadline) {
			t.Fatalf("token.denied records with reason %s after 5s = %d, want %d", reason, len(matched), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
