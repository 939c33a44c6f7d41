package user

// Tests for lost updates between a request's signed-in user and changes that other
// requests made to that user in the meantime. A dashboard request loads its user once,
// when it authenticates the session. A TOTP change later in the same request must write
// only the TOTP columns, not the role and password hash as they were at the start.

import (
	"testing"

	"github.com/iogate/iogate"
)

// signInAdmin adds an admin to the owner's account and returns a signed-in session of
// theirs, as a dashboard request has it after Authenticate.
func signInAdmin(t *testing.T, f *fixture) *Current {
	t.Helper()
	token, err := f.svc.InviteUser(f.ctx, f.owner.AccountID, "admin@acme.test", iogate.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AcceptInvite(f.ctx, token, "admin password 123"); err != nil {
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

	reset, err := f.svc.CreateResetLink(f.ctx, "admin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, reset, "the admin's new password"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	// The request that authenticated before the reset goes on to write the user.
	f.svc.BeginTOTP(f.ctx, cur.User)

	if _, err := f.svc.SignIn(f.ctx, "admin@acme.test", "admin password 123", "192.0.2.61"); err == nil {
		t.Error("the password from before the reset signs in again after a TOTP enrolment request that began before the reset")
	}
}
