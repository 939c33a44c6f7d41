package user

// Tests for lost updates between a request's signed-in user and changes that other
// requests made to that user in the meantime. A dashboard request loads its user once,
// when it authenticates the session. A TOTP change later in the same request must write
// only the TOTP columns, not the role and password hash as they were at the start.

import (
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/pquerna/otp/totp"
)

// signInAdmin adds an admin to the owner's account and returns a signed-in session of
// theirs, as a dashboard request has it after Authenticate.
func signInAdmin(t *testing.T, f *fixture) *Current {
	t.Helper()
	token, _, err := f.svc.InviteUser(f.ctx, f.owner.AccountID, "admin@acme.test", iogate.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AcceptInvite(f.ctx, token, "admin password 123", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	signedIn, err := f.svc.SignIn(f.ctx, "admin@acme.test", "admin password 123", "192.0.2.60")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := f.svc.Authenticate(f.ctx, signedIn.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

// TestBeginTOTPKeepsConcurrentDemotion checks that a demotion stays in force when it commits
// while the demoted user's TOTP enrolment request is between its authentication and its
// write.
func TestBeginTOTPKeepsConcurrentDemotion(t *testing.T) {
	f := newFixture(t)
	cur := signInAdmin(t, f)

	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, cur.User.ID, iogate.RoleViewer); err != nil {
		t.Fatalf("demote the admin: %v", err)
	}
	if _, err := f.svc.BeginTOTP(f.ctx, cur.User); err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}

	stored, err := f.store.FindUserByID(f.ctx, cur.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Role != iogate.RoleViewer {
		t.Errorf("role after a demotion and then the user's own TOTP enrolment = %s, want viewer", stored.Role)
	}
}

// TestBeginTOTPKeepsConcurrentReset checks that a TOTP request of the old password holder's
// session does not undo a password reset that commits meanwhile: the old password stops
// working.
func TestBeginTOTPKeepsConcurrentReset(t *testing.T) {
	f := newFixture(t)
	cur := signInAdmin(t, f)

	reset, _, err := f.svc.CreateResetLink(f.ctx, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, reset, "the admin's new password", "192.0.2.1"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	// The request that authenticated before the reset goes on to write the user.
	f.svc.BeginTOTP(f.ctx, cur.User)

	if _, err := f.svc.SignIn(f.ctx, "admin@acme.test", "admin password 123", "192.0.2.61"); err == nil {
		t.Error("the password from before the reset signs in again after a TOTP enrolment request that began before the reset")
	}
}

// enableTOTP enrols u in TOTP and confirms the enrolment, on a fresh time step.
func enableTOTP(t *testing.T, f *fixture, u *iogate.User) {
	t.Helper()
	f.clock.Advance(totpPeriod * time.Second)
	enrol, err := f.svc.BeginTOTP(f.ctx, u)
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	code, err := totp.GenerateCode(enrol.Secret(), f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, u, code); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
}

// copyUser returns a copy of u, as a request that loaded u keeps it while other requests
// change the stored user.
func copyUser(u *iogate.User) *iogate.User {
	c := *u
	return &c
}

// TestRegenerateCodesAfterConcurrentDisable checks that new recovery codes are not stored
// when TOTP was turned off after the request that makes them loaded its user: codes must not
// outlive the TOTP they belong to.
func TestRegenerateCodesAfterConcurrentDisable(t *testing.T) {
	f := newFixture(t)
	enableTOTP(t, f, f.owner)
	stale := copyUser(f.owner)

	if err := f.svc.DisableTOTP(f.ctx, f.owner); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(f.ctx, f.owner); n != 0 {
		t.Errorf("recovery codes after DisableTOTP = %d, want 0", n)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, stale); !errors.Is(err, iogate.ErrUserChanged) {
		t.Errorf("RegenerateRecoveryCodes of a request that began before DisableTOTP: %v, want ErrUserChanged", err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(f.ctx, f.owner); n != 0 {
		t.Errorf("recovery codes with TOTP off = %d, want 0", n)
	}
}

// TestRegenerateCodesAfterConcurrentReenrolment checks that a request that loaded its user
// under one TOTP seed cannot replace the recovery codes of a later enrolment with another
// seed, made after TOTP was turned off and on again meanwhile.
func TestRegenerateCodesAfterConcurrentReenrolment(t *testing.T) {
	f := newFixture(t)
	enableTOTP(t, f, f.owner)
	stale := copyUser(f.owner)

	if err := f.svc.DisableTOTP(f.ctx, f.owner); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	enableTOTP(t, f, f.owner)
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, stale); !errors.Is(err, iogate.ErrUserChanged) {
		t.Errorf("RegenerateRecoveryCodes under the replaced seed: %v, want ErrUserChanged", err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(f.ctx, f.owner); n != recoveryCodeCount {
		t.Errorf("recovery codes of the new enrolment = %d, want its %d", n, recoveryCodeCount)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, f.owner); err != nil {
		t.Errorf("RegenerateRecoveryCodes under the current seed: %v", err)
	}
}
