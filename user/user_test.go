package user

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
	"github.com/pquerna/otp/totp"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is a user service on a fresh SQLite database whose first account and owner were
// created through a setup link.
type fixture struct {
	svc    *Service
	store  iogate.Store
	master *iogate.MasterKey
	chain  *iogate.AuditChain
	clock  *clock
	owner  *iogate.User
	ctx    context.Context
}

const ownerPassword = "correct horse battery staple"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newFixtureOn(t, db)
}

// newFixtureOn is newFixture on an empty store of the caller's.
func newFixtureOn(t *testing.T, db iogate.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	raw := make([]byte, iogate.MasterKeySize)
	rand.Read(raw)
	master, err := iogate.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	chain := newTestChain(t)
	svc, err := New(ctx, db, master, Config{IdleTimeout: 30 * time.Minute, MaxAge: 12 * time.Hour, Now: c.Now, AuditChain: chain})
	if err != nil {
		t.Fatal(err)
	}
	token, err := svc.CreateSetupLink(ctx)
	if err != nil {
		t.Fatalf("CreateSetupLink: %v", err)
	}
	owner, err := svc.CompleteSetup(ctx, token, SetupRequest{AccountName: "Acme", Email: "Owner@Acme.test", Password: ownerPassword, RemoteAddr: "198.51.100.7"})
	if err != nil {
		t.Fatalf("CompleteSetup: %v", err)
	}
	return &fixture{svc: svc, store: db, master: master, chain: chain, clock: c, owner: owner, ctx: ctx}
}

