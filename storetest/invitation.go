package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// suiteOperator is the creator of the suite's invitations made at the CLI, and the actor
// of the records that record returns.
var suiteOperator = iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}

// userActor returns u as the creator of an invitation, which carries no address.
func userActor(u *iogate.User) iogate.Actor { return iogate.Actor{Type: iogate.ActorUser, ID: u.ID} }

// newInvitation returns an invitation of email to accountID with role, by creator, created
// at base and valid until expires. Its token hash is the digest of its ID.
func newInvitation(creator iogate.Actor, accountID, email string, role iogate.Role, expires time.Time) *iogate.UserLink {
	id := iogate.NewID()
	return &iogate.UserLink{ID: id, TokenHash: digest(id), Purpose: iogate.LinkInvite, AccountID: accountID, Email: email, Role: role,
		CreatedBy: creator, CreatedAt: base, ExpiresAt: expires}
}

// invite stores the invitation that newInvitation returns, with its record, and returns it.
func invite(t *testing.T, s iogate.Store, creator iogate.Actor, accountID, email string, role iogate.Role, expires time.Time) *iogate.UserLink {
	t.Helper()
	l := newInvitation(creator, accountID, email, role, expires)
	must(t, "CreateUserLink "+email, s.CreateUserLink(ctxFor(t), l, record(t, accountID, iogate.AuditUserInvited, "")))
	return l
}

// cancelledRec returns the record of cancelling l by the suite's operator at base.
func cancelledRec(t *testing.T, l *iogate.UserLink) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewInvitationCancelledRecord(l, suiteOperator, base, "")
	must(t, "NewInvitationCancelledRecord", err)
	return r
}

// wantLinkGone fails the test unless l's link is rejected, as a used or expired one is,
// when it is looked up and when it is accepted.
func wantLinkGone(t *testing.T, s iogate.Store, what string, l *iogate.UserLink) {
	t.Helper()
	ctx := ctxFor(t)
	_, err := s.FindUserLink(ctx, l.TokenHash, iogate.LinkInvite, base)
	wantCode(t, "FindUserLink of "+what, err, iogate.CodeNotFound)
	u := &iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}
	wantCode(t, "AcceptInvite of "+what, s.AcceptInvite(ctx, l.TokenHash, base, u, record(t, l.AccountID, iogate.AuditUserCreated, "")), iogate.CodeNotFound)
}

// wantLinkValid fails the test unless l's link is still valid at base.
func wantLinkValid(t *testing.T, s iogate.Store, what string, l *iogate.UserLink) {
	t.Helper()
	_, err := s.FindUserLink(ctxFor(t), l.TokenHash, iogate.LinkInvite, base)
	must(t, "FindUserLink of "+what, err)
}

// pendingEmails returns the emails of the account's pending invitations at base.
func pendingEmails(t *testing.T, s iogate.Store, accountID string) []string {
	t.Helper()
	pending, err := s.ListPendingInvitations(ctxFor(t), accountID, base)
	must(t, "ListPendingInvitations", err)
	var emails []string
	for _, l := range pending {
		emails = append(emails, l.Email)
	}
	return emails
}

// testListPendingInvitations checks that only an account's unused, unexpired invitations
// are pending, in email order, with their IDs and creators but without their token hashes.
// An accepted invitation, an expired one, a password reset, another account's invitation
// and an invitation for an email that became a user through another link are left out.
func testListPendingInvitations(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	now := base.Add(time.Hour)
	owner := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)

	_, err := s.ListPendingInvitations(ctx, a.ID, now)
	must(t, "ListPendingInvitations with no links", err)

	zoe := invite(t, s, suiteOperator, a.ID, "zoe@acme.test", iogate.RoleViewer, now.Add(72*time.Hour))
	ana := invite(t, s, userActor(owner), a.ID, "ana@acme.test", iogate.RoleViewer, now.Add(time.Microsecond))
	invite(t, s, suiteOperator, a.ID, "expired@acme.test", iogate.RoleViewer, now)
	accepted := invite(t, s, suiteOperator, a.ID, "accepted@acme.test", iogate.RoleViewer, now.Add(time.Hour))
	must(t, "AcceptInvite", s.AcceptInvite(ctx, accepted.TokenHash, base.Add(time.Minute),
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a.ID, iogate.AuditUserCreated, "")))
	invite(t, s, suiteOperator, a.ID, "accepted@acme.test", iogate.RoleViewer, now.Add(time.Hour))
	invite(t, s, suiteOperator, other.ID, "other@acme.test", iogate.RoleViewer, now.Add(time.Hour))
	u := newUser(t, s, a.ID, "reset@acme.test", iogate.RoleAdmin)
	must(t, "CreateUserLink(reset)", s.CreateUserLink(ctx, &iogate.UserLink{TokenHash: digest("reset"), Purpose: iogate.LinkReset,
		AccountID: a.ID, UserID: u.ID, Email: u.Email, CreatedAt: base, ExpiresAt: now.Add(time.Hour)}, record(t, a.ID, iogate.AuditUserResetLinkCreated, "")))

	got, err := s.ListPendingInvitations(ctx, a.ID, now)
	must(t, "ListPendingInvitations", err)
	var want []*iogate.UserLink
	for _, l := range []*iogate.UserLink{ana, zoe} {
		pending := *l
		pending.TokenHash = nil
		want = append(want, &pending)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListPendingInvitations (-want +got):\n%s", diff)
	}
}

