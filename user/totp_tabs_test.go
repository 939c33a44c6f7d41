package user

// Tests of TOTP changes made from two tabs of one user. Each tab's request works on the
// user as it was loaded when the request authenticated, so these tests hold one loaded copy
// per tab and run the steps in a fixed order instead of racing real requests.

import (
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/pquerna/otp/totp"
)

// forEachFixture runs test on a fresh fixture on SQLite and on PostgreSQL.
func forEachFixture(t *testing.T, test func(t *testing.T, f *fixture)) {
	forEachStore(t, func(t *testing.T, open func() iogate.Store) { test(t, newFixtureOn(t, open())) })
}

// loadUser returns the stored user, as a request that authenticates now has it.
func loadUser(t *testing.T, f *fixture, id string) *iogate.User {
	t.Helper()
	u, err := f.store.FindUserByID(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func currentCode(t *testing.T, f *fixture, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestConfirmTOTPAfterOtherTabBegins checks that a tab that confirms the seed it showed
// fails once another tab has started a new enrolment, so that TOTP never goes on with a seed
// whose code no user entered.
func TestConfirmTOTPAfterOtherTabBegins(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		first, err := f.svc.BeginTOTP(f.ctx, loadUser(t, f, f.owner.ID))
		if err != nil {
			t.Fatal(err)
		}
		tabA := loadUser(t, f, f.owner.ID)
		if _, err := f.svc.BeginTOTP(f.ctx, loadUser(t, f, f.owner.ID)); err != nil {
			t.Fatalf("BeginTOTP in the second tab: %v", err)
		}

		_, err = f.svc.ConfirmTOTP(f.ctx, tabA, currentCode(t, f, first.Secret()))
		if !errors.Is(err, iogate.ErrUserChanged) {
			t.Errorf("ConfirmTOTP of a replaced seed: %v, want ErrUserChanged", err)
		}
		if loadUser(t, f, f.owner.ID).TOTPEnabled {
			t.Error("TOTP is on with a seed that no code was entered for")
		}
	})
}

// TestBeginTOTPAfterOtherTabConfirms checks that a tab that loaded the user before another
// tab turned TOTP on does not replace the confirmed seed with a new, unconfirmed one.
func TestBeginTOTPAfterOtherTabConfirms(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		enrol, err := f.svc.BeginTOTP(f.ctx, loadUser(t, f, f.owner.ID))
		if err != nil {
			t.Fatal(err)
		}
		tabA := loadUser(t, f, f.owner.ID)
		tabB := loadUser(t, f, f.owner.ID)
		if _, err := f.svc.ConfirmTOTP(f.ctx, tabB, currentCode(t, f, enrol.Secret())); err != nil {
			t.Fatalf("ConfirmTOTP in the second tab: %v", err)
		}
		confirmed := loadUser(t, f, f.owner.ID).TOTPSeedSealed

		_, err = f.svc.BeginTOTP(f.ctx, tabA)
		if !errors.Is(err, iogate.ErrUserChanged) {
			t.Errorf("BeginTOTP with TOTP turned on meanwhile: %v, want ErrUserChanged", err)
		}
		stored := loadUser(t, f, f.owner.ID)
		if !stored.TOTPEnabled {
			t.Error("TOTP is off after a stale BeginTOTP")
		}
		if string(stored.TOTPSeedSealed) != string(confirmed) {
			t.Error("a stale BeginTOTP replaced the confirmed seed")
		}
	})
}

// TestConfirmTOTPInTwoTabs checks that two tabs that confirm the same enrolment with codes
// of two periods turn TOTP on once, and that the second fails with ErrUserChanged.
func TestConfirmTOTPInTwoTabs(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		enrol, err := f.svc.BeginTOTP(f.ctx, loadUser(t, f, f.owner.ID))
		if err != nil {
			t.Fatal(err)
		}
		tabA := loadUser(t, f, f.owner.ID)
		tabB := loadUser(t, f, f.owner.ID)
		codeA := currentCode(t, f, enrol.Secret())
		f.clock.Advance(totpPeriod * time.Second)
		codeB := currentCode(t, f, enrol.Secret())

		if _, err := f.svc.ConfirmTOTP(f.ctx, tabA, codeA); err != nil {
			t.Fatalf("ConfirmTOTP in the first tab: %v", err)
		}
		_, err = f.svc.ConfirmTOTP(f.ctx, tabB, codeB)
		if !errors.Is(err, iogate.ErrUserChanged) {
			t.Errorf("ConfirmTOTP in the second tab: %v, want ErrUserChanged", err)
		}
	})
}

// TestDisableTOTPAfterPolicyTurnedOn checks that a tab that loaded the user while the account
// did not require TOTP cannot turn TOTP off once the account requires it.
func TestDisableTOTPAfterPolicyTurnedOn(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		enrol, err := f.svc.BeginTOTP(f.ctx, loadUser(t, f, f.owner.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ConfirmTOTP(f.ctx, loadUser(t, f, f.owner.ID), currentCode(t, f, enrol.Secret())); err != nil {
			t.Fatal(err)
		}
		tab := loadUser(t, f, f.owner.ID)
		if err := f.svc.SetRequireTOTP(f.ctx, f.owner.AccountID, true); err != nil {
			t.Fatal(err)
		}

		if err := f.svc.DisableTOTP(f.ctx, tab); iogate.ErrorCodeOf(err) != iogate.CodeForbidden {
			t.Errorf("DisableTOTP after the policy was turned on: %v, want CodeForbidden", err)
		}
		if !loadUser(t, f, f.owner.ID).TOTPEnabled {
			t.Error("TOTP is off although the account requires it")
		}
	})
}

// TestTOTPChangesKeepRoleAndPassword checks that a demotion or a password reset survives a
// ConfirmTOTP or DisableTOTP of a request that loaded the user before it.
func TestTOTPChangesKeepRoleAndPassword(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		cur := signInAdmin(t, f)
		enrol, err := f.svc.BeginTOTP(f.ctx, cur.User)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, cur.User.ID, iogate.RoleViewer); err != nil {
			t.Fatal(err)
		}
		reset, _, err := f.svc.CreateResetLink(f.ctx, "admin@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ResetPassword(f.ctx, reset, "the admin's new password", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}

		if _, err := f.svc.ConfirmTOTP(f.ctx, cur.User, currentCode(t, f, enrol.Secret())); err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}
		if err := f.svc.DisableTOTP(f.ctx, cur.User); err != nil {
			t.Fatalf("DisableTOTP: %v", err)
		}

		if got := loadUser(t, f, cur.User.ID).Role; got != iogate.RoleViewer {
			t.Errorf("role after stale TOTP changes = %s, want viewer", got)
		}
		if _, err := f.svc.SignIn(f.ctx, "admin@acme.test", "admin password 123", "192.0.2.62"); err == nil {
			t.Error("the password from before the reset signs in after stale TOTP changes")
		}
	})
}