// newTestChain returns an audit chain under a fixed test key.
func newTestChain(t *testing.T) *iogate.AuditChain {
	t.Helper()
	chain, err := iogate.NewAuditChain(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

func TestSetupLink(t *testing.T) {
	f := newFixture(t)
	if f.owner.Email != "owner@acme.test" || f.owner.Role != iogate.RoleOwner {
		t.Errorf("setup created %s as %s, want owner@acme.test as owner", f.owner.Email, f.owner.Role)
	}
	if _, err := f.svc.CreateSetupLink(f.ctx); iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Errorf("CreateSetupLink with an account: %v, want CodeConflict", err)
	}
}

// auditRecords returns every record in the store, ordered by account and sequence number,
// and fails the test unless their chains verify under the fixture's key.
func (f *fixture) auditRecords(t *testing.T) []*iogate.AuditRecord {
	t.Helper()
	var records []*iogate.AuditRecord
	verifier := f.chain.NewVerifier()
	err := f.store.AuditRecords(f.ctx, "", func(r *iogate.AuditRecord) error {
		records = append(records, r)
		return verifier.Add(r)
	})
	if err != nil {
		t.Fatalf("AuditRecords: %v", err)
	}
	return records
}

// TestSetupRecordsAccountAndOwner checks that setup writes the account's account.created
// record and the owner's user.created record in the new account's chain, both by the new
// owner from the address the page was posted from.
func TestSetupRecordsAccountAndOwner(t *testing.T) {
	f := newFixture(t)
	records := f.auditRecords(t)
	if len(records) != 2 {
		t.Fatalf("audit records after setup = %d, want account.created and user.created", len(records))
	}
	wantActor := iogate.Actor{Type: iogate.ActorUser, ID: f.owner.ID, IP: "198.51.100.7"}
	for i, want := range []struct {
		event, details string
	}{
		{iogate.AuditAccountCreated, `{"email":"owner@acme.test","name":"Acme","via":"setup_link"}`},
		{iogate.AuditUserCreated, `{"email":"owner@acme.test","role":"owner","userId":"` + f.owner.ID + `","via":"setup_link"}`},
	} {
		r := records[i]
		if r.Event != want.event || r.AccountID != f.owner.AccountID || r.Seq != int64(i+1) || r.Actor != wantActor {
			t.Errorf("record %d = %s of account %s, seq %d, by %+v; want %s of %s, seq %d, by %+v",
				i, r.Event, r.AccountID, r.Seq, r.Actor, want.event, f.owner.AccountID, i+1, wantActor)
		}
		if string(r.Details) != want.details {
			t.Errorf("%s details = %s, want %s", r.Event, r.Details, want.details)
		}
		if strings.Contains(string(r.Details), ownerPassword) {
			t.Errorf("the %s record contains the owner's password", r.Event)
		}
	}
}

func TestNewWithoutAuditChain(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	master, _ := iogate.NewMasterKey(make([]byte, 32))
	if _, err := New(context.Background(), db, master, Config{}); err == nil {
		t.Error("New without Config.AuditChain succeeded, want an error")
	}
}

func TestSetupLinkRules(t *testing.T) {
	ctx := context.Background()
	newService := func(t *testing.T) (*Service, *clock) {
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		master, _ := iogate.NewMasterKey(make([]byte, 32))
		c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		svc, err := New(ctx, db, master, Config{Now: c.Now, AuditChain: newTestChain(t)})
		if err != nil {
			t.Fatal(err)
		}
		return svc, c
	}
	good := SetupRequest{AccountName: "Acme", Email: "owner@acme.test", Password: ownerPassword}

	t.Run("expires after an hour", func(t *testing.T) {
		svc, c := newService(t)
		token, _ := svc.CreateSetupLink(ctx)
		c.Advance(SetupLinkTTL)
		if _, err := svc.CompleteSetup(ctx, token, good); !errors.Is(err, errLinkInvalid) {
			t.Errorf("setup after an hour: %v, want the invalid-link error", err)
		}
	})

	t.Run("a new link replaces the old one", func(t *testing.T) {
		svc, _ := newService(t)
		first, _ := svc.CreateSetupLink(ctx)
		if _, err := svc.CreateSetupLink(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CheckLink(ctx, first, iogate.LinkSetup); !errors.Is(err, iogate.ErrSetupLinkReplaced) {
			t.Errorf("CheckLink of a replaced link: %v, want ErrSetupLinkReplaced", err)
		}
		if _, err := svc.CompleteSetup(ctx, first, good); !errors.Is(err, iogate.ErrSetupLinkReplaced) {
			t.Errorf("setup with a replaced link: %v, want ErrSetupLinkReplaced", err)
		}
	})

	t.Run("a short password does not use the link", func(t *testing.T) {
		svc, _ := newService(t)
		token, _ := svc.CreateSetupLink(ctx)
		bad := good
		bad.Password = "short"
		if _, err := svc.CompleteSetup(ctx, token, bad); iogate.ErrorCodeOf(err) != iogate.CodeInvalid || !strings.Contains(err.Error(), "too short") {
			t.Fatalf("setup with a short password: %v, want a too-short error", err)
		}
		if _, err := svc.CompleteSetup(ctx, token, good); err != nil {
			t.Errorf("setup after a rejected password: %v, want the link still valid", err)
		}
		if _, err := svc.CompleteSetup(ctx, token, good); !errors.Is(err, errLinkInvalid) {
			t.Errorf("second use of the setup link: %v, want the invalid-link error", err)
		}
	})
}

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	cur, err := f.svc.SignIn(f.ctx, "OWNER@acme.test", ownerPassword, "192.0.2.1")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if cur.Session.Stage != iogate.SessionSignedIn {
		t.Errorf("session stage = %s, want %s without TOTP", cur.Session.Stage, iogate.SessionSignedIn)
	}
	if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
		t.Errorf("Authenticate the new session: %v", err)
	}
	stored, err := f.store.FindSession(f.ctx, hashToken(cur.ID))
	if err != nil || string(stored.IDHash) == cur.ID {
		t.Errorf("stored session: %v; want it found by the hash of its ID", err)
	}

	for _, c := range []struct{ name, email, password string }{
		{"wrong password", "owner@acme.test", "wrong password!"},
		{"unknown email", "nobody@acme.test", ownerPassword},
		{"empty password", "owner@acme.test", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.svc.SignIn(f.ctx, c.email, c.password, "192.0.2."+c.name[:1]); !errors.Is(err, ErrSignInFailed) {
				t.Errorf("SignIn: %v, want ErrSignInFailed", err)
			}
		})
	}
}