// testInvitationWithoutID checks that an invitation without an ID is rejected and stores
// neither the link nor its record, because no one could cancel it.
func testInvitationWithoutID(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	records := allAuditRecords(t, s, a.ID)
	l := newInvitation(suiteOperator, a.ID, "ana@acme.test", iogate.RoleViewer, base.Add(time.Hour))
	l.ID = ""
	wantCode(t, "CreateUserLink of an invitation without an ID", s.CreateUserLink(ctx, l, record(t, a.ID, iogate.AuditUserInvited, "")), iogate.CodeInternal)
	_, err := s.FindUserLink(ctx, l.TokenHash, iogate.LinkInvite, base)
	wantCode(t, "FindUserLink of the rejected invitation", err, iogate.CodeNotFound)
	if diff := recordDiff(records, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("audit records after the rejected invitation (-want +got):\n%s", diff)
	}
}

// testCancelInvitation checks that a cancelled invitation's link is rejected as a used one
// is, that the cancellation appends its record, and that an invitation which is not
// pending in the record's account is not found and appends nothing.
func testCancelInvitation(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	owner := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	ana := invite(t, s, userActor(owner), a.ID, "ana@acme.test", iogate.RoleAdmin, base.Add(72*time.Hour))
	bob := invite(t, s, suiteOperator, a.ID, "bob@acme.test", iogate.RoleViewer, base.Add(72*time.Hour))
	expired := invite(t, s, suiteOperator, a.ID, "old@acme.test", iogate.RoleViewer, base)
	accepted := invite(t, s, suiteOperator, a.ID, "joined@acme.test", iogate.RoleViewer, base.Add(time.Hour))
	must(t, "AcceptInvite", s.AcceptInvite(ctx, accepted.TokenHash, base,
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a.ID, iogate.AuditUserCreated, "")))
	records, others := allAuditRecords(t, s, a.ID), allAuditRecords(t, s, other.ID)

	elsewhere := *ana
	elsewhere.AccountID = other.ID
	for _, c := range []struct {
		name string
		id   string
		rec  *iogate.AuditRecord
	}{
		{"of another account", ana.ID, cancelledRec(t, &elsewhere)},
		{"that expired", expired.ID, cancelledRec(t, expired)},
		{"that was accepted", accepted.ID, cancelledRec(t, accepted)},
		{"with an unknown ID", iogate.NewID(), cancelledRec(t, ana)},
		{"with an empty ID", "", cancelledRec(t, ana)},
	} {
		wantCode(t, "CancelInvitation "+c.name, s.CancelInvitation(ctx, c.id, c.rec), iogate.CodeNotFound)
	}
	wantLinkValid(t, s, "an invitation whose cancellation was not found", ana)
	if diff := recordDiff(records, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Fatalf("audit records after cancellations that were not found (-want +got):\n%s", diff)
	}
	if diff := recordDiff(others, allAuditRecords(t, s, other.ID)); diff != "" {
		t.Fatalf("records of the other account after cancellations that were not found (-want +got):\n%s", diff)
	}

	cancelled := cancelledRec(t, ana)
	must(t, "CancelInvitation", s.CancelInvitation(ctx, ana.ID, cancelled))
	wantLinkGone(t, s, "a cancelled invitation", ana)
	wantLinkValid(t, s, "an invitation that was not cancelled", bob)
	if got, want := pendingEmails(t, s, a.ID), []string{"bob@acme.test"}; !cmp.Equal(got, want) {
		t.Errorf("pending invitations after a cancellation = %q, want %q", got, want)
	}
	wantCode(t, "CancelInvitation twice", s.CancelInvitation(ctx, ana.ID, cancelledRec(t, ana)), iogate.CodeNotFound)
	if diff := recordDiff(append(records, cancelled), allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("audit records after a cancellation and its repetition (-want +got):\n%s", diff)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}

