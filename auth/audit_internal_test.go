package auth

import (
	"net/netip"
	"testing"
	"time"
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