func TestSessionTimeouts(t *testing.T) {
	f := newFixture(t)
	cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}

	// Activity every 20 minutes keeps the session past the 30-minute idle timeout...
	for range 5 {
		f.clock.Advance(20 * time.Minute)
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
			t.Fatalf("Authenticate after %s of activity: %v", f.clock.Now().Sub(cur.Session.CreatedAt), err)
		}
	}
	// ...but 31 idle minutes end it, and it stays ended.
	f.clock.Advance(31 * time.Minute)
	if _, err := f.svc.Authenticate(f.ctx, cur.ID); !errors.Is(err, ErrNoSession) {
		t.Errorf("Authenticate after 31 idle minutes: %v, want ErrNoSession", err)
	}
	if _, err := f.store.FindSession(f.ctx, hashToken(cur.ID)); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("the idle session is still stored: %v", err)
	}

	t.Run("absolute", func(t *testing.T) {
		cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.2")
		if err != nil {
			t.Fatal(err)
		}
		for elapsed := time.Duration(0); elapsed < 12*time.Hour-10*time.Minute; elapsed += 10 * time.Minute {
			f.clock.Advance(10 * time.Minute)
			if _, err := f.svc.Authenticate(f.ctx, cur.ID); err != nil {
				t.Fatalf("Authenticate %s after sign-in: %v", elapsed+10*time.Minute, err)
			}
		}
		f.clock.Advance(10 * time.Minute)
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); !errors.Is(err, ErrNoSession) {
			t.Errorf("Authenticate 12h after sign-in: %v, want ErrNoSession", err)
		}
	})
}

func TestSignInRateLimits(t *testing.T) {
	f := newFixture(t)
	for i := range accountBurst {
		if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", "wrong password!", "192.0.2.10"); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("attempt %d: %v, want ErrSignInFailed", i+1, err)
		}
	}
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.10"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("right password after %d failures from the same address: %v, want ErrRateLimited", accountBurst, err)
	}
	f.clock.Advance(accountInterval)
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.10"); err != nil {
		t.Errorf("sign-in %s later: %v, want success", accountInterval, err)
	}
}

func TestSignInLimitAcrossAddresses(t *testing.T) {
	f := newFixture(t)
	// Guesses spread over many addresses, a few from each, still meet the account's
	// shared bucket.
	limited := false
	for i := range accountGlobalBurst + 1 {
		addr := fmt.Sprintf("198.51.100.%d", i%200+1)
		if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", "wrong password!", addr); errors.Is(err, ErrRateLimited) {
			limited = true
			break
		}
	}
	if !limited {
		t.Errorf("%d guesses from distinct addresses were never rate limited", accountGlobalBurst+1)
	}
}

