package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// testListPendingInvitations checks that only an account's unused, unexpired invitations
// are pending, in email order, without their token hashes. An accepted invitation, an
// expired one, a password reset, another account's invitation and an invitation for an
// email that became a user through another link are left out.
func testListPendingInvitations(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	now := base.Add(time.Hour)
	invite := func(name, accountID, email string, expires time.Time) *iogate.UserLink {
		l := &iogate.UserLink{TokenHash: digest(name), Purpose: iogate.LinkInvite, AccountID: accountID, Email: email,
			Role: iogate.RoleViewer, CreatedAt: base, ExpiresAt: expires}
		must(t, "CreateUserLink "+name, s.CreateUserLink(ctx, l, record(t, accountID, iogate.AuditUserInvited, "")))
		return l
	}

	_, err := s.ListPendingInvitations(ctx, a.ID, now)
	must(t, "ListPendingInvitations with no links", err)

	zoe := invite("zoe", a.ID, "zoe@acme.test", now.Add(72*time.Hour))
	ana := invite("ana", a.ID, "ana@acme.test", now.Add(time.Microsecond))
	invite("expired", a.ID, "expired@acme.test", now)
	accepted := invite("accepted", a.ID, "accepted@acme.test", now.Add(time.Hour))
	must(t, "AcceptInvite", s.AcceptInvite(ctx, accepted.TokenHash, base.Add(time.Minute),
		&iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}, record(t, a.ID, iogate.AuditUserCreated, "")))
	invite("accepted-again", a.ID, "accepted@acme.test", now.Add(time.Hour))
	invite("other", other.ID, "other@acme.test", now.Add(time.Hour))
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
