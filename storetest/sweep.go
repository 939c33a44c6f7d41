package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// newSession stores a signed-in session of u with the ID hash of name, last seen at
// lastSeen and expiring at expires.
func newSession(t *testing.T, s iogate.Store, u *iogate.User, name string, lastSeen, expires time.Time) *iogate.Session {
	t.Helper()
	sess := &iogate.Session{IDHash: digest(name), UserID: u.ID, AccountID: u.AccountID, Stage: iogate.SessionSignedIn,
		CreatedAt: base, LastSeenAt: lastSeen, ExpiresAt: expires, ConfirmedAt: base}
	must(t, "CreateSession "+name, s.CreateSession(ctxFor(t), sess))
	return sess
}

// sessionExists reports whether FindSession finds the session, failing on other errors.
func sessionExists(t *testing.T, s iogate.Store, sess *iogate.Session) bool {
	t.Helper()
	_, err := s.FindSession(ctxFor(t), sess.IDHash)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return false
	}
	must(t, "FindSession", err)
	return true
}

func testDeleteEndedSessions(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	now := base.Add(24 * time.Hour)
	idleSince := now.Add(-30 * time.Minute)
	live := newSession(t, s, u, "live", now.Add(-time.Minute), now.Add(time.Hour))
	// The bounds match user.Service.Authenticate: a session ends when now reaches its
	// expiry, or when the idle timeout has passed since it was last seen.
	almostExpired := newSession(t, s, u, "expires in 1µs", now, now.Add(time.Microsecond))
	almostIdle := newSession(t, s, u, "idle for 1µs less", idleSince.Add(time.Microsecond), now.Add(time.Hour))
	expired := newSession(t, s, u, "expires now", now, now)
	idle := newSession(t, s, u, "idle since idleSince", idleSince, now.Add(time.Hour))
	both := newSession(t, s, u, "expired and idle", base, base.Add(time.Hour))

	n, err := s.DeleteEndedSessions(ctx, now, idleSince, 0)
	must(t, "DeleteEndedSessions with limit 0", err)
	if n != 0 {
		t.Errorf("DeleteEndedSessions with limit 0 deleted %d sessions, want 0", n)
	}
	wantBatches(t, "DeleteEndedSessions", func(limit int) (int, error) { return s.DeleteEndedSessions(ctx, now, idleSince, limit) },
		[]int{2, 2, 2}, []int{2, 1, 0})

	for _, sess := range []*iogate.Session{expired, idle, both} {
		if sessionExists(t, s, sess) {
			t.Errorf("ended session last seen %s, expiring %s, was not deleted", sess.LastSeenAt, sess.ExpiresAt)
		}
	}
	for _, sess := range []*iogate.Session{live, almostExpired, almostIdle} {
		if !sessionExists(t, s, sess) {
			t.Errorf("live session last seen %s, expiring %s, was deleted", sess.LastSeenAt, sess.ExpiresAt)
		}
	}
}

// testDeleteEndedSessionsConcurrently runs two sweeps at once, as two nodes on one
// database do: each ended session is deleted once, live ones stay, and neither fails.
func testDeleteEndedSessionsConcurrently(t *testing.T, s iogate.Store) {
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	now := base.Add(24 * time.Hour)
	const ended = 120
	for i := range ended {
		newSession(t, s, u, fmt.Sprintf("ended-%d", i), base, now.Add(-time.Second))
	}
	live := newSession(t, s, u, "live", now, now.Add(time.Hour))

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	errs := make([]error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each batch deletes at least one session until none is left, so 2*ended
			// batches bound the loop.
			for range 2 * ended {
				n, err := s.DeleteEndedSessions(ctxFor(t), now, now.Add(-time.Hour), 7)
				if err != nil {
					errs[w] = err
					return
				}
				if n == 0 {
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for w, err := range errs {
		must(t, fmt.Sprintf("DeleteEndedSessions of sweep %d", w+1), err)
	}
	if total != ended {
		t.Errorf("two concurrent sweeps deleted %d sessions in all, want %d", total, ended)
	}
	if !sessionExists(t, s, live) {
		t.Error("the live session was deleted")
	}
}

func testDeleteSpentUserLinks(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	now := base.Add(2 * time.Hour)
	link := func(name string, expires time.Time) *iogate.UserLink {
		l := &iogate.UserLink{ID: iogate.NewID(), TokenHash: digest(name), Purpose: iogate.LinkInvite, AccountID: a.ID, Email: name + "@acme.test",
			Role: iogate.RoleViewer, CreatedAt: base, ExpiresAt: expires}
		must(t, "CreateUserLink "+name, s.CreateUserLink(ctx, l, record(t, a.ID, iogate.AuditUserInvited, "")))
		return l
	}
	pending := link("pending", now.Add(time.Microsecond))
	expired := link("expired", now)
	used := link("used", now.Add(time.Hour))
	must(t, "AcceptInvite", s.AcceptInvite(ctx, used.TokenHash, base.Add(time.Minute),
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a.ID, iogate.AuditUserCreated, "")))
	// A link both used and expired is one link to delete, not two.
	usedExpired := link("used-expired", now.Add(-time.Hour))
	must(t, "AcceptInvite(used-expired)", s.AcceptInvite(ctx, usedExpired.TokenHash, base.Add(time.Minute),
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a.ID, iogate.AuditUserCreated, "")))
	// A deleted link must get the error that a used link gets before the sweep.
	_, usedErr := s.FindUserLink(ctx, used.TokenHash, iogate.LinkInvite, now)
	wantCode(t, "FindUserLink of a used link", usedErr, iogate.CodeNotFound)

	wantBatches(t, "DeleteSpentUserLinks", func(limit int) (int, error) { return s.DeleteSpentUserLinks(ctx, now, limit) },
		[]int{1, 10, 10}, []int{1, 2, 0})

	if _, err := s.FindUserLink(ctx, pending.TokenHash, iogate.LinkInvite, base); err != nil {
		t.Errorf("the pending link is gone after the sweep: %v", err)
	}
	_, err := s.FindUserLink(ctx, used.TokenHash, iogate.LinkInvite, base)
	wantCode(t, "FindUserLink of a swept used link", err, iogate.CodeNotFound)
	if got, want := iogate.ErrorMessageOf(err), iogate.ErrorMessageOf(usedErr); got != want {
		t.Errorf("FindUserLink of a swept used link: message %q, want %q as before the sweep", got, want)
	}
	again := &iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}
	wantCode(t, "AcceptInvite of a swept used link",
		s.AcceptInvite(ctx, used.TokenHash, base, again, record(t, a.ID, iogate.AuditUserCreated, "")), iogate.CodeNotFound)
	// Before the expiry passed, the swept expired link would have been valid: it must not
	// be now.
	_, err = s.FindUserLink(ctx, expired.TokenHash, iogate.LinkInvite, base)
	wantCode(t, "FindUserLink of a swept expired link", err, iogate.CodeNotFound)
}

