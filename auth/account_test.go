package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/iogate/iogate"
)

// statusRecords returns the events of the harness account's account.suspended and
// account.resumed records, oldest first.
func (h *harness) statusRecords(t *testing.T) []string {
	t.Helper()
	var events []string
	for _, r := range h.records(t) {
		if r.Event == iogate.AuditAccountSuspended || r.Event == iogate.AuditAccountResumed {
			events = append(events, r.Event)
		}
	}
	return events
}

// accountStatus returns the stored status of the harness account.
func (h *harness) accountStatus(t *testing.T) string {
	t.Helper()
	a, err := h.store.FindAccountByID(h.ctx, h.account)
	if err != nil {
		t.Fatal(err)
	}
	return a.Status
}

// TestAccountStatusCommitsWithRecord checks that suspending and resuming an account commit
// with their audit records. The separate audit append fails throughout, as a crash right
// after the status change would make it, so a record written in a transaction of its own
// would be lost while the status changed.
func TestAccountStatusCommitsWithRecord(t *testing.T) {
	h := newHarness(t)
	h.store.failAppends.Store(true)

	steps := []struct {
		name   string
		change func() error
		status string
		events []string
	}{
		{"suspend", func() error { return h.svc.SuspendAccount(h.ctx, h.account) }, iogate.AccountSuspended,
			[]string{iogate.AuditAccountSuspended}},
		{"resume", func() error { return h.svc.ResumeAccount(h.ctx, h.account) }, iogate.AccountActive,
			[]string{iogate.AuditAccountSuspended, iogate.AuditAccountResumed}},
	}
	for _, step := range steps {
		if err := step.change(); err != nil {
			t.Errorf("%s: %v", step.name, err)
		}
		if got := h.accountStatus(t); got != step.status {
			t.Errorf("status after %s = %s, want %s", step.name, got, step.status)
		}
		if got := h.statusRecords(t); !slices.Equal(got, step.events) {
			t.Errorf("status records after %s = %v, want %v", step.name, got, step.events)
		}
	}
}

// TestAccountStatusFailureWritesNoRecord checks that a status change that fails, here of
// an account that does not exist, writes no record to any account's log.
func TestAccountStatusFailureWritesNoRecord(t *testing.T) {
	h := newHarness(t)
	before := len(h.records(t))
	missing := iogate.NewID()
	if err := h.svc.SuspendAccount(h.ctx, missing); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("SuspendAccount of an unknown account: %v, want %s", err, iogate.CodeNotFound)
	}
	if err := h.svc.ResumeAccount(h.ctx, missing); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("ResumeAccount of an unknown account: %v, want %s", err, iogate.CodeNotFound)
	}
	if after := len(h.records(t)); after != before {
		t.Errorf("records of the harness account went from %d to %d after failed status changes", before, after)
	}
	var others int
	err := h.store.AuditRecords(h.ctx, missing, func(*iogate.AuditRecord) error { others++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if others != 0 {
		t.Errorf("the unknown account has %d audit records, want 0", others)
	}
}

// TestSuspendAccountSyncFailure checks that a suspension that committed succeeds even when
// reading it back into the view fails, and that this process refuses the account's tokens
// at once.
func TestSuspendAccountSyncFailure(t *testing.T) {
	ctx := context.Background()
	e, store, k, secret, _ := newClosingEngine(t, "SetAccountStatus")
	tok := e.issue(t, k.ClientID, secret)
	from := netip.MustParseAddr("192.0.2.9")

	if err := e.svc.SuspendAccount(ctx, e.accountID); err != nil {
		t.Fatalf("SuspendAccount with Sync failing after the commit = %v, want nil", err)
	}
	if store.closeErr != nil {
		t.Fatalf("closing the store after the status change: %v", store.closeErr)
	}
	if _, err := e.svc.Authenticate(ctx, tok, from); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of a token of the suspended account = %v, want ErrInvalidToken", err)
	}
	if !e.svc.health.owed() {
		t.Error("no key reload owed after the failed Sync")
	}
}