// testCancelInvitationRecord checks that a cancellation without its record, or with a
// record of another event, is rejected and changes nothing.
func testCancelInvitationRecord(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	l := invite(t, s, suiteOperator, a.ID, "ana@acme.test", iogate.RoleViewer, base.Add(time.Hour))
	records := allAuditRecords(t, s, a.ID)
	wantCode(t, "CancelInvitation without a record", s.CancelInvitation(ctx, l.ID, nil), iogate.CodeInternal)
	wantCode(t, "CancelInvitation with a user.invited record", s.CancelInvitation(ctx, l.ID, record(t, a.ID, iogate.AuditUserInvited, "")), iogate.CodeInternal)
	wantLinkValid(t, s, "an invitation whose cancellation was rejected", l)
	if diff := recordDiff(records, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("audit records after rejected cancellations (-want +got):\n%s", diff)
	}
}

// invitationFixture is an account with two owners and invitations by each, by the
// operator, and by the first owner that expired or were accepted.
type invitationFixture struct {
	account       *iogate.Account
	owner, second *iogate.User
	// mine are the first owner's pending invitations, in email order.
	mine []*iogate.UserLink
	// kept are the pending invitations of others, which no change of the first owner
	// cancels.
	kept []*iogate.UserLink
	// records are the account's records after the fixture was made.
	records []*iogate.AuditRecord
}

func newInvitationFixture(t *testing.T, s iogate.Store) *invitationFixture {
	t.Helper()
	ctx := ctxFor(t)
	f := &invitationFixture{account: newAccount(t, s)}
	a := f.account.ID
	f.owner = newUser(t, s, a, "owner@acme.test", iogate.RoleOwner)
	f.second = newUser(t, s, a, "second@acme.test", iogate.RoleOwner)
	valid := base.Add(72 * time.Hour)
	zed := invite(t, s, userActor(f.owner), a, "zed@acme.test", iogate.RoleOwner, valid)
	amy := invite(t, s, userActor(f.owner), a, "amy@acme.test", iogate.RoleViewer, valid)
	f.mine = []*iogate.UserLink{amy, zed}
	f.kept = []*iogate.UserLink{
		invite(t, s, userActor(f.second), a, "kim@acme.test", iogate.RoleAdmin, valid),
		invite(t, s, suiteOperator, a, "ops@acme.test", iogate.RoleAdmin, valid),
	}
	// An expired invitation is no longer pending, so no change cancels or records it.
	invite(t, s, userActor(f.owner), a, "late@acme.test", iogate.RoleViewer, base)
	accepted := invite(t, s, userActor(f.owner), a, "joined@acme.test", iogate.RoleViewer, valid)
	must(t, "AcceptInvite", s.AcceptInvite(ctx, accepted.TokenHash, base,
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a, iogate.AuditUserCreated, "")))
	f.records = allAuditRecords(t, s, a)
	return f
}

// changeRec returns the record of event about the first owner, made by the second owner a
// minute after base.
func (f *invitationFixture) changeRec(t *testing.T, event string) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewUserRecord(f.owner, event, iogate.Actor{Type: iogate.ActorUser, ID: f.second.ID, IP: "192.0.2.10"}, base.Add(time.Minute), nil)
	must(t, "NewUserRecord", err)
	return r
}

