package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestDenialQueueBound checks that a full queue drops further denials and counts as
// dropped records only those of a known account, because the others are never written.
func TestDenialQueueBound(t *testing.T) {
	// A committer marked as running starts no writer, so the queue only fills.
	c := &auditCommitter{running: true}
	remote := netip.MustParseAddr("192.0.2.1")
	for range maxAuditPending {
		c.deny(denial{clientID: "unknown", reason: "key_deleted", remote: remote, at: time.Now()})
	}
	c.deny(denial{clientID: "unknown", reason: "key_deleted", remote: remote, at: time.Now()})
	if c.dropped != 0 {
		t.Errorf("dropped = %d after a denial of an unknown client ID hit the full queue, want 0", c.dropped)
	}
	c.deny(denial{accountID: "account", clientID: "known", reason: "invalid_secret", remote: remote, at: time.Now()})
	if c.dropped != 1 {
		t.Errorf("dropped = %d after a denial of a known client ID hit the full queue, want 1", c.dropped)
	}
	if len(c.denials) != maxAuditPending {
		t.Errorf("queue holds %d denials, want the bound %d", len(c.denials), maxAuditPending)
	}
}

// holdDenials makes the engine's queued denials wait an hour, so that only a flush writes
// them.
func (e *testEngine) holdDenials() {
	e.svc.audit.mu.Lock()
	e.svc.audit.denialDelay = time.Hour
	e.svc.audit.mu.Unlock()
}

// countEvents returns how many records of event the engine's account holds.
func (e *testEngine) countEvents(t *testing.T, event string) int {
	t.Helper()
	n := 0
	err := e.store.AuditRecords(context.Background(), e.accountID, func(r *iogate.AuditRecord) error {
		if r.Event == event {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDenialsWaitForTheirTimer checks that a denied token request's record is not written
// with the records that commit right after it, such as a token's, but once its wait has
// passed, or at once when the queue is flushed.
func TestDenialsWaitForTheirTimer(t *testing.T) {
	e := newTestEngine(t)
	e.holdDenials()
	k, secret := e.createKey(t)
	if _, err := e.svc.IssueToken(context.Background(), TokenRequest{ClientID: k.ClientID, ClientSecret: mistype(secret),
		RemoteAddr: netip.MustParseAddr("192.0.2.1")}); err == nil {
		t.Fatal("IssueToken with a wrong secret succeeded")
	}
	e.issue(t, k.ClientID, secret)

	if n := e.countEvents(t, iogate.AuditTokenIssued); n != 1 {
		t.Fatalf("token.issued records = %d, want 1", n)
	}
	if n := e.countEvents(t, iogate.AuditTokenDenied); n != 0 {
		t.Errorf("token.denied records = %d before the denial's wait passed, want 0", n)
	}
	e.svc.audit.flush(context.Background())
	if n := e.countEvents(t, iogate.AuditTokenDenied); n != 1 {
		t.Errorf("token.denied records = %d after flush, want 1", n)
	}
}

// TestDenialWrittenAfterDelay checks that a denial's record is written without a flush
// once denialDelay and its spread have passed.
func TestDenialWrittenAfterDelay(t *testing.T) {
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	if _, err := e.svc.IssueToken(context.Background(), TokenRequest{ClientID: k.ClientID, ClientSecret: mistype(secret),
		RemoteAddr: netip.MustParseAddr("192.0.2.1")}); err == nil {
		t.Fatal("IssueToken with a wrong secret succeeded")
	}
	deadline := time.Now().Add(2*denialDelay + 5*time.Second)
	for e.countEvents(t, iogate.AuditTokenDenied) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no token.denied record within %s", 2*denialDelay+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDenialBeforeKeyPrunedVerifies checks that VerifyAudit passes after retention prunes
// up to a denial record that the writer appended after a key.created record, although the
// denied request came first.
func TestDenialBeforeKeyPrunedVerifies(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	e.holdDenials()
	k, secret := e.createKey(t)

	// The denial is queued with the time of the request, and the key created 10 ms later
	// commits its record first.
	e.clock.advance(time.Minute)
	if _, err := e.svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: mistype(secret),
		RemoteAddr: netip.MustParseAddr("192.0.2.1")}); err == nil {
		t.Fatal("IssueToken with a wrong secret succeeded")
	}
	e.clock.advance(10 * time.Millisecond)
	e.createKey(t)
	e.svc.audit.flush(ctx)

	// A later record keeps the denial from being the newest record, which is never pruned.
	e.clock.advance(24 * time.Hour)
	e.createKey(t)
	e.clock.advance(time.Hour)
	report, err := e.svc.PruneAudit(ctx, 2*time.Hour)
	if err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	// The account.created record and the first two key.created records go. The denial
	// stays, because pruning it would move the checkpoint's time before the second key.
	if report.Records != 3 {
		t.Errorf("PruneAudit pruned %d records, want 3", report.Records)
	}
	if _, err := e.svc.VerifyAudit(ctx, e.accountID); err != nil {
		t.Errorf("VerifyAudit after pruning: %v", err)
	}
}
