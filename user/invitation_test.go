package user

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/iogate/iogate"
)

// operator is the actor of the changes that these tests make at the CLI.
var operator = iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}

// join invites email with role, as the operator, and accepts the invitation.
func (f *fixture) join(t *testing.T, email string, role iogate.Role) *iogate.User {
	t.Helper()
	token, _, err := f.svc.InviteUser(iogate.WithActor(f.ctx, operator), f.owner.AccountID, email, role)
	if err != nil {
		t.Fatalf("InviteUser %s: %v", email, err)
	}
	u, err := f.svc.AcceptInvite(f.ctx, token, "joined user password", "192.0.2.20")
	if err != nil {
		t.Fatalf("AcceptInvite %s: %v", email, err)
	}
	return u
}

// inviteAs invites email with role with actor as the creator, and returns the link's token
// and the pending invitation.
func (f *fixture) inviteAs(t *testing.T, actor iogate.Actor, email string, role iogate.Role) (string, *iogate.UserLink) {
	t.Helper()
	token, _, err := f.svc.InviteUser(iogate.WithActor(f.ctx, actor), f.owner.AccountID, email, role)
	if err != nil {
		t.Fatalf("InviteUser %s: %v", email, err)
	}
	l, err := f.svc.CheckLink(f.ctx, token, iogate.LinkInvite)
	if err != nil {
		t.Fatalf("CheckLink of the new invitation of %s: %v", email, err)
	}
	return token, l
}

// actorOf returns the dashboard actor of u, from a fixed address.
func actorOf(u *iogate.User) iogate.Actor {
	return iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: "192.0.2.30"}
}

// wantLinkInvalid fails the test unless the invitation token is rejected with the error of
// a used or expired link, both when it is checked and when it is accepted.
func (f *fixture) wantLinkInvalid(t *testing.T, what, token string) {
	t.Helper()
	if _, err := f.svc.CheckLink(f.ctx, token, iogate.LinkInvite); !errors.Is(err, errLinkInvalid) {
		t.Errorf("CheckLink of %s: %v, want errLinkInvalid", what, err)
	}
	if _, err := f.svc.AcceptInvite(f.ctx, token, "late joiner password", "192.0.2.21"); !errors.Is(err, errLinkInvalid) {
		t.Errorf("AcceptInvite of %s: %v, want errLinkInvalid", what, err)
	}
}

// cancelDetails is the details object of a user.invitation_cancelled record.
type cancelDetails struct {
	InvitationID string       `json:"invitationId"`
	Email        string       `json:"email"`
	Role         iogate.Role  `json:"role"`
	InvitedBy    iogate.Actor `json:"invitedBy"`
	Reason       string       `json:"reason"`
}

// wantCancelRecords checks that records are one user.invitation_cancelled record for each
// of links, in order, by actor and with reason.
func wantCancelRecords(t *testing.T, records []*iogate.AuditRecord, links []*iogate.UserLink, actor iogate.Actor, reason string) {
	t.Helper()
	if len(records) != len(links) {
		t.Fatalf("cancellation records = %v, want %d", eventsOf(records), len(links))
	}
	for i, r := range records {
		l := links[i]
		if r.Event != iogate.AuditUserInvitationCancelled || r.Actor != actor || r.AccountID != l.AccountID {
			t.Errorf("record %d = %s by %+v in account %s, want %s by %+v in %s", i, r.Event, r.Actor, r.AccountID,
				iogate.AuditUserInvitationCancelled, actor, l.AccountID)
		}
		var got cancelDetails
		if err := json.Unmarshal(r.Details, &got); err != nil {
			t.Fatalf("details of record %d: %v", i, err)
		}
		want := cancelDetails{InvitationID: l.ID, Email: l.Email, Role: l.Role, InvitedBy: l.CreatedBy, Reason: reason}
		if got != want {
			t.Errorf("details of record %d = %+v, want %+v", i, got, want)
		}
	}
}