// wantCancelled checks that cause, the record of a change of the first owner, is followed
// in the account's log by one user.invitation_cancelled record for each of the owner's
// pending invitations, with reason, and by nothing else. It checks that those links are
// rejected and that the others' invitations are still pending.
func (f *invitationFixture) wantCancelled(t *testing.T, s iogate.Store, cause *iogate.AuditRecord, reason string) {
	t.Helper()
	got := allAuditRecords(t, s, f.account.ID)
	if diff := recordDiff(append(f.records, cause), got[:min(len(got), len(f.records)+1)]); diff != "" {
		t.Fatalf("audit records up to the change (-want +got):\n%s", diff)
	}
	added := got[len(f.records)+1:]
	if len(added) != len(f.mine) {
		t.Fatalf("the change appended %d records after its own, want %d, one per pending invitation of the owner", len(added), len(f.mine))
	}
	for i, r := range added {
		l := f.mine[i]
		if r.Event != iogate.AuditUserInvitationCancelled || r.Actor != cause.Actor || !r.Time.Equal(cause.Time) {
			t.Errorf("record %d after the change = %s by %+v at %s, want %s by %+v at %s",
				i, r.Event, r.Actor, r.Time, iogate.AuditUserInvitationCancelled, cause.Actor, cause.Time)
		}
		want, err := json.Marshal(map[string]any{"invitationId": l.ID, "email": l.Email, "role": l.Role,
			"invitedBy": userActor(f.owner), "reason": reason})
		must(t, "encode the expected details", err)
		if string(r.Details) != string(want) {
			t.Errorf("details of the cancellation of %s = %s, want %s", l.Email, r.Details, want)
		}
		wantLinkGone(t, s, "an invitation of "+l.Email+" that the change cancelled", l)
	}
	for _, l := range f.kept {
		wantLinkValid(t, s, "an invitation of "+l.Email+" by someone else", l)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}

// testRemovalCancelsInvitations checks that removing a user cancels, in the same
// transaction, the invitations they created that are pending, and only those.
func testRemovalCancelsInvitations(t *testing.T, s iogate.Store) {
	f := newInvitationFixture(t, s)
	removed := f.changeRec(t, iogate.AuditUserRemoved)
	must(t, "DeleteUser", s.DeleteUser(ctxFor(t), f.owner.ID, removed))
	f.wantCancelled(t, s, removed, iogate.InvitationInviterRemoved)
}

// testDemotionCancelsInvitations checks that a role change keeps the user's invitations
// while the new role may manage users, and cancels every one of them, whatever role it
// invites to, when the new role may not.
func testDemotionCancelsInvitations(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	f := newInvitationFixture(t, s)
	same := f.changeRec(t, iogate.AuditUserRoleChanged)
	must(t, "SetUserRole owner", s.SetUserRole(ctx, f.owner.ID, iogate.RoleOwner, base.Add(time.Minute), same))
	for _, l := range f.mine {
		wantLinkValid(t, s, "an invitation of "+l.Email+" after a role change to owner", l)
	}
	f.records = append(f.records, same)

	demoted := f.changeRec(t, iogate.AuditUserRoleChanged)
	must(t, "SetUserRole admin", s.SetUserRole(ctx, f.owner.ID, iogate.RoleAdmin, base.Add(time.Minute), demoted))
	f.wantCancelled(t, s, demoted, iogate.InvitationInviterDemoted)

	// A second demotion finds nothing left to cancel.
	f.records = allAuditRecords(t, s, f.account.ID)
	f.mine = nil
	viewer := f.changeRec(t, iogate.AuditUserRoleChanged)
	must(t, "SetUserRole viewer", s.SetUserRole(ctx, f.owner.ID, iogate.RoleViewer, base.Add(time.Minute), viewer))
	f.wantCancelled(t, s, viewer, iogate.InvitationInviterDemoted)
}

// testInvitationByUserWhoMayNotInvite checks that an invitation whose creator is a user
// who may not manage users in the invitation's account is rejected, and stores neither
// the link nor its record.
func testInvitationByUserWhoMayNotInvite(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	owner := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	admin := newUser(t, s, a.ID, "admin@acme.test", iogate.RoleAdmin)
	stranger := newUser(t, s, other.ID, "stranger@acme.test", iogate.RoleOwner)
	records := allAuditRecords(t, s, a.ID)
	for _, c := range []struct {
		name    string
		creator iogate.Actor
	}{
		{"an admin", userActor(admin)},
		{"an owner of another account", userActor(stranger)},
		{"an unknown user", iogate.Actor{Type: iogate.ActorUser, ID: iogate.NewID()}},
		{"a user ID that is not UTF-8", iogate.Actor{Type: iogate.ActorUser, ID: "\xff\xfe"}},
	} {
		l := newInvitation(c.creator, a.ID, "ana@acme.test", iogate.RoleViewer, base.Add(time.Hour))
		wantCode(t, "CreateUserLink of an invitation by "+c.name, s.CreateUserLink(ctx, l, record(t, a.ID, iogate.AuditUserInvited, "")), iogate.CodeForbidden)
		_, err := s.FindUserLink(ctx, l.TokenHash, iogate.LinkInvite, base)
		wantCode(t, "FindUserLink of the invitation by "+c.name, err, iogate.CodeNotFound)
	}
	if diff := recordDiff(records, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("audit records after rejected invitations (-want +got):\n%s", diff)
	}
	l := invite(t, s, userActor(owner), a.ID, "ana@acme.test", iogate.RoleOwner, base.Add(time.Hour))
	wantLinkValid(t, s, "an invitation by an owner", l)
}

// newDoomedOwner adds the owner of round to accountID and returns them with the record of
// their removal by the suite's operator.
func newDoomedOwner(t *testing.T, s iogate.Store, accountID string, round int) (*iogate.User, *iogate.AuditRecord) {
	t.Helper()
	owner := newUser(t, s, accountID, fmt.Sprintf("owner-%d@acme.test", round), iogate.RoleOwner)
	removal, err := chain.NewUserRecord(owner, iogate.AuditUserRemoved, suiteOperator, base, nil)
	must(t, "NewUserRecord", err)
	return owner, removal
}

// removeWhileInviting removes an owner through one handle while the owner's invitation is
// stored through the other, as a removal on one node and a request of the owner on another
// do. Whichever commits first, no valid invitation of the removed owner may remain: the
// invitation is either rejected or cancelled with the removal.
func removeWhileInviting(t *testing.T, first, second iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, first)
	newUser(t, first, a.ID, "keeper@acme.test", iogate.RoleOwner)
	const rounds = 10
	for round := range rounds {
		owner, removal := newDoomedOwner(t, first, a.ID, round)
		l := newInvitation(userActor(owner), a.ID, fmt.Sprintf("invitee-%d@acme.test", round), iogate.RoleOwner, base.Add(time.Hour))
		invited := record(t, a.ID, iogate.AuditUserInvited, "")

		var removeErr, inviteErr error
		runTogether(
			func() { removeErr = first.DeleteUser(ctx, owner.ID, removal) },
			func() { inviteErr = second.CreateUserLink(ctx, l, invited) },
		)

		must(t, fmt.Sprintf("DeleteUser of round %d", round), removeErr)
		if inviteErr != nil {
			wantCode(t, fmt.Sprintf("CreateUserLink of round %d", round), inviteErr, iogate.CodeForbidden)
		}
		wantLinkGone(t, first, fmt.Sprintf("the invitation of round %d", round), l)
	}
	verifyChain(t, allAuditRecords(t, first, ""))
}

