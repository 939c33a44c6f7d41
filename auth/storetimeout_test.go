package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// countEvents returns how many of recs record event.
func countEvents(recs []*iogate.AuditRecord, event string) int {
	n := 0
	for _, r := range recs {
		if r.Event == event {
			n++
		}
	}
	return n
}

// holdUntilReleased makes the harness's audit appends wait, whatever their context, until
// the returned release is called, as a driver stuck in a system call on a database that
// stopped responding does. Each append that starts waiting sends on entered, if it has
// room. Release also runs when the test ends.
func (h *harness) holdUntilReleased(t *testing.T) (entered <-chan struct{}, release func()) {
	t.Helper()
	started := make(chan struct{}, 1)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	hold := func(context.Context) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
	}
	h.store.holdAppends.Store(&hold)
	return started, release
}

// within runs fn, the call named call, and returns its error, or fails the test when fn
// has not returned after 10s, far beyond the store timeouts of these tests.
func within(t *testing.T, call string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s has not returned after 10s", call)
		return nil
	}
}

// checkStoreTimeoutError checks that err, the error of call, is that of a wait for the
// store that timed out after timeout.
func checkStoreTimeoutError(t *testing.T, call string, err error, timeout time.Duration) {
	t.Helper()
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeUnavailable {
		t.Errorf("%s: error code %q (%v), want unavailable", call, code, err)
	}
	want := "the database did not respond within " + iogate.FormatDuration(timeout) + "; retry later"
	if msg := iogate.ErrorMessageOf(err); msg != want {
		t.Errorf("%s: message %q, want %q", call, msg, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s: errors.Is(%v, context.DeadlineExceeded) = false, want true", call, err)
	}
}

// TestIssueTokenStoreHang checks that token requests waiting on an audit transaction that
// hangs, even in a driver that ignores its context, return 503 after the store timeout.
// The record of a request still queued then is withdrawn and never reaches the store.
func TestIssueTokenStoreHang(t *testing.T) {
	const timeout = time.Second
	h := newHarnessWithConfig(t, Config{StoreTimeout: timeout})
	k, secret := h.createKey(t)
	issuedBefore := countEvents(h.records(t), iogate.AuditTokenIssued)
	appendsBefore, recordsBefore := h.store.appends.Load(), h.store.records.Load()
	entered, release := h.holdUntilReleased(t)

	// The first request's record goes into a transaction that hangs.
	first := make(chan error, 1)
	go func() { first <- h.issueErr(k.ClientID, secret, loopback1) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the audit writer did not start the first request's transaction within 10s")
	}
	// The second request's record queues behind it.
	err := within(t, "IssueToken queued behind a hanging transaction", func() error { return h.issueErr(k.ClientID, secret, loopback1) })
	checkStoreTimeoutError(t, "IssueToken queued behind a hanging transaction", err, timeout)
	err = within(t, "IssueToken in a hanging transaction", func() error { return <-first })
	checkStoreTimeoutError(t, "IssueToken in a hanging transaction", err, timeout)

	// Once the database responds, the hung transaction commits, or fails if its own bound
	// has passed. No transaction follows for the withdrawn record.
	h.store.holdAppends.Store(nil)
	release()
	h.flushAudit()
	if n := h.store.appends.Load() - appendsBefore; n != 1 {
		t.Errorf("audit transactions after the hang = %d, want 1: the withdrawn record must not reach the store", n)
	}
	if n := h.store.records.Load() - recordsBefore; n != 1 {
		t.Errorf("audit records passed to the store after the hang = %d, want 1", n)
	}
	// The log may show the first request's token, which no client received, but not the
	// second one's.
	undelivered := countEvents(h.records(t), iogate.AuditTokenIssued) - issuedBefore
	if undelivered > 1 {
		t.Errorf("token.issued records of the two failed requests = %d, want at most 1", undelivered)
	}

	h.issue(t, k.ClientID, secret, loopback1)
	if n := countEvents(h.records(t), iogate.AuditTokenIssued) - issuedBefore - undelivered; n != 1 {
		t.Errorf("token.issued records of one issuance that succeeded = %d, want 1", n)
	}
}

// TestAuditTransactionStoreTimeout checks that an audit transaction on a database that
// stopped responding ends at the store timeout. The writer is then free for the next
// records once the database responds, instead of hanging for the 30s that bounded a
// transaction before.
func TestAuditTransactionStoreTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := newHarnessWithConfig(t, Config{StoreTimeout: timeout})
	k, secret := h.createKey(t)
	issuedBefore := countEvents(h.records(t), iogate.AuditTokenIssued)
	// A driver that honours its context, as pgx does.
	hold := func(ctx context.Context) { <-ctx.Done() }
	h.store.holdAppends.Store(&hold)

	err := within(t, "IssueToken in a hanging transaction", func() error { return h.issueErr(k.ClientID, secret, loopback1) })
	checkStoreTimeoutError(t, "IssueToken in a hanging transaction", err, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.svc.audit.flush(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the hanging audit transaction still runs after 5s, want it ended after the store timeout %s", timeout)
	}

	h.store.holdAppends.Store(nil)
	h.issue(t, k.ClientID, secret, loopback1)
	if n := countEvents(h.records(t), iogate.AuditTokenIssued) - issuedBefore; n != 1 {
		t.Errorf("token.issued records = %d, want only the one of the issuance that succeeded", n)
	}
}

// TestRecordEventStoreTimeout checks that RecordEvent returns 503 once the store timeout
// passes, and that its record, which describes something that happened whether or not the
// caller waited, is still written once the database responds.
func TestRecordEventStoreTimeout(t *testing.T) {
	const timeout = time.Second
	h := newHarnessWithConfig(t, Config{StoreTimeout: timeout})
	entered, release := h.holdUntilReleased(t)
	actor := iogate.WithActor(context.Background(), iogate.Actor{Type: iogate.ActorUser, ID: iogate.NewID(), IP: "192.0.2.1"})

	// A first record holds the writer in a hanging transaction.
	first := make(chan error, 1)
	go func() { first <- h.svc.RecordEvent(actor, h.account, iogate.AuditUserSignedIn, nil) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the audit writer did not start the first record's transaction within 10s")
	}
	err := within(t, "RecordEvent queued behind a hanging transaction", func() error {
		ctx, cancel := h.svc.WithStoreTimeout(actor)
		defer cancel()
		return h.svc.RecordEvent(ctx, h.account, iogate.AuditUserSignedOut, nil)
	})
	checkStoreTimeoutError(t, "RecordEvent queued behind a hanging transaction", err, timeout)

	h.store.holdAppends.Store(nil)
	release()
	within(t, "RecordEvent in the released transaction", func() error { return <-first })
	if n := countEvents(h.records(t), iogate.AuditUserSignedOut); n != 1 {
		t.Errorf("user.signed_out records after the database responded = %d, want 1", n)
	}
}
