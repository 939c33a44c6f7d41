package e2e

import (
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// TestPostgresNodeRoleRevocationAfterRestart revokes a token on one of two nodes that run
// under the node role, then restarts both. Each restart loads every key again and sweeps
// expired revocations, which nodes now do instead of the revocation itself, so the check
// is that no restart brings the revoked token back and that no node logs an error.
func TestPostgresNodeRoleRevocationAfterRestart(t *testing.T) {
	node, owner := newPGNodeRoleDeployment(t)

	a := node.startNode(t, "a")
	b := node.startNode(t, "b")
	accountID := node.createAccount(t)
	k := node.createKey(t, accountID, "revoked")
	waitForKey(t, a, k.ClientID, k.ClientSecret)
	waitForKey(t, b, k.ClientID, k.ClientSecret)
	tok := oauthToken(t, a, k.ClientID, k.ClientSecret, "")

	r := send(t, a.Client, "POST", a.URL+"/oauth2/revoke", formHeader(k.ClientID, k.ClientSecret), tokenForm(tok))
	if r.status != 200 {
		t.Fatalf("revoke on node a: status %d, want 200", r.status)
	}
	waitStatus(t, "the revoked token on node b", 401, time.Second, func() int {
		return status(b.Client, "GET", b.URL+"/v1/vaults", bearerHeader(tok), "")
	})

	servers := map[string]*testenv.Server{"a": a, "b": b}
	for _, name := range []string{"b", "a"} {
		if err := servers[name].Stop(); err != nil {
			t.Fatalf("stop node %s: %v", name, err)
		}
		restarted := testenv.Start(t, servers[name].DataDir, testenv.Options{Env: node.env()})
		servers[name] = restarted
		waitForKey(t, restarted, k.ClientID, k.ClientSecret)
		for _, other := range servers {
			if got := status(other.Client, "GET", other.URL+"/v1/vaults", bearerHeader(tok), ""); got != 401 {
				t.Errorf("the revoked token on %s after node %s restarted: status %d, want 401", other.URL, name, got)
			}
		}
	}
	if n := pgtest.QueryInt(t, owner.dbURL, `SELECT COUNT(*) FROM revoked_tokens`); n != 1 {
		t.Errorf("revocations stored after both restarts: %d, want 1", n)
	}
	for name, srv := range servers {
		for _, rec := range logRecords(srv.SyncedLogs(t)) {
			if rec.str("level") == "ERROR" {
				t.Errorf("node %s logged %q with error %q", name, rec.str("msg"), rec.str("error"))
			}
		}
	}
}