// acceptWhileRemovingInviter accepts an invitation through one handle while its creator is
// removed through the other. Either the invitation is accepted before the removal, or the
// removal cancels it and the acceptance finds no link. Neither fails otherwise: on
// PostgreSQL, a removal that locked the account before the link would deadlock with the
// acceptance, which locks the link first.
func acceptWhileRemovingInviter(t *testing.T, first, second iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, first)
	newUser(t, first, a.ID, "keeper@acme.test", iogate.RoleOwner)
	const rounds = 10
	for round := range rounds {
		owner, removal := newDoomedOwner(t, first, a.ID, round)
		email := fmt.Sprintf("invitee-%d@acme.test", round)
		l := invite(t, first, userActor(owner), a.ID, email, iogate.RoleAdmin, base.Add(time.Hour))
		joined := record(t, a.ID, iogate.AuditUserCreated, "")
		invitee := &iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}

		var removeErr, acceptErr error
		runTogether(
			func() { removeErr = first.DeleteUser(ctx, owner.ID, removal) },
			func() { acceptErr = second.AcceptInvite(ctx, l.TokenHash, base, invitee, joined) },
		)

		must(t, fmt.Sprintf("DeleteUser of round %d", round), removeErr)
		_, findErr := first.FindUserByEmail(ctx, email)
		if acceptErr == nil {
			must(t, fmt.Sprintf("FindUserByEmail of the user who accepted in round %d", round), findErr)
		} else {
			wantCode(t, fmt.Sprintf("AcceptInvite of round %d", round), acceptErr, iogate.CodeNotFound)
			wantCode(t, fmt.Sprintf("FindUserByEmail of round %d, whose acceptance failed", round), findErr, iogate.CodeNotFound)
		}
		wantLinkGone(t, first, fmt.Sprintf("the invitation of round %d", round), l)
	}
	verifyChain(t, allAuditRecords(t, first, ""))
}

// runTogether starts each of calls in a goroutine of its own, releases them at the same
// moment and waits until all have returned.
func runTogether(calls ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			call()
		}()
	}
	close(start)
	wg.Wait()
}