func testFormTokenUsedOnce(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	hash := digest("form-token")
	used, err := s.FormTokenUsed(ctx, hash)
	must(t, "FormTokenUsed", err)
	if used {
		t.Error("FormTokenUsed of a new token = true")
	}
	must(t, "UseFormToken", s.UseFormToken(ctx, hash, base, base.Add(time.Hour)))
	if err := s.UseFormToken(ctx, hash, base, base.Add(time.Hour)); !errors.Is(err, iogate.ErrFormTokenUsed) {
		t.Errorf("UseFormToken twice: %v, want ErrFormTokenUsed", err)
	}
	if used, err := s.FormTokenUsed(ctx, hash); err != nil || !used {
		t.Errorf("FormTokenUsed after UseFormToken = %v, %v; want true", used, err)
	}
}

// testFormTokenConcurrentUse uses one token from several goroutines at once, as a double
// click or a reload racing the first post does: exactly one use succeeds.
func testFormTokenConcurrentUse(t *testing.T, s iogate.Store) {
	hash := digest("raced")
	const posts = 8
	var wg sync.WaitGroup
	errs := make([]error, posts)
	for i := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UseFormToken(ctxFor(t), hash, base, base.Add(time.Hour))
		}()
	}
	wg.Wait()
	succeeded := 0
	for i, err := range errs {
		switch iogate.ErrorCodeOf(err) {
		case "":
			succeeded++
		case iogate.CodeConflict:
		default:
			t.Errorf("UseFormToken %d: %v, want success or a conflict", i, err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d of %d concurrent uses of one token succeeded, want 1", succeeded, posts)
	}
}

func testDeleteExpiredFormTokens(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	now := base.Add(time.Hour)
	must(t, "UseFormToken", s.UseFormToken(ctx, digest("expired"), base, now))
	must(t, "UseFormToken", s.UseFormToken(ctx, digest("older"), base, base))
	must(t, "UseFormToken", s.UseFormToken(ctx, digest("kept"), base, now.Add(time.Microsecond)))

	wantBatches(t, "DeleteExpiredFormTokens", func(limit int) (int, error) { return s.DeleteExpiredFormTokens(ctx, now, limit) },
		[]int{1, 10}, []int{1, 1})
	for name, want := range map[string]bool{"expired": false, "older": false, "kept": true} {
		used, err := s.FormTokenUsed(ctx, digest(name))
		must(t, "FormTokenUsed "+name, err)
		if used != want {
			t.Errorf("FormTokenUsed(%s) after the sweep = %v, want %v", name, used, want)
		}
	}
}

// wantBatches calls del once for each limit, in order, and checks that each call deleted
// the number of rows that want gives for it.
func wantBatches(t *testing.T, name string, del func(limit int) (int, error), limits, want []int) {
	t.Helper()
	for i, limit := range limits {
		n, err := del(limit)
		must(t, name, err)
		if n != want[i] {
			t.Errorf("%s batch %d of at most %d deleted %d rows, want %d", name, i+1, limit, n, want[i])
		}
	}
}
