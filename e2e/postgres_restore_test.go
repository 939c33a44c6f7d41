package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
)

// TestPostgresRestoreWhileNodeRuns restores an older pg_dump of the database under a
// running node. The restore rewinds the key change numbers, so the node must notice it and
// reload every key. Within two seconds a key created after the backup stops working, while
// a key from the backup keeps working, and a key created after the restore works.
func TestPostgresRestoreWhileNodeRuns(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	node := d.startNode(t, "a")
	accountID := d.createAccount(t)
	backedUp := d.createKey(t, accountID, "backed-up")
	waitForKey(t, node, backedUp.ClientID, backedUp.ClientSecret)
	dump := pgtest.Dump(t, d.dbURL)

	// Two keys after the backup, so that the restored numbers stay below the node's.
	d.createKey(t, accountID, "removed-1")
	removed := d.createKey(t, accountID, "removed-2")
	waitForKey(t, node, removed.ClientID, removed.ClientSecret)
	tok := accessToken(t, node, removed.ClientID, removed.ClientSecret)

	pgtest.Restore(t, d.dbURL, dump)
	took := waitStatus(t, "a token of a key created after the backup, once the backup is restored", http.StatusUnauthorized, 2*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	t.Logf("the node rejected the token of a key missing from the restored database %s after pg_restore returned", took.Round(time.Millisecond))
	waitLog(t, node, "the store's key changes end before the last one this node applied")
	if got := status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(removed.ClientID, removed.ClientSecret)); got != http.StatusUnauthorized {
		t.Errorf("token request of a key created after the backup, after the restore: status %d, want 401", got)
	}
	if got := status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(backedUp.ClientID, backedUp.ClientSecret)); got != http.StatusOK {
		t.Errorf("token request of a key in the backup, after the restore: status %d, want 200", got)
	}

	// The next key change gets a number that the node passed before the restore.
	fresh := d.createKey(t, accountID, "after-restore")
	waitForKey(t, node, fresh.ClientID, fresh.ClientSecret)
}
