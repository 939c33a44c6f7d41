package user

import (
	"errors"
	"slices"
	"testing"

	"github.com/iogate/iogate"
)

// recordsSinceSetup returns the records written after the setup's account.created and
// user.created records, oldest first.
func (f *fixture) recordsSinceSetup(t *testing.T) []*iogate.AuditRecord {
	t.Helper()
	return f.auditRecords(t)[2:]
}

// eventsOf returns the events of records, in their order.
func eventsOf(records []*iogate.AuditRecord) []string {
	events := make([]string, len(records))
	for i, r := range records {
		events[i] = r.Event
	}
	return events
}

// TestTOTPChangesCommitRecords checks that turning TOTP on, replacing the recovery codes and
// turning TOTP off each commit exactly one record with the change. Each record is by the
// actor in the context and about the user. A replacement rejected because TOTP is off
// writes none.
func TestTOTPChangesCommitRecords(t *testing.T) {
	f := newFixture(t)
	actor := iogate.Actor{Type: iogate.ActorUser, ID: f.owner.ID, IP: "192.0.2.70"}
	f.ctx = iogate.WithActor(f.ctx, actor)

	enableTOTP(t, f, f.owner)
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, f.owner); err != nil {
		t.Fatalf("RegenerateRecoveryCodes: %v", err)
	}
	stale := copyUser(f.owner)
	if err := f.svc.DisableTOTP(f.ctx, f.owner); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, stale); !errors.Is(err, iogate.ErrUserChanged) {
		t.Fatalf("RegenerateRecoveryCodes with TOTP off: %v, want ErrUserChanged", err)
	}

	records := f.recordsSinceSetup(t)
	want := []string{iogate.AuditUserTOTPEnabled, iogate.AuditUserRecoveryCodesReplaced, iogate.AuditUserTOTPDisabled}
	if got := eventsOf(records); !slices.Equal(got, want) {
		t.Fatalf("records after enabling, replacing codes, disabling and a rejected replacement = %v, want %v", got, want)
	}
	wantDetails := `{"email":"owner@acme.test","userId":"` + f.owner.ID + `"}`
	for _, r := range records {
		if r.Actor != actor || r.AccountID != f.owner.AccountID {
			t.Errorf("%s record by %+v in account %s, want by %+v in %s", r.Event, r.Actor, r.AccountID, actor, f.owner.AccountID)
		}
		if string(r.Details) != wantDetails {
			t.Errorf("%s details = %s, want %s", r.Event, r.Details, wantDetails)
		}
	}
}

// TestAdminChangesCommitRecords checks that a role change, a removal and a change of the
// account's TOTP policy each commit exactly one record with the change, by the actor in the
// context. A role change that changes nothing and changes refused for the last owner write
// none.
func TestAdminChangesCommitRecords(t *testing.T) {
	f := newFixture(t)
	admin := signInAdmin(t, f).User
	before := len(f.recordsSinceSetup(t))
	actor := iogate.Actor{Type: iogate.ActorUser, ID: f.owner.ID, IP: "192.0.2.71"}
	f.ctx = iogate.WithActor(f.ctx, actor)

	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, f.owner.ID, iogate.RoleViewer); !errors.Is(err, errLastOwner) {
		t.Fatalf("ChangeRole of the last owner: %v, want errLastOwner", err)
	}
	if _, err := f.svc.RemoveUser(f.ctx, f.owner.AccountID, f.owner.ID); !errors.Is(err, errLastOwner) {
		t.Fatalf("RemoveUser of the last owner: %v, want errLastOwner", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, admin.ID, iogate.RoleAdmin); err != nil {
		t.Fatalf("ChangeRole to the same role: %v", err)
	}
	if _, err := f.svc.ChangeRole(f.ctx, f.owner.AccountID, admin.ID, iogate.RoleViewer); err != nil {
		t.Fatalf("ChangeRole: %v", err)
	}
	if err := f.svc.SetRequireTOTP(f.ctx, f.owner.AccountID, true); err != nil {
		t.Fatalf("SetRequireTOTP: %v", err)
	}
	if _, err := f.svc.RemoveUser(f.ctx, f.owner.AccountID, admin.ID); err != nil {
		t.Fatalf("RemoveUser: %v", err)
	}

	records := f.recordsSinceSetup(t)[before:]
	want := []string{iogate.AuditUserRoleChanged, iogate.AuditAccountPolicyChanged, iogate.AuditUserRemoved}
	if got := eventsOf(records); !slices.Equal(got, want) {
		t.Fatalf("records of the changes = %v, want %v", got, want)
	}
	wantDetails := []string{
		`{"email":"admin@acme.test","role":"viewer","userId":"` + admin.ID + `"}`,
		`{"requireTotp":true}`,
		`{"email":"admin@acme.test","role":"viewer","userId":"` + admin.ID + `"}`,
	}
	for i, r := range records {
		if r.Actor != actor || r.AccountID != f.owner.AccountID {
			t.Errorf("%s record by %+v in account %s, want by %+v in %s", r.Event, r.Actor, r.AccountID, actor, f.owner.AccountID)
		}
		if string(r.Details) != wantDetails[i] {
			t.Errorf("%s details = %s, want %s", r.Event, r.Details, wantDetails[i])
		}
	}
}

