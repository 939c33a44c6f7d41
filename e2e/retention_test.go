package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestAuditRetention starts a server with a retention of 2s over records older than that:
// it must prune them at start, keep each account's newest record and leave a chain that
// verifies from the signed checkpoint. Editing the checkpoint must break verification,
// and deleting a record the checkpoint does not cover must be refused.
func TestAuditRetention(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	for range 3 {
		accessToken(t, f.srv, f.clientID, f.clientSecret)
	}
	f.srv.Stop()
	before := auditList(t, dir, f.accountID)
	time.Sleep(2100 * time.Millisecond)
	recent := createKey(t, dir, f.accountID, "recent")

	srv := testenv.Start(t, dir, testenv.Options{HTTPListen: "-", Args: []string{"--audit-retention", "2s"}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.Logs(), "audit records pruned") {
		if time.Now().After(deadline) {
			t.Fatalf("no pruning logged within 10s; log:\n%s", srv.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}

	after := auditList(t, dir, f.accountID)
	if len(after) != 1 || after[0].ClientID != recent.ClientID || after[0].Event != "key.created" {
		t.Fatalf("records after pruning = %+v, want only the key.created record of the recent key", after)
	}
	if after[0].Seq != int64(len(before)+1) {
		t.Errorf("kept record has seq %d, want %d: pruning must not renumber", after[0].Seq, len(before)+1)
	}
	if res := testenv.RunCLI(t, dir, nil, "audit", "verify"); res.ExitCode != 0 {
		t.Fatalf("audit verify after pruning: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	// The chain continues across the checkpoint.
	accessToken(t, srv, recent.ClientID, recent.ClientSecret)
	if res := testenv.RunCLI(t, dir, nil, "audit", "verify"); res.ExitCode != 0 {
		t.Fatalf("audit verify after a new record: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	srv.Stop()

	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_records WHERE account_id = ? AND seq = ?`, f.accountID, after[0].Seq); err == nil {
		t.Error("DELETE of a record that no checkpoint covers succeeded")
	}
	if _, err := db.ExecContext(ctx, `UPDATE audit_checkpoints SET seq = seq - 1 WHERE account_id = ?`, f.accountID); err != nil {
		t.Fatal(err)
	}
	res := testenv.RunCLI(t, dir, nil, "audit", "verify")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "checkpoint") {
		t.Errorf("audit verify after editing the checkpoint: exit %d, stderr %q; want a failure naming the checkpoint", res.ExitCode, res.Stderr)
	}
}