// TestCancelInvitationLink checks that a cancelled invitation's link fails as used and
// expired links do, that the cancellation is recorded, and that a second cancellation and
// one from another account find nothing.
func TestCancelInvitationLink(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		ctx := iogate.WithActor(f.ctx, actorOf(f.owner))
		token, l := f.inviteAs(t, actorOf(f.owner), "ana@acme.test", iogate.RoleAdmin)
		if want := (iogate.Actor{Type: iogate.ActorUser, ID: f.owner.ID}); l.CreatedBy != want {
			t.Errorf("creator of the invitation = %+v, want %+v without the address", l.CreatedBy, want)
		}
		keptToken, _ := f.inviteAs(t, operator, "bob@acme.test", iogate.RoleViewer)
		usedToken, _ := f.inviteAs(t, operator, "used@acme.test", iogate.RoleViewer)
		if _, err := f.svc.AcceptInvite(f.ctx, usedToken, "used invite password", "192.0.2.22"); err != nil {
			t.Fatalf("AcceptInvite: %v", err)
		}
		expiredToken, _ := f.inviteAs(t, operator, "late@acme.test", iogate.RoleViewer)
		before := len(f.recordsSinceSetup(t))

		if _, err := f.svc.CancelInvitation(ctx, iogate.NewID(), l.ID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
			t.Errorf("CancelInvitation from another account: %v, want CodeNotFound", err)
		}
		cancelled, err := f.svc.CancelInvitation(ctx, f.owner.AccountID, l.ID)
		if err != nil {
			t.Fatalf("CancelInvitation: %v", err)
		}
		if cancelled.Email != "ana@acme.test" || cancelled.Role != iogate.RoleAdmin {
			t.Errorf("CancelInvitation returned %s as %s, want ana@acme.test as admin", cancelled.Email, cancelled.Role)
		}
		if _, err := f.svc.CancelInvitation(ctx, f.owner.AccountID, l.ID); !errors.Is(err, iogate.ErrInvitationNotPending) {
			t.Errorf("CancelInvitation twice: %v, want ErrInvitationNotPending", err)
		}
		wantCancelRecords(t, f.recordsSinceSetup(t)[before:], []*iogate.UserLink{l}, actorOf(f.owner), "")

		// The cancelled link gets the error of a used link and of an expired one, so it
		// does not tell its holder that it was cancelled.
		f.clock.Advance(InviteLinkTTL / 2)
		f.wantLinkInvalid(t, "a cancelled invitation", token)
		f.wantLinkInvalid(t, "a used invitation", usedToken)
		f.clock.Advance(InviteLinkTTL)
		f.wantLinkInvalid(t, "an expired invitation", expiredToken)
		f.clock.Advance(-InviteLinkTTL)
		if _, err := f.svc.CheckLink(f.ctx, keptToken, iogate.LinkInvite); err != nil {
			t.Errorf("CheckLink of an invitation that was not cancelled: %v", err)
		}
	})
}

// TestCancelInvitationsToEmail checks that the CLI's cancellation by email cancels every
// pending invitation of that email to the account and no other.
func TestCancelInvitationsToEmail(t *testing.T) {
	f := newFixture(t)
	ctx := iogate.WithActor(f.ctx, operator)
	adminToken, admin := f.inviteAs(t, operator, "ana@acme.test", iogate.RoleAdmin)
	viewerToken, viewer := f.inviteAs(t, actorOf(f.owner), "ana@acme.test", iogate.RoleViewer)
	otherToken, _ := f.inviteAs(t, operator, "bob@acme.test", iogate.RoleViewer)
	before := len(f.recordsSinceSetup(t))

	cancelled, err := f.svc.CancelInvitationsTo(ctx, f.owner.AccountID, "Ana@Acme.test")
	if err != nil {
		t.Fatalf("CancelInvitationsTo: %v", err)
	}
	if len(cancelled) != 2 || cancelled[0].ID != admin.ID || cancelled[1].ID != viewer.ID {
		t.Errorf("CancelInvitationsTo returned %d invitations, want the admin and the viewer invitation of ana@acme.test", len(cancelled))
	}
	wantCancelRecords(t, f.recordsSinceSetup(t)[before:], []*iogate.UserLink{admin, viewer}, operator, "")
	f.wantLinkInvalid(t, "the cancelled admin invitation", adminToken)
	f.wantLinkInvalid(t, "the cancelled viewer invitation", viewerToken)
	if _, err := f.svc.CheckLink(f.ctx, otherToken, iogate.LinkInvite); err != nil {
		t.Errorf("CheckLink of another email's invitation: %v", err)
	}

	_, err = f.svc.CancelInvitationsTo(ctx, f.owner.AccountID, "ana@acme.test")
	if iogate.ErrorCodeOf(err) != iogate.CodeNotFound || !strings.Contains(iogate.ErrorMessageOf(err), "ana@acme.test") {
		t.Errorf("CancelInvitationsTo with nothing pending: %v, want CodeNotFound naming the email", err)
	}
	if _, err := f.svc.CancelInvitationsTo(ctx, f.owner.AccountID, "not an email"); iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
		t.Errorf("CancelInvitationsTo with an invalid email: %v, want CodeInvalid", err)
	}
}

