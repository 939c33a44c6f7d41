package user

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/sqlite"
)

// forEachStore runs test on a fresh SQLite database and on a fresh PostgreSQL database
// (skipped without a test cluster). Each call of open returns another handle on the same
// database, as a second node or the CLI has, closed when the test ends.
func forEachStore(t *testing.T, test func(t *testing.T, open func() iogate.Store)) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "iogate.db")
		test(t, func() iogate.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		test(t, func() iogate.Store {
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

func (f *fixture) signIn(t *testing.T, ip string) *Current {
	t.Helper()
	cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, ip)
	if err != nil {
		t.Fatalf("SignIn from %s: %v", ip, err)
	}
	return cur
}

func (f *fixture) sweep(t *testing.T) SweepReport {
	t.Helper()
	report, err := f.svc.Sweep(f.ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return report
}

func TestSweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) {
		f := newFixtureOn(t, open())
		// The fixture used its setup link. A reset link is used below, an invitation stays
		// pending.
		invite, _, err := f.svc.InviteUser(f.ctx, f.owner.AccountID, "new@acme.test", iogate.RoleAdmin)
		if err != nil {
			t.Fatalf("InviteUser: %v", err)
		}
		reset, _, err := f.svc.CreateResetLink(f.ctx, "owner@acme.test")
		if err != nil {
			t.Fatalf("CreateResetLink: %v", err)
		}
		if _, err := f.svc.ResetPassword(f.ctx, reset, ownerPassword, "192.0.2.1"); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		_, usedErr := f.svc.CheckLink(f.ctx, reset, iogate.LinkReset)

		idle := f.signIn(t, "192.0.2.1")
		f.clock.Advance(20 * time.Minute)
		active := f.signIn(t, "192.0.2.2")
		form := f.svc.NewFormToken(active, "create-key")
		if err := f.svc.UseFormToken(f.ctx, active, "create-key", form); err != nil {
			t.Fatalf("UseFormToken: %v", err)
		}
		f.clock.Advance(15 * time.Minute)

		// 35 minutes after sign-in the first session is idle, but only for 5 minutes, less
		// than sweepMargin. The second was used 15 minutes ago.
		got := f.sweep(t)
		if want := (SweepReport{Links: 2}); got != want {
			t.Errorf("first sweep deleted %+v, want %+v: the used setup and reset links", got, want)
		}
		if _, err := f.store.FindSession(f.ctx, hashToken(idle.ID)); err != nil {
			t.Errorf("FindSession of the session idle for less than the margin after the sweep: %v", err)
		}
		if _, err := f.svc.Authenticate(f.ctx, active.ID); err != nil {
			t.Errorf("Authenticate the active session after the sweep: %v", err)
		}
		if _, err := f.svc.CheckLink(f.ctx, invite, iogate.LinkInvite); err != nil {
			t.Errorf("CheckLink of the pending invitation after the sweep: %v", err)
		}
		if _, err := f.svc.CheckLink(f.ctx, reset, iogate.LinkReset); err == nil || err.Error() != usedErr.Error() {
			t.Errorf("CheckLink of the swept reset link: %v, want %v as for a used link", err, usedErr)
		}
		if _, err := f.svc.ResetPassword(f.ctx, reset, "another long password", "192.0.2.1"); !errors.Is(err, errLinkInvalid) {
			t.Errorf("ResetPassword with the swept link: %v, want errLinkInvalid", err)
		}
		if err := f.svc.UseFormToken(f.ctx, active, "create-key", form); !errors.Is(err, ErrFormUsed) {
			t.Errorf("UseFormToken again after the sweep, in a live session: %v, want ErrFormUsed", err)
		}

		// The active session is kept in use until shortly before its absolute expiry. The
		// idle session is deleted once it has been idle for the idle timeout and the margin.
		keepActive := func(until time.Time) {
			t.Helper()
			for f.clock.Now().Before(until) {
				f.clock.Advance(15 * time.Minute)
				if _, err := f.svc.Authenticate(f.ctx, active.ID); err != nil {
					t.Fatalf("Authenticate the active session %s after sign-in: %v", f.clock.Now().Sub(active.Session.CreatedAt), err)
				}
			}
		}
		keepActive(idle.Session.LastSeenAt.Add(30*time.Minute + sweepMargin))
		if got := f.sweep(t); got != (SweepReport{Sessions: 1}) {
			t.Errorf("sweep after the idle session's margin deleted %+v, want the idle session alone", got)
		}
		if _, err := f.store.FindSession(f.ctx, hashToken(idle.ID)); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
			t.Errorf("FindSession of the idle session after the sweep: %v, want not found", err)
		}

		// The active session ends at its absolute expiry, and the sweep deletes it one
		// margin later, with no request that would end it.
		keepActive(active.Session.ExpiresAt.Add(-20 * time.Minute))
		f.clock.Advance(20 * time.Minute)
		if got := f.sweep(t); got != (SweepReport{}) {
			t.Errorf("sweep right after the session's expiry deleted %+v, want nothing within the margin", got)
		}
		f.clock.Advance(sweepMargin)
		if got := f.sweep(t); got != (SweepReport{Sessions: 1}) {
			t.Errorf("sweep after the session's expiry and the margin deleted %+v, want the session alone", got)
		}
		// The form token's record expires formTokenMargin after its session, and the
		// invitation 72 hours after it was sent. Each is deleted a margin later.
		f.clock.Advance(formTokenMargin)
		if got := f.sweep(t); got != (SweepReport{FormTokens: 1}) {
			t.Errorf("sweep after the form token's margin deleted %+v, want its record alone", got)
		}
		f.clock.Advance(InviteLinkTTL)
		if got := f.sweep(t); got != (SweepReport{Links: 1}) {
			t.Errorf("sweep after the invitation expired deleted %+v, want the invitation alone", got)
		}
		if got := f.sweep(t); got != (SweepReport{}) {
			t.Errorf("sweep of a swept store deleted %+v, want nothing", got)
		}
	})
}

