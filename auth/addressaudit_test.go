package auth

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// TestRecordAddressUnblocked records a block and its lifting for an existing key and an
// unknown client ID. The key's account gets an address.blocked and an address.unblocked
// record. The second has the operator as its actor and the address and the block's end as
// its details. The unknown client ID gets no record.
func TestRecordAddressUnblocked(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, _ := e.createKey(t)
	unknown := "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"
	until := e.clock.now().Add(time.Hour).UTC().Truncate(time.Second)

	e.svc.RecordAddressBlocked("192.0.2.66/32", []string{k.ClientID, unknown}, 30, until)
	e.svc.RecordAddressUnblocked("192.0.2.66/32", []string{k.ClientID, unknown}, "alice", until)
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e.svc.audit.flush(flushCtx)

	var got []*iogate.AuditRecord
	err := e.store.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
		if r.Event == iogate.AuditAddressBlocked || r.Event == iogate.AuditAddressUnblocked {
			got = append(got, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("address records = %d, want an address.blocked and an address.unblocked record for the existing key", len(got))
	}
	unblocked := got[1]
	if unblocked.Event != iogate.AuditAddressUnblocked || unblocked.AccountID != e.accountID || unblocked.ClientID != k.ClientID {
		t.Errorf("second record: %s in account %s for client %s, want %s in %s for %s",
			unblocked.Event, unblocked.AccountID, unblocked.ClientID, iogate.AuditAddressUnblocked, e.accountID, k.ClientID)
	}
	if want := (iogate.Actor{Type: iogate.ActorOperator, ID: "alice"}); unblocked.Actor != want {
		t.Errorf("address.unblocked actor = %+v, want %+v", unblocked.Actor, want)
	}
	var details map[string]any
	if err := json.Unmarshal(unblocked.Details, &details); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"address": "192.0.2.66/32", "blockedUntil": until.Format(time.RFC3339)}
	if diff := cmp.Diff(want, details); diff != "" {
		t.Errorf("address.unblocked details (-want +got):\n%s", diff)
	}
}

// TestAddressBlockRecordsWait checks that a block's address.blocked records wait with the
// denials rather than commit with the next token. Every client ID of the block queues a
// denial, the unknown one too, so the triggering request costs the same either way.
func TestAddressBlockRecordsWait(t *testing.T) {
	e := newTestEngine(t)
	e.holdDenials()
	k, secret := e.createKey(t)
	unknown := "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"

	e.svc.RecordAddressBlocked("192.0.2.66/32", []string{k.ClientID, unknown}, 30, e.clock.now().Add(time.Hour))
	e.svc.audit.mu.Lock()
	queued := len(e.svc.audit.denials)
	e.svc.audit.mu.Unlock()
	if queued != 2 {
		t.Errorf("queued denials = %d after a block naming two client IDs, want 2", queued)
	}
	e.issue(t, k.ClientID, secret)
	if n := e.countEvents(t, iogate.AuditAddressBlocked); n != 0 {
		t.Errorf("address.blocked records = %d before their wait passed, want 0", n)
	}
	e.svc.audit.flush(context.Background())
	if n := e.countEvents(t, iogate.AuditAddressBlocked); n != 1 {
		t.Errorf("address.blocked records = %d after flush, want 1", n)
	}
}

// TestAddressRecordSameWork checks that queuing an address record allocates as much for a
// client ID that exists as for one that does not. The writer builds the record, so the
// request that triggers a block does no more work when it named an existing key.
func TestAddressRecordSameWork(t *testing.T) {
	e := newTestEngine(t)
	e.holdDenials()
	k, _ := e.createKey(t)
	unknown := []string{"6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"}
	known := []string{k.ClientID}
	actor := iogate.Actor{Type: iogate.ActorSystem, IP: "192.0.2.66/32"}
	details := map[string]any{"address": "192.0.2.66/32", "failures": 30}

	// The first call of each kind starts the denial timer and grows the queue.
	e.svc.recordAddressEvent(iogate.AuditAddressBlocked, actor, known, details)
	e.svc.recordAddressEvent(iogate.AuditAddressBlocked, actor, unknown, details)
	knownAllocs := testing.AllocsPerRun(100, func() {
		e.svc.recordAddressEvent(iogate.AuditAddressBlocked, actor, known, details)
	})
	unknownAllocs := testing.AllocsPerRun(100, func() {
		e.svc.recordAddressEvent(iogate.AuditAddressBlocked, actor, unknown, details)
	})
	if knownAllocs != unknownAllocs {
		t.Errorf("allocations per address record = %v for an existing client ID and %v for an unknown one, want equal", knownAllocs, unknownAllocs)
	}
}