// TestRemovalCancelsInvitations checks that removing an owner cancels the invitations
// they sent, with the remover as the actor of each cancellation, and keeps the invitations
// of other owners.
func TestRemovalCancelsInvitations(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		second := f.join(t, "second@acme.test", iogate.RoleOwner)
		amyToken, amy := f.inviteAs(t, actorOf(second), "amy@acme.test", iogate.RoleViewer)
		zedToken, zed := f.inviteAs(t, actorOf(second), "zed@acme.test", iogate.RoleOwner)
		keptToken, _ := f.inviteAs(t, actorOf(f.owner), "kim@acme.test", iogate.RoleOwner)
		operatorToken, _ := f.inviteAs(t, operator, "ops@acme.test", iogate.RoleAdmin)
		before := len(f.recordsSinceSetup(t))

		if _, err := f.svc.RemoveUser(iogate.WithActor(f.ctx, actorOf(f.owner)), f.owner.AccountID, second.ID); err != nil {
			t.Fatalf("RemoveUser: %v", err)
		}
		records := f.recordsSinceSetup(t)[before:]
		if len(records) == 0 || records[0].Event != iogate.AuditUserRemoved {
			t.Fatalf("records of the removal = %v, want user.removed first", eventsOf(records))
		}
		wantCancelRecords(t, records[1:], []*iogate.UserLink{amy, zed}, actorOf(f.owner), iogate.InvitationInviterRemoved)
		f.wantLinkInvalid(t, "the removed owner's viewer invitation", amyToken)
		f.wantLinkInvalid(t, "the removed owner's owner invitation", zedToken)
		for what, token := range map[string]string{"another owner's invitation": keptToken, "the operator's invitation": operatorToken} {
			if _, err := f.svc.CheckLink(f.ctx, token, iogate.LinkInvite); err != nil {
				t.Errorf("CheckLink of %s after the removal: %v", what, err)
			}
		}
	})
}

// TestDemotionCancelsInvitations checks that demoting an owner cancels every invitation
// they sent, whatever role it invites to, and that a demoted owner can no longer invite.
func TestDemotionCancelsInvitations(t *testing.T) {
	forEachFixture(t, func(t *testing.T, f *fixture) {
		second := f.join(t, "second@acme.test", iogate.RoleOwner)
		viewerToken, viewer := f.inviteAs(t, actorOf(second), "amy@acme.test", iogate.RoleViewer)
		keptToken, _ := f.inviteAs(t, actorOf(f.owner), "kim@acme.test", iogate.RoleOwner)

		// A change to the role the user has changes nothing.
		if _, err := f.svc.ChangeRole(iogate.WithActor(f.ctx, operator), f.owner.AccountID, second.ID, iogate.RoleOwner); err != nil {
			t.Fatalf("ChangeRole to owner: %v", err)
		}
		if _, err := f.svc.CheckLink(f.ctx, viewerToken, iogate.LinkInvite); err != nil {
			t.Errorf("CheckLink after a change to the same role: %v", err)
		}
		before := len(f.recordsSinceSetup(t))

		if _, err := f.svc.ChangeRole(iogate.WithActor(f.ctx, operator), f.owner.AccountID, second.ID, iogate.RoleAdmin); err != nil {
			t.Fatalf("ChangeRole to admin: %v", err)
		}
		records := f.recordsSinceSetup(t)[before:]
		if len(records) == 0 || records[0].Event != iogate.AuditUserRoleChanged {
			t.Fatalf("records of the demotion = %v, want user.role_changed first", eventsOf(records))
		}
		wantCancelRecords(t, records[1:], []*iogate.UserLink{viewer}, operator, iogate.InvitationInviterDemoted)
		f.wantLinkInvalid(t, "the demoted owner's viewer invitation", viewerToken)
		if _, err := f.svc.CheckLink(f.ctx, keptToken, iogate.LinkInvite); err != nil {
			t.Errorf("CheckLink of another owner's invitation after the demotion: %v", err)
		}

		// A request that checked the role before the demotion still cannot store an
		// invitation after it.
		_, _, err := f.svc.InviteUser(iogate.WithActor(f.ctx, actorOf(second)), f.owner.AccountID, "sneaky@acme.test", iogate.RoleOwner)
		if !errors.Is(err, iogate.ErrInviterNotOwner) {
			t.Errorf("InviteUser by the demoted owner: %v, want ErrInviterNotOwner", err)
		}
	})
}