// TestSweepDeletesExpiredRevocations checks that the sweep deletes the revocation of a
// token once the token has expired, and keeps the revocation of a token still valid.
func TestSweepDeletesExpiredRevocations(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) {
		f := newFixtureOn(t, open())
		now := f.clock.Now().UTC()
		k := createSweepKey(t, f, now)
		for _, tok := range []*iogate.RevokedToken{
			{TokenID: "jti-short", ClientID: k.ClientID, ExpiresAt: now.Add(10 * time.Minute), RevokedAt: now},
			{TokenID: "jti-long", ClientID: k.ClientID, ExpiresAt: now.Add(24 * time.Hour), RevokedAt: now},
		} {
			rec, err := f.chain.NewRecord(k.AccountID, iogate.AuditTokenRevoked, iogate.Actor{Type: iogate.ActorClient, ID: k.ClientID}, now, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec.ClientID, rec.TokenID = k.ClientID, tok.TokenID
			if err := f.store.RevokeToken(f.ctx, tok, rec); err != nil {
				t.Fatalf("RevokeToken %s: %v", tok.TokenID, err)
			}
		}

		if got := f.sweep(t); got.RevokedTokens != 0 {
			t.Errorf("sweep before any token expired deleted %d revocations, want 0", got.RevokedTokens)
		}
		// A node whose clock runs behind still accepts the short token for a while, so its
		// revocation stays for sweepMargin.
		f.clock.Advance(10 * time.Minute)
		if got := f.sweep(t); got.RevokedTokens != 0 {
			t.Errorf("sweep right after the short token expired deleted %d revocations, want 0 within the margin", got.RevokedTokens)
		}
		f.clock.Advance(sweepMargin)
		if got := f.sweep(t); got.RevokedTokens != 1 {
			t.Errorf("sweep after the short token's expiry and the margin deleted %d revocations, want 1", got.RevokedTokens)
		}
		left, err := f.store.ListRevokedTokens(f.ctx, k.ClientID, time.Time{})
		if err != nil {
			t.Fatalf("ListRevokedTokens: %v", err)
		}
		var ids []string
		for _, r := range left {
			ids = append(ids, r.TokenID)
		}
		if len(ids) != 1 || ids[0] != "jti-long" {
			t.Errorf("revocations left after the sweep = %v, want [jti-long]", ids)
		}
	})
}