// TestLinkChangesCommitRecords checks that an invitation and a reset link each commit their
// record with the link, by the actor in the context. Accepting the invitation and using the
// reset link commit theirs with the change, by the user the link is for. A link used a
// second time writes no record.
func TestLinkChangesCommitRecords(t *testing.T) {
	f := newFixture(t)
	operator := iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}
	ctx := iogate.WithActor(f.ctx, operator)

	invite, _, err := f.svc.InviteUser(ctx, f.owner.AccountID, "New@Acme.test", iogate.RoleAdmin)
	if err != nil {
		t.Fatalf("InviteUser: %v", err)
	}
	pending, err := f.svc.ListPendingInvitations(f.ctx, f.owner.AccountID)
	if err != nil || len(pending) != 1 {
		t.Fatalf("ListPendingInvitations after InviteUser = %v, %v; want the invitation", pending, err)
	}
	u, err := f.svc.AcceptInvite(f.ctx, invite, "admin password 123", "192.0.2.72")
	if err != nil {
		t.Fatalf("AcceptInvite: %v", err)
	}
	if _, err := f.svc.AcceptInvite(f.ctx, invite, "admin password 123", "192.0.2.72"); !errors.Is(err, errLinkInvalid) {
		t.Fatalf("AcceptInvite twice: %v, want errLinkInvalid", err)
	}
	reset, _, err := f.svc.CreateResetLink(ctx, "new@acme.test")
	if err != nil {
		t.Fatalf("CreateResetLink: %v", err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, reset, "another admin password", "192.0.2.73"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, reset, "yet another password", "192.0.2.73"); !errors.Is(err, errLinkInvalid) {
		t.Fatalf("ResetPassword twice: %v, want errLinkInvalid", err)
	}

	records := f.recordsSinceSetup(t)
	self := func(ip string) iogate.Actor { return iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: ip} }
	want := []struct {
		event   string
		actor   iogate.Actor
		details string
	}{
		{iogate.AuditUserInvited, operator, `{"email":"new@acme.test","invitationId":"` + pending[0].ID + `","role":"admin"}`},
		{iogate.AuditUserCreated, self("192.0.2.72"), `{"email":"new@acme.test","role":"admin","userId":"` + u.ID + `","via":"invitation"}`},
		{iogate.AuditUserResetLinkCreated, operator, `{"email":"new@acme.test","userId":"` + u.ID + `"}`},
		{iogate.AuditUserPasswordReset, self("192.0.2.73"), `{"email":"new@acme.test","userId":"` + u.ID + `"}`},
	}
	if len(records) != len(want) {
		t.Fatalf("records of the links = %v, want %d", eventsOf(records), len(want))
	}
	for i, r := range records {
		w := want[i]
		if r.Event != w.event || r.Actor != w.actor || r.AccountID != f.owner.AccountID {
			t.Errorf("record %d = %s by %+v in account %s, want %s by %+v in %s", i, r.Event, r.Actor, r.AccountID, w.event, w.actor, f.owner.AccountID)
		}
		if string(r.Details) != w.details {
			t.Errorf("%s details = %s, want %s", r.Event, r.Details, w.details)
		}
	}
}