// TestLegacyEmailStaysReachable checks that a user and an invitation whose addresses were
// stored before one of their characters was disallowed can still be found, reset, removed
// and cancelled by that address. An unknown address with such a character is rejected
// with an error that names the code point.
func TestLegacyEmailStaysReachable(t *testing.T) {
	f := newFixture(t)
	ctx := iogate.WithActor(f.ctx, operator)
	const legacy = "ana\u200b@acme.test"
	hash, err := hashNewPassword(ownerPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	stored := &iogate.User{ID: iogate.NewID(), AccountID: f.owner.AccountID, Email: legacy, Role: iogate.RoleViewer, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateUser(f.ctx, stored); err != nil {
		t.Fatalf("CreateUser with a legacy email: %v", err)
	}

	if u, err := f.svc.FindUserByEmail(ctx, "Ana\u200b@Acme.test"); err != nil || u.ID != stored.ID {
		t.Errorf("FindUserByEmail of the legacy email: user %v, error %v; want the stored user", u, err)
	}
	if _, _, err := f.svc.CreateResetLink(ctx, legacy); err != nil {
		t.Errorf("CreateResetLink of the legacy email: %v", err)
	}
	if u, err := f.svc.RemoveUserByEmail(ctx, legacy); err != nil || u.ID != stored.ID {
		t.Errorf("RemoveUserByEmail of the legacy email: user %v, error %v; want the stored user removed", u, err)
	}
	_, err = f.svc.FindUserByEmail(ctx, legacy)
	if iogate.ErrorCodeOf(err) != iogate.CodeInvalid || !strings.Contains(iogate.ErrorMessageOf(err), "U+200B") {
		t.Errorf("FindUserByEmail of the removed legacy email: %v, want CodeInvalid naming U+200B", err)
	}

	invitation := &iogate.UserLink{Purpose: iogate.LinkInvite, AccountID: f.owner.AccountID, Email: legacy, Role: iogate.RoleViewer}
	if _, _, err := f.svc.createLink(ctx, invitation, InviteLinkTTL, map[string]any{"email": legacy}); err != nil {
		t.Fatalf("createLink of an invitation to a legacy email: %v", err)
	}
	cancelled, err := f.svc.CancelInvitationsTo(ctx, f.owner.AccountID, legacy)
	if err != nil || len(cancelled) != 1 || cancelled[0].ID != invitation.ID {
		t.Errorf("CancelInvitationsTo the legacy email: %d cancelled, error %v; want its invitation", len(cancelled), err)
	}
	_, err = f.svc.CancelInvitationsTo(ctx, f.owner.AccountID, legacy)
	if iogate.ErrorCodeOf(err) != iogate.CodeInvalid || !strings.Contains(iogate.ErrorMessageOf(err), "U+200B") {
		t.Errorf("CancelInvitationsTo with nothing pending for the legacy email: %v, want CodeInvalid naming U+200B", err)
	}
}