func TestTOTP(t *testing.T) {
	f := newFixture(t)
	enrol, err := f.svc.BeginTOTP(f.ctx, f.owner)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.store.FindUserByID(f.ctx, f.owner.ID)
	if strings.Contains(string(stored.TOTPSeedSealed), enrol.Secret()) {
		t.Fatal("the TOTP seed is stored in plain text")
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, f.owner, "000000"); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("ConfirmTOTP with a wrong code: %v, want ErrWrongCode", err)
	}
	code, _ := totp.GenerateCode(enrol.Secret(), f.clock.Now())
	codes, err := f.svc.ConfirmTOTP(f.ctx, f.owner, code)
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if len(codes) != recoveryCodeCount {
		t.Fatalf("ConfirmTOTP returned %d recovery codes, want %d", len(codes), recoveryCodeCount)
	}

	signIn := func(t *testing.T) *Current {
		t.Helper()
		cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.20")
		if err != nil {
			t.Fatal(err)
		}
		if cur.Session.Stage != iogate.SessionSecondFactor {
			t.Fatalf("session stage = %s, want %s", cur.Session.Stage, iogate.SessionSecondFactor)
		}
		return cur
	}

	t.Run("code works once", func(t *testing.T) {
		f.clock.Advance(totpPeriod * time.Second)
		cur := signIn(t)
		code, _ := totp.GenerateCode(enrol.Secret(), f.clock.Now())
		next, recovery, err := f.svc.CompleteSecondFactor(f.ctx, cur, code, "192.0.2.20")
		if err != nil || recovery {
			t.Fatalf("CompleteSecondFactor: %v (recovery %t), want success with TOTP", err, recovery)
		}
		if next.ID == cur.ID || next.Session.Stage != iogate.SessionSignedIn {
			t.Error("the second factor did not open a new signed-in session")
		}
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); !errors.Is(err, ErrNoSession) {
			t.Errorf("the pre-second-factor session still works: %v", err)
		}
		again := signIn(t)
		if _, _, err := f.svc.CompleteSecondFactor(f.ctx, again, code, "192.0.2.20"); !errors.Is(err, ErrWrongCode) {
			t.Errorf("replayed TOTP code: %v, want ErrWrongCode", err)
		}
	})

	t.Run("recovery code works once", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		cur := signIn(t)
		typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
		if _, recovery, err := f.svc.CompleteSecondFactor(f.ctx, cur, typed, "192.0.2.21"); err != nil || !recovery {
			t.Fatalf("CompleteSecondFactor with a recovery code: %v (recovery %t)", err, recovery)
		}
		if n, _ := f.svc.RecoveryCodesLeft(f.ctx, f.owner); n != recoveryCodeCount-1 {
			t.Errorf("%d recovery codes left, want %d", n, recoveryCodeCount-1)
		}
		again := signIn(t)
		if _, _, err := f.svc.CompleteSecondFactor(f.ctx, again, codes[0], "192.0.2.21"); !errors.Is(err, ErrWrongCode) {
			t.Errorf("reused recovery code: %v, want ErrWrongCode", err)
		}
	})

	t.Run("required TOTP cannot be turned off", func(t *testing.T) {
		if err := f.svc.SetRequireTOTP(f.ctx, f.owner.AccountID, true); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DisableTOTP(f.ctx, f.owner); iogate.ErrorCodeOf(err) != iogate.CodeForbidden {
			t.Errorf("DisableTOTP under the policy: %v, want CodeForbidden", err)
		}
	})
}

func TestRecoveryCodeShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != recoveryCodeLen+1 || c[5] != '-' || !looksLikeRecoveryCode(c) {
			t.Fatalf("recovery code %q does not have the form xxxxx-xxxxx", c)
		}
		if strings.ContainsAny(c, "ilou") {
			t.Fatalf("recovery code %q has a look-alike letter", c)
		}
		seen[c] = true
	}
	if len(seen) != 200 {
		t.Errorf("200 recovery codes have %d distinct values", len(seen))
	}
	if normalizeRecoveryCode("AB1O0-IL 23") != normalizeRecoveryCode("ab100-11 23") {
		t.Error("normalizing does not read O, I and L as 0, 1 and 1")
	}
}

