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
	e.svc.audit.mu.Lock()
	e.svc.audit.denialDelay = time.Hour
	e.svc.audit.mu.Unlock()
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