// TestSweepKeepsSessionsOtherNodesAccept sweeps from a node whose clock runs 20 minutes
// ahead and whose idle timeout is 20 minutes shorter than the node that serves the
// session. That node must keep accepting the session until its own idle timeout and
// absolute expiry end it, and the sweep deletes it only a margin after that.
func TestSweepKeepsSessionsOtherNodesAccept(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) {
		f := newFixtureOn(t, open())
		ahead := func() time.Time { return f.clock.Now().Add(20 * time.Minute) }
		sweeper, err := New(f.ctx, open(), f.master, Config{IdleTimeout: 10 * time.Minute, MaxAge: 12 * time.Hour, Now: ahead, AuditChain: f.chain})
		if err != nil {
			t.Fatalf("New on a second handle: %v", err)
		}
		sweep := func(when string) SweepReport {
			t.Helper()
			report, err := sweeper.Sweep(f.ctx)
			if err != nil {
				t.Fatalf("Sweep %s: %v", when, err)
			}
			return report
		}
		cur := f.signIn(t, "192.0.2.1")

		// Unused for 25 minutes on the serving node, 45 on the sweeping node, whose idle
		// timeout is 10 minutes.
		f.clock.Advance(25 * time.Minute)
		if got := sweep("after 25 idle minutes"); got.Sessions != 0 {
			t.Errorf("sweep of a session idle for 25 minutes deleted %d sessions, want 0", got.Sessions)
		}
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
			t.Fatalf("Authenticate after 25 idle minutes and the other node's sweep: %v", err)
		}

		// In use until 5 minutes before its absolute expiry on the serving node, which
		// the sweeping node's clock has passed 15 minutes ago.
		for f.clock.Now().Before(cur.Session.ExpiresAt.Add(-20 * time.Minute)) {
			f.clock.Advance(15 * time.Minute)
			if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
				t.Fatalf("Authenticate %s after sign-in: %v", f.clock.Now().Sub(cur.Session.CreatedAt), err)
			}
		}
		f.clock.Advance(cur.Session.ExpiresAt.Add(-5 * time.Minute).Sub(f.clock.Now()))
		if got := sweep("5 minutes before the expiry"); got.Sessions != 0 {
			t.Errorf("sweep 5 minutes before the session's expiry deleted %d sessions, want 0", got.Sessions)
		}
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
			t.Fatalf("Authenticate 5 minutes before the expiry, after the other node's sweep: %v", err)
		}

		// 40 minutes after the expiry on the serving node, the sweeping node's clock is a
		// margin past it.
		f.clock.Advance(45 * time.Minute)
		if got := sweep("after the expiry and the margin"); got.Sessions != 1 {
			t.Errorf("sweep a margin after the session's expiry deleted %d sessions, want 1", got.Sessions)
		}
	})
}

// TestSweepFromTwoNodes sweeps more ended sessions than two batches hold from two services
// on two handles of one database at once, as two nodes do: every ended session is
// deleted once, by one of them, and the live one stays.
func TestSweepFromTwoNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) {
		f := newFixtureOn(t, open())
		second, err := New(f.ctx, open(), f.master, Config{IdleTimeout: 30 * time.Minute, MaxAge: 12 * time.Hour, Now: f.clock.Now, AuditChain: f.chain})
		if err != nil {
			t.Fatalf("New on a second handle: %v", err)
		}
		now := f.clock.Now()
		ended := 2*sweepBatchSize + 1
		for i := range ended {
			sess := &iogate.Session{IDHash: hashToken(fmt.Sprintf("ended-%d", i)), UserID: f.owner.ID, AccountID: f.owner.AccountID,
				Stage: iogate.SessionSignedIn, CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now.Add(-time.Hour),
				ExpiresAt: now.Add(-time.Hour), ConfirmedAt: now.Add(-13 * time.Hour)}
			if err := f.store.CreateSession(f.ctx, sess); err != nil {
				t.Fatalf("CreateSession %d: %v", i, err)
			}
		}
		live := f.signIn(t, "192.0.2.1")

		var wg sync.WaitGroup
		reports := make([]SweepReport, 2)
		errs := make([]error, 2)
		for i, svc := range []*Service{f.svc, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reports[i], errs[i] = svc.Sweep(f.ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Sweep on node %d: %v", i+1, err)
			}
		}
		// The fixture's used setup link is swept too, by one of the nodes.
		sessions, links := reports[0].Sessions+reports[1].Sessions, reports[0].Links+reports[1].Links
		if sessions != ended || links != 1 {
			t.Errorf("two nodes deleted %d sessions and %d links in all (%+v, %+v), want %d and 1", sessions, links, reports[0], reports[1], ended)
		}
		if _, err := f.svc.Authenticate(f.ctx, live.ID); err != nil {
			t.Errorf("Authenticate the live session after the sweeps: %v", err)
		}
	})
}