func TestConfirmation(t *testing.T) {
	f := newFixture(t)
	cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.30")
	if err != nil {
		t.Fatal(err)
	}
	if f.svc.NeedsConfirmation(cur) {
		t.Error("a session signed in just now needs a confirmation")
	}
	f.clock.Advance(5 * time.Minute)
	if !f.svc.NeedsConfirmation(cur) {
		t.Error("a session whose confirmation is 5 minutes old does not need a new one")
	}
	if err := f.svc.Confirm(f.ctx, cur, "wrong password!", "192.0.2.30"); iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
		t.Errorf("Confirm with a wrong password: %v, want CodeInvalid", err)
	}
	if err := f.svc.Confirm(f.ctx, cur, ownerPassword, "192.0.2.30"); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if f.svc.NeedsConfirmation(cur) {
		t.Error("the session still needs a confirmation right after one")
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	token, _, err := f.svc.InviteUser(f.ctx, f.owner.AccountID, "admin@acme.test", iogate.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := f.svc.AcceptInvite(f.ctx, token, "admin password 123", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if admin.Role != iogate.RoleAdmin || admin.AccountID != f.owner.AccountID {
		t.Errorf("invited user is %s of %s, want admin of the owner's account", admin.Role, admin.AccountID)
	}
	if _, err := f.svc.AcceptInvite(f.ctx, token, "admin password 123", "192.0.2.1"); !errors.Is(err, errLinkInvalid) {
		t.Errorf("second use of an invitation: %v, want the invalid-link error", err)
	}
	if _, _, err := f.svc.InviteUser(f.ctx, f.owner.AccountID, "admin@acme.test", iogate.RoleViewer); iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Errorf("invite an existing user: %v, want CodeConflict", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, f.owner.ID, iogate.RoleViewer); !errors.Is(err, errLastOwner) {
		t.Errorf("demote the last owner: %v, want errLastOwner", err)
	}
	if _, err := f.svc.RemoveUser(f.ctx, f.owner.AccountID, f.owner.ID); !errors.Is(err, errLastOwner) {
		t.Errorf("remove the last owner: %v, want errLastOwner", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, admin.ID, iogate.RoleOwner); err != nil {
		t.Fatalf("promote the admin: %v", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, f.owner.ID, iogate.RoleViewer); err != nil {
		t.Errorf("demote an owner while another exists: %v", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, "another-account", admin.ID, iogate.RoleViewer); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("change a user of another account: %v, want CodeNotFound", err)
	}

	t.Run("reset link ends sessions", func(t *testing.T) {
		cur, err := f.svc.SignIn(f.ctx, "admin@acme.test", "admin password 123", "192.0.2.40")
		if err != nil {
			t.Fatal(err)
		}
		reset, _, err := f.svc.CreateResetLink(f.ctx, "admin@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ResetPassword(f.ctx, reset, "new admin password", "192.0.2.1"); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if _, err := f.svc.Authenticate(f.ctx, cur.ID); !errors.Is(err, ErrNoSession) {
			t.Errorf("a session from before the reset: %v, want ErrNoSession", err)
		}
		if _, err := f.svc.SignIn(f.ctx, "admin@acme.test", "new admin password", "192.0.2.41"); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
	})
}

func TestSuspendedAccountSessions(t *testing.T) {
	f := newFixture(t)
	cur, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.50")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.chain.NewRecord(f.owner.AccountID, iogate.AuditAccountSuspended, iogate.Actor{Type: iogate.ActorOperator, ID: "tester"}, f.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetAccountStatus(f.ctx, f.owner.AccountID, iogate.AccountSuspended, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.ctx, cur.ID); !errors.Is(err, ErrNoSession) {
		t.Errorf("session of a suspended account: %v, want ErrNoSession", err)
	}
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "192.0.2.51"); !errors.Is(err, ErrAccountSuspended) {
		t.Errorf("sign in to a suspended account: %v, want ErrAccountSuspended", err)
	}
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", "wrong password!", "192.0.2.52"); !errors.Is(err, ErrSignInFailed) {
		t.Errorf("wrong password on a suspended account: %v, want ErrSignInFailed, which does not reveal the suspension", err)
	}
}

func TestCSRFToken(t *testing.T) {
	f := newFixture(t)
	a, b := f.svc.CSRFToken("session-a"), f.svc.CSRFToken("session-b")
	if a == b || !f.svc.CheckCSRFToken("session-a", a) || f.svc.CheckCSRFToken("session-b", a) || f.svc.CheckCSRFToken("", "") {
		t.Error("CSRF tokens are not bound to their session")
	}
}
