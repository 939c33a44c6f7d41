package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// RunInvitationBackfill checks the migration that gives links an ID and a creator, fills
// them in for stored invitations from their user.invited records, and cancels the
// invitations of senders who are no longer owners. It stores invitations on s, the record
// of one of them pruned, and then calls remigrate. remigrate must take the database back
// to the schema before that migration, dropping the columns it adds. It must run the
// statements in legacy, which change users as iogate did before the migration. Then it
// returns a store on the database that has applied the migration again. RunInvitationBackfill then checks the IDs and
// creators of the pending invitations, and that removing their creator cancels those
// whose creator the audit log still showed.
func RunInvitationBackfill(t *testing.T, s iogate.Store, remigrate func(t *testing.T, legacy ...string) iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	a := newAccount(t, s)
	owner := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	newUser(t, s, a.ID, "second@acme.test", iogate.RoleOwner)
	ownerAtDesk := iogate.Actor{Type: iogate.ActorUser, ID: owner.ID, IP: "192.0.2.50"}
	store := func(actor iogate.Actor, email string, role iogate.Role) (*iogate.UserLink, *iogate.AuditRecord) {
		t.Helper()
		l := newInvitation(iogate.Actor{Type: actor.Type, ID: actor.ID}, a.ID, email, role, base.Add(72*time.Hour))
		rec, err := chain.NewRecord(a.ID, iogate.AuditUserInvited, actor, l.CreatedAt, map[string]any{"email": email, "role": role})
		must(t, "NewRecord", err)
		must(t, "CreateUserLink "+email, s.CreateUserLink(ctx, l, rec))
		return l, rec
	}

	// The record of this invitation is pruned before the migration, so its creator is
	// unknown afterwards.
	_, pruned := store(ownerAtDesk, "pruned@acme.test", iogate.RoleOwner)
	store(ownerAtDesk, "amy@acme.test", iogate.RoleViewer)
	store(suiteOperator, "ops@acme.test", iogate.RoleAdmin)
	// Two invitations of one email at one time differ by role, which the join must match.
	store(ownerAtDesk, "twin@acme.test", iogate.RoleAdmin)
	store(suiteOperator, "twin@acme.test", iogate.RoleViewer)
	_, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(pruned, base.Add(time.Hour)))
	must(t, "PruneAuditRecords", err)
	// Before the migration, removing or demoting a user left their invitations valid.
	demoted := newUser(t, s, a.ID, "demoted@acme.test", iogate.RoleOwner)
	removed := newUser(t, s, a.ID, "removed@acme.test", iogate.RoleOwner)
	byDemoted, _ := store(iogate.Actor{Type: iogate.ActorUser, ID: demoted.ID}, "by-demoted@acme.test", iogate.RoleOwner)
	byRemoved, _ := store(iogate.Actor{Type: iogate.ActorUser, ID: removed.ID}, "by-removed@acme.test", iogate.RoleViewer)
	reset := &iogate.UserLink{ID: iogate.NewID(), TokenHash: digest("reset"), Purpose: iogate.LinkReset, UserID: owner.ID, AccountID: a.ID,
		Email: owner.Email, CreatedBy: suiteOperator, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	must(t, "CreateUserLink(reset)", s.CreateUserLink(ctx, reset, record(t, a.ID, iogate.AuditUserResetLinkCreated, "")))

	s = remigrate(t,
		`UPDATE users SET role = 'admin' WHERE email = 'demoted@acme.test'`,
		`DELETE FROM users WHERE email = 'removed@acme.test'`)
	pending, err := s.ListPendingInvitations(ctx, a.ID, base)
	must(t, "ListPendingInvitations", err)
	type invitation struct {
		Email     string
		Role      iogate.Role
		CreatedBy iogate.Actor
	}
	var got []invitation
	ids := map[string]bool{}
	for _, l := range pending {
		got = append(got, invitation{l.Email, l.Role, l.CreatedBy})
		if len(l.ID) != 36 || l.ID[14] != '4' || ids[l.ID] {
			t.Errorf("ID of the invitation of %s as %s = %q, want a version 4 UUID of its own", l.Email, l.Role, l.ID)
		}
		ids[l.ID] = true
	}
	byOwner := iogate.Actor{Type: iogate.ActorUser, ID: owner.ID}
	want := []invitation{
		{"amy@acme.test", iogate.RoleViewer, byOwner},
		{"ops@acme.test", iogate.RoleAdmin, suiteOperator},
		{"pruned@acme.test", iogate.RoleOwner, iogate.Actor{}},
		{"twin@acme.test", iogate.RoleAdmin, byOwner},
		{"twin@acme.test", iogate.RoleViewer, suiteOperator},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("pending invitations after the migration (-want +got):\n%s", diff)
	}
	// The migration cancelled the invitations of the demoted and the removed owner.
	wantLinkGone(t, s, "the invitation of an owner demoted before the migration", byDemoted)
	wantLinkGone(t, s, "the invitation of an owner removed before the migration", byRemoved)
	l, err := s.FindUserLink(ctx, reset.TokenHash, iogate.LinkReset, base)
	must(t, "FindUserLink(reset)", err)
	if l.ID != "" || l.CreatedBy != (iogate.Actor{}) {
		t.Errorf("reset link after the migration has ID %q and creator %+v, want neither", l.ID, l.CreatedBy)
	}

	// Removing the owner cancels the invitations that the migration found the owner had
	// made. The one whose record was pruned stays valid.
	removal, err := chain.NewUserRecord(owner, iogate.AuditUserRemoved, suiteOperator, base, nil)
	must(t, "NewUserRecord", err)
	must(t, "DeleteUser", s.DeleteUser(ctx, owner.ID, removal))
	if got, want := pendingEmails(t, s, a.ID), []string{"ops@acme.test", "pruned@acme.test", "twin@acme.test"}; !cmp.Equal(got, want) {
		t.Errorf("pending invitations after the owner's removal = %q, want %q", got, want)
	}
}