func TestFormToken(t *testing.T) {
	f := newFixture(t)
	cur := f.signIn(t, "192.0.2.1")
	other := f.signIn(t, "192.0.2.2")
	token := f.svc.NewFormToken(cur, "create-key")
	if again := f.svc.NewFormToken(cur, "create-key"); again == token {
		t.Fatal("two forms of one session got the same token")
	}
	altered := "A" + token[1:]
	if token[0] == 'A' {
		altered = "B" + token[1:]
	}

	invalid := []struct {
		name, purpose, token string
		cur                  *Current
	}{
		{"empty", "create-key", "", cur},
		{"another session", "create-key", token, other},
		{"another purpose", "rotate-key", token, cur},
		{"altered nonce", "create-key", altered, cur},
		{"no MAC", "create-key", token[:22], cur},
	}
	for _, c := range invalid {
		if _, err := f.svc.FormTokenUsed(f.ctx, c.cur, c.purpose, c.token); !errors.Is(err, ErrFormTokenInvalid) {
			t.Errorf("FormTokenUsed with %s: %v, want ErrFormTokenInvalid", c.name, err)
		}
		if err := f.svc.UseFormToken(f.ctx, c.cur, c.purpose, c.token); !errors.Is(err, ErrFormTokenInvalid) {
			t.Errorf("UseFormToken with %s: %v, want ErrFormTokenInvalid", c.name, err)
		}
		if _, err := f.svc.WithFormToken(f.ctx, c.cur, c.purpose, c.token); !errors.Is(err, ErrFormTokenInvalid) {
			t.Errorf("WithFormToken with %s: %v, want ErrFormTokenInvalid", c.name, err)
		}
	}

	if used, err := f.svc.FormTokenUsed(f.ctx, cur, "create-key", token); err != nil || used {
		t.Fatalf("FormTokenUsed of a new token = %v, %v; want false", used, err)
	}
	if err := f.svc.UseFormToken(f.ctx, cur, "create-key", token); err != nil {
		t.Fatalf("UseFormToken: %v", err)
	}
	if used, err := f.svc.FormTokenUsed(f.ctx, cur, "create-key", token); err != nil || !used {
		t.Errorf("FormTokenUsed after its use = %v, %v; want true", used, err)
	}
	if err := f.svc.UseFormToken(f.ctx, cur, "create-key", token); !errors.Is(err, ErrFormUsed) {
		t.Errorf("UseFormToken twice: %v, want ErrFormUsed", err)
	}
}

// TestSweepDeletesOldKeyChanges checks that the sweep keeps the change feed's rows for
// keyChangeRetention and deletes them after it. The stores stamp each change with the
// wall clock, so the test's clock starts at the wall clock's time.
func TestSweepDeletesOldKeyChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) {
		f := newFixtureOn(t, open())
		f.clock.mu.Lock()
		f.clock.now = time.Now()
		f.clock.mu.Unlock()
		now := f.clock.Now().UTC()
		createSweepKey(t, f, now)
		before, err := f.store.KeyChangesSince(f.ctx, 0)
		if err != nil {
			t.Fatalf("KeyChangesSince: %v", err)
		}
		if len(before) == 0 {
			t.Fatal("KeyChangesSince after CreateAPIKey returned no change")
		}

		if got := f.sweep(t); got.KeyChanges != 0 {
			t.Errorf("sweep right after the changes deleted %d of them, want 0", got.KeyChanges)
		}
		f.clock.Advance(keyChangeRetention - time.Minute)
		if got := f.sweep(t); got.KeyChanges != 0 {
			t.Errorf("sweep a minute before the retention ends deleted %d changes, want 0", got.KeyChanges)
		}
		f.clock.Advance(2 * time.Minute)
		if got := f.sweep(t); got.KeyChanges != len(before) {
			t.Errorf("sweep after the retention deleted %d changes, want %d", got.KeyChanges, len(before))
		}
		if left, err := f.store.KeyChangesSince(f.ctx, 0); err != nil || len(left) != 0 {
			t.Errorf("KeyChangesSince after the sweep = %+v, %v, want no change", left, err)
		}
	})
}

// createSweepKey stores an API key of the fixture's account, created at now, with its
// key.created record.
func createSweepKey(t *testing.T, f *fixture, now time.Time) *iogate.APIKey {
	t.Helper()
	k := &iogate.APIKey{ClientID: iogate.NewClientID(), AccountID: f.owner.AccountID, Name: "ci",
		Scopes: []string{iogate.ScopeVaultsRead}, CreatedAt: now, UpdatedAt: now, SecretGeneration: 1, SecretCreatedAt: now}
	created, err := f.chain.NewRecord(k.AccountID, iogate.AuditKeyCreated, iogate.Actor{Type: iogate.ActorOperator}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	created.ClientID = k.ClientID
	if err := f.store.CreateAPIKey(f.ctx, k, created); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}
