package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// userCases are the cases of the dashboard part of the store, UserStore.
var userCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"Users", testUsers},
	{"UseTOTPStepOnce", testUseTOTPStep},
	{"Sessions", testSessions},
	{"AccountStatusRecordsKeyChanges", testAccountStatus},
	{"AccountStatusRecord", testAccountStatusRecord},
	{"SetupLinkUsedOnce", testSetupLink},
	{"ReplacedSetupLinkBehindClock", testReplacedSetupLinkBehindClock},
	{"InviteAndResetLinks", testInviteAndResetLinks},
	{"ListPendingInvitations", testListPendingInvitations},
	{"InvitationWithoutID", testInvitationWithoutID},
	{"CancelInvitation", testCancelInvitation},
	{"CancelInvitationRecord", testCancelInvitationRecord},
	{"RemovalCancelsInvitations", testRemovalCancelsInvitations},
	{"DemotionCancelsInvitations", testDemotionCancelsInvitations},
	{"InvitationByUserWhoMayNotInvite", testInvitationByUserWhoMayNotInvite},
	{"RecoveryCodes", testRecoveryCodes},
	{"RecoveryCodesConcurrentDisable", testRecoveryCodesConcurrentDisable},
	{"UserChangeRecords", testUserChangeRecords},
	{"ResealTOTPSeeds", testResealTOTPSeeds},
	{"DeleteEndedSessions", testDeleteEndedSessions},
	{"DeleteEndedSessionsConcurrently", testDeleteEndedSessionsConcurrently},
	{"DeleteSpentUserLinks", testDeleteSpentUserLinks},
	{"FormTokenUsedOnce", testFormTokenUsedOnce},
	{"FormTokenConcurrentUse", testFormTokenConcurrentUse},
	{"FormTokenUsedByKeyCreation", testFormTokenUsedByKeyCreation},
	{"FormTokenUsedByKeyUpdate", testFormTokenUsedByKeyUpdate},
	{"DeleteExpiredFormTokens", testDeleteExpiredFormTokens},
}

func newUser(t *testing.T, s iogate.Store, accountID, email string, role iogate.Role) *iogate.User {
	t.Helper()
	u := &iogate.User{ID: iogate.NewID(), AccountID: accountID, Email: email, Role: role, PasswordHash: "$argon2id$hash",
		CreatedAt: base, UpdatedAt: base}
	must(t, "CreateUser", s.CreateUser(ctxFor(t), u))
	return u
}

func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testUsers(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	owner := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	newUser(t, s, a.ID, "viewer@acme.test", iogate.RoleViewer)

	got, err := s.FindUserByEmail(ctx, "owner@acme.test")
	must(t, "FindUserByEmail", err)
	if diff := cmp.Diff(owner, got); diff != "" {
		t.Errorf("FindUserByEmail (-want +got):\n%s", diff)
	}
	dup := &iogate.User{ID: iogate.NewID(), AccountID: a.ID, Email: "owner@acme.test", Role: iogate.RoleAdmin, CreatedAt: base, UpdatedAt: base}
	wantCode(t, "CreateUser with a taken email", s.CreateUser(ctx, dup), iogate.CodeConflict)
	_, err = s.FindUserByID(ctx, "no-such-user")
	wantCode(t, "FindUserByID of an unknown ID", err, iogate.CodeNotFound)
	_, err = s.FindUserByEmail(ctx, "bad\xffemail")
	wantCode(t, "FindUserByEmail of invalid UTF-8", err, iogate.CodeNotFound)

	owner.Role, owner.TOTPSeedSealed, owner.TOTPEnabled, owner.UpdatedAt = iogate.RoleAdmin, []byte("sealed-seed"), true, base.Add(time.Hour)
	must(t, "SetUserRole", s.SetUserRole(ctx, owner.ID, owner.Role, base.Add(time.Minute), userRec(t, owner, iogate.AuditUserRoleChanged)))
	must(t, "SetUserTOTPSeed", s.SetUserTOTPSeed(ctx, owner.ID, []byte("first-seed"), base.Add(time.Minute)))
	must(t, "SetUserTOTPSeed again", s.SetUserTOTPSeed(ctx, owner.ID, owner.TOTPSeedSealed, base.Add(time.Minute)))
	enabled := func() *iogate.AuditRecord { return userRec(t, owner, iogate.AuditUserTOTPEnabled) }
	wantCode(t, "EnableUserTOTP with a seed replaced meanwhile", s.EnableUserTOTP(ctx, owner.ID, []byte("first-seed"), nil, base.Add(time.Hour), enabled()), iogate.CodeConflict)
	must(t, "EnableUserTOTP", s.EnableUserTOTP(ctx, owner.ID, owner.TOTPSeedSealed, nil, base.Add(time.Hour), enabled()))
	wantCode(t, "SetUserTOTPSeed with TOTP on", s.SetUserTOTPSeed(ctx, owner.ID, []byte("other-seed"), base.Add(2*time.Hour)), iogate.CodeConflict)
	wantCode(t, "EnableUserTOTP with TOTP on", s.EnableUserTOTP(ctx, owner.ID, owner.TOTPSeedSealed, nil, base.Add(2*time.Hour), enabled()), iogate.CodeConflict)
	wantCode(t, "SetUserRole of an unknown user",
		s.SetUserRole(ctx, "no-such-user", iogate.RoleViewer, base, userRec(t, owner, iogate.AuditUserRoleChanged)), iogate.CodeNotFound)
	wantCode(t, "SetUserTOTPSeed of an unknown user", s.SetUserTOTPSeed(ctx, "no-such-user", []byte("x"), base), iogate.CodeNotFound)
	wantCode(t, "EnableUserTOTP of an unknown user", s.EnableUserTOTP(ctx, "no-such-user", []byte("x"), nil, base, enabled()), iogate.CodeNotFound)
	wantCode(t, "DisableUserTOTP of an unknown user",
		s.DisableUserTOTP(ctx, "no-such-user", base, userRec(t, owner, iogate.AuditUserTOTPDisabled)), iogate.CodeNotFound)
	got, err = s.FindUserByID(ctx, owner.ID)
	must(t, "FindUserByID", err)
	if diff := cmp.Diff(owner, got); diff != "" {
		t.Errorf("user after SetUserRole, SetUserTOTPSeed and EnableUserTOTP (-want +got):\n%s", diff)
	}

	list, err := s.ListUsers(ctx, a.ID)
	must(t, "ListUsers", err)
	if len(list) != 2 || list[0].Email != "owner@acme.test" || list[1].Email != "viewer@acme.test" {
		t.Errorf("ListUsers = %d users, want owner then viewer by email", len(list))
	}
	must(t, "DeleteUser", s.DeleteUser(ctx, owner.ID, userRec(t, owner, iogate.AuditUserRemoved)))
	wantCode(t, "DeleteUser twice", s.DeleteUser(ctx, owner.ID, userRec(t, owner, iogate.AuditUserRemoved)), iogate.CodeNotFound)
}

func testUseTOTPStep(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	must(t, "UseTOTPStep 100", s.UseTOTPStep(ctx, u.ID, 100))
	wantCode(t, "UseTOTPStep 100 again", s.UseTOTPStep(ctx, u.ID, 100), iogate.CodeConflict)
	wantCode(t, "UseTOTPStep 99 after 100", s.UseTOTPStep(ctx, u.ID, 99), iogate.CodeConflict)
	must(t, "UseTOTPStep 101", s.UseTOTPStep(ctx, u.ID, 101))
}

func testSessions(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	u := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	sess := &iogate.Session{IDHash: digest("session-1"), UserID: u.ID, AccountID: a.ID, Stage: iogate.SessionSecondFactor,
		CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(12 * time.Hour), ConfirmedAt: base, IP: "192.0.2.1"}
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	got, err := s.FindSession(ctx, sess.IDHash)
	must(t, "FindSession", err)
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("FindSession (-want +got):\n%s", diff)
	}
	sess.Stage, sess.LastSeenAt, sess.ConfirmedAt = iogate.SessionSignedIn, base.Add(time.Minute), base.Add(2*time.Minute)
	must(t, "UpdateSession", s.UpdateSession(ctx, sess))
	got, _ = s.FindSession(ctx, sess.IDHash)
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("session after UpdateSession (-want +got):\n%s", diff)
	}
	must(t, "DeleteSession", s.DeleteSession(ctx, sess.IDHash))
	must(t, "DeleteSession of a deleted session", s.DeleteSession(ctx, sess.IDHash))
	_, err = s.FindSession(ctx, sess.IDHash)
	wantCode(t, "FindSession after delete", err, iogate.CodeNotFound)
	wantCode(t, "UpdateSession after delete", s.UpdateSession(ctx, sess), iogate.CodeNotFound)

	other := *sess
	other.IDHash = digest("session-2")
	must(t, "CreateSession", s.CreateSession(ctx, &other))
	must(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, u.ID))
	_, err = s.FindSession(ctx, other.IDHash)
	wantCode(t, "FindSession after DeleteUserSessions", err, iogate.CodeNotFound)

	third := *sess
	third.IDHash = digest("session-3")
	must(t, "CreateSession", s.CreateSession(ctx, &third))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID, userRec(t, u, iogate.AuditUserRemoved)))
	_, err = s.FindSession(ctx, third.IDHash)
	wantCode(t, "FindSession after DeleteUser", err, iogate.CodeNotFound)
}

func testAccountStatus(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	other := newAccount(t, s)
	k1, k2 := newKey(a.ID, base), newKey(a.ID, base.Add(time.Second))
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k1, created(t, k1)))
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k2, created(t, k2)))
	k3 := newKey(other.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k3, created(t, k3)))
	u := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	sess := &iogate.Session{IDHash: digest("s"), UserID: u.ID, AccountID: a.ID, Stage: iogate.SessionSignedIn,
		CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Hour), ConfirmedAt: base}
	must(t, "CreateSession", s.CreateSession(ctx, sess))

	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	must(t, "SetAccountStatus suspended", s.SetAccountStatus(ctx, a.ID, iogate.AccountSuspended, statusRec(t, a.ID, iogate.AccountSuspended)))
	changes, err := s.KeyChangesSince(ctx, before)
	must(t, "KeyChangesSince", err)
	var ids []string
	for _, c := range changes {
		ids = append(ids, c.ClientID)
	}
	want := []string{k1.ClientID, k2.ClientID}
	if k2.ClientID < k1.ClientID {
		want = []string{k2.ClientID, k1.ClientID}
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("key changes of the suspension (-want +got):\n%s", diff)
	}
	suspended, err := s.SuspendedAccounts(ctx)
	must(t, "SuspendedAccounts", err)
	if diff := cmp.Diff([]string{a.ID}, suspended); diff != "" {
		t.Errorf("SuspendedAccounts (-want +got):\n%s", diff)
	}
	_, err = s.FindSession(ctx, sess.IDHash)
	wantCode(t, "FindSession of a suspended account", err, iogate.CodeNotFound)

	must(t, "SetAccountStatus active", s.SetAccountStatus(ctx, a.ID, iogate.AccountActive, statusRec(t, a.ID, iogate.AccountActive)))
	if suspended, _ := s.SuspendedAccounts(ctx); len(suspended) != 0 {
		t.Errorf("SuspendedAccounts after resume = %v, want none", suspended)
	}
	wantCode(t, "SetAccountStatus of an unknown account",
		s.SetAccountStatus(ctx, "nope", iogate.AccountSuspended, statusRec(t, "nope", iogate.AccountSuspended)), iogate.CodeNotFound)

	required, err := s.AccountRequiresTOTP(ctx, a.ID)
	must(t, "AccountRequiresTOTP", err)
	if required {
		t.Error("a new account requires TOTP")
	}
	must(t, "SetAccountRequireTOTP", s.SetAccountRequireTOTP(ctx, a.ID, true, record(t, a.ID, iogate.AuditAccountPolicyChanged, "")))
	if required, _ := s.AccountRequiresTOTP(ctx, a.ID); !required {
		t.Error("AccountRequiresTOTP after setting it = false")
	}
	wantCode(t, "SetAccountRequireTOTP of an unknown account",
		s.SetAccountRequireTOTP(ctx, "nope", true, record(t, "nope", iogate.AuditAccountPolicyChanged, "")), iogate.CodeNotFound)
}

func testSetupLink(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	old := &iogate.UserLink{TokenHash: digest("old"), Purpose: iogate.LinkSetup, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	link := &iogate.UserLink{TokenHash: digest("new"), Purpose: iogate.LinkSetup, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	// expired ran out an hour before the new links were created, so they do not replace it.
	expired := &iogate.UserLink{TokenHash: digest("expired"), Purpose: iogate.LinkSetup, CreatedAt: base.Add(-2 * time.Hour), ExpiresAt: base.Add(-time.Hour)}
	must(t, "CreateUserLink", s.CreateUserLink(ctx, expired, nil))
	must(t, "CreateUserLink", s.CreateUserLink(ctx, old, nil))
	must(t, "CreateUserLink", s.CreateUserLink(ctx, link, nil))
	_, err := s.FindUserLink(ctx, old.TokenHash, iogate.LinkSetup, base)
	wantCode(t, "FindUserLink of a replaced setup link", err, iogate.CodeNotFound)
	if !errors.Is(err, iogate.ErrSetupLinkReplaced) {
		t.Errorf("FindUserLink of a replaced setup link: %v, want ErrSetupLinkReplaced", err)
	}
	for _, c := range []struct {
		name string
		hash []byte
	}{
		{"an expired setup link", expired.TokenHash},
		{"an unknown setup link", digest("unknown")},
	} {
		_, err := s.FindUserLink(ctx, c.hash, iogate.LinkSetup, base)
		wantCode(t, "FindUserLink of "+c.name, err, iogate.CodeNotFound)
		if errors.Is(err, iogate.ErrSetupLinkReplaced) {
			t.Errorf("FindUserLink of %s: %v, want an error that does not say replaced", c.name, err)
		}
	}
	_, err = s.FindUserLink(ctx, link.TokenHash, iogate.LinkInvite, base)
	wantCode(t, "FindUserLink with another purpose", err, iogate.CodeNotFound)
	_, err = s.FindUserLink(ctx, link.TokenHash, iogate.LinkSetup, base.Add(time.Hour))
	wantCode(t, "FindUserLink at its expiry", err, iogate.CodeNotFound)

	account := func() *iogate.Account {
		return &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: base}
	}
	a := account()
	owner := &iogate.User{ID: iogate.NewID(), AccountID: a.ID, Email: "owner@acme.test", Role: iogate.RoleOwner, CreatedAt: base, UpdatedAt: base}
	ownerRec := func(u *iogate.User) *iogate.AuditRecord {
		r, err := chain.NewUserRecord(u, iogate.AuditUserCreated, iogate.Actor{Type: iogate.ActorUser, ID: u.ID}, base, map[string]any{"via": "setup_link"})
		must(t, "NewUserRecord", err)
		return r
	}
	rec, urec := accountCreated(t, a), ownerRec(owner)
	for _, c := range []struct {
		name                string
		accountRec, userRec *iogate.AuditRecord
	}{
		{"without an account record", nil, urec},
		{"without an owner record", rec, nil},
		{"with the owner record of another account", rec, record(t, iogate.NewID(), iogate.AuditUserCreated, "")},
		{"with the records swapped", urec, rec},
	} {
		wantCode(t, "CreateAccountWithOwner "+c.name, s.CreateAccountWithOwner(ctx, link.TokenHash, base, a, owner, c.accountRec, c.userRec), iogate.CodeInternal)
	}
	err = s.CreateAccountWithOwner(ctx, old.TokenHash, base, a, owner, rec, urec)
	if !errors.Is(err, iogate.ErrSetupLinkReplaced) {
		t.Fatalf("CreateAccountWithOwner with a replaced setup link: %v, want ErrSetupLinkReplaced", err)
	}
	// An owner that cannot be inserted fails the transaction after the account and its
	// record were written, which rolls both back and leaves the link unused.
	stray := *owner
	stray.AccountID = iogate.NewID()
	if err := s.CreateAccountWithOwner(ctx, link.TokenHash, base, a, &stray, rec, urec); err == nil {
		t.Fatal("CreateAccountWithOwner with an owner of another account succeeded")
	}
	if n, _ := s.CountAccounts(ctx); n != 0 {
		t.Fatalf("CountAccounts after a setup whose owner failed = %d, want 0", n)
	}
	must(t, "CreateAccountWithOwner", s.CreateAccountWithOwner(ctx, link.TokenHash, base, a, owner, rec, urec))
	if _, err := s.FindUserByEmail(ctx, "owner@acme.test"); err != nil {
		t.Errorf("owner after setup: %v", err)
	}
	b := account()
	again := &iogate.User{ID: iogate.NewID(), AccountID: b.ID, Email: "second@acme.test", Role: iogate.RoleOwner, CreatedAt: base, UpdatedAt: base}
	wantCode(t, "CreateAccountWithOwner with a used link",
		s.CreateAccountWithOwner(ctx, link.TokenHash, base, b, again, accountCreated(t, b), ownerRec(again)), iogate.CodeNotFound)

	third := &iogate.UserLink{TokenHash: digest("third"), Purpose: iogate.LinkSetup, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	must(t, "CreateUserLink", s.CreateUserLink(ctx, third, nil))
	wantCode(t, "CreateAccountWithOwner when an account exists",
		s.CreateAccountWithOwner(ctx, third.TokenHash, base, b, again, accountCreated(t, b), ownerRec(again)), iogate.CodeConflict)
	if _, err := s.FindUserLink(ctx, third.TokenHash, iogate.LinkSetup, base); err != nil {
		t.Errorf("a setup link whose use failed is no longer valid: %v", err)
	}

	// The account's log holds its account.created and user.created records and nothing
	// else; the failed setups wrote no record anywhere.
	records := allAuditRecords(t, s, "")
	if diff := recordDiff([]*iogate.AuditRecord{rec, urec}, records); diff != "" {
		t.Errorf("audit records after setup (-want +got):\n%s", diff)
	}
	verifyChain(t, records)
}

func testInviteAndResetLinks(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	rec := func(event string) *iogate.AuditRecord { return record(t, a.ID, event, "") }
	// wrongRecords are, for a change whose record is of event, a missing record, one of
	// another account and one of another event.
	wrongRecords := func(event string) []*iogate.AuditRecord {
		return []*iogate.AuditRecord{nil, record(t, other.ID, event, ""), rec(iogate.AuditKeyCreated)}
	}
	records := allAuditRecords(t, s, a.ID)

	invite := &iogate.UserLink{ID: iogate.NewID(), TokenHash: digest("invite"), Purpose: iogate.LinkInvite, AccountID: a.ID, Email: "new@acme.test",
		Role: iogate.RoleAdmin, CreatedBy: iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}, CreatedAt: base, ExpiresAt: base.Add(72 * time.Hour)}
	for i, r := range wrongRecords(iogate.AuditUserInvited) {
		wantCode(t, fmt.Sprintf("CreateUserLink(invite) with wrong record %d", i), s.CreateUserLink(ctx, invite, r), iogate.CodeInternal)
	}
	setup := &iogate.UserLink{TokenHash: digest("setup"), Purpose: iogate.LinkSetup, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	wantCode(t, "CreateUserLink(setup) with a record", s.CreateUserLink(ctx, setup, rec(iogate.AuditUserInvited)), iogate.CodeInternal)
	for _, l := range []*iogate.UserLink{invite, setup} {
		_, err := s.FindUserLink(ctx, l.TokenHash, l.Purpose, base)
		wantCode(t, "FindUserLink of a "+l.Purpose+" link rejected for its record", err, iogate.CodeNotFound)
	}
	invited := rec(iogate.AuditUserInvited)
	must(t, "CreateUserLink", s.CreateUserLink(ctx, invite, invited))
	got, err := s.FindUserLink(ctx, invite.TokenHash, iogate.LinkInvite, base)
	must(t, "FindUserLink", err)
	if diff := cmp.Diff(invite, got); diff != "" {
		t.Errorf("FindUserLink (-want +got):\n%s", diff)
	}

	u := &iogate.User{ID: iogate.NewID(), PasswordHash: "$argon2id$x", CreatedAt: base, UpdatedAt: base}
	for i, r := range wrongRecords(iogate.AuditUserCreated) {
		wantCode(t, fmt.Sprintf("AcceptInvite with wrong record %d", i), s.AcceptInvite(ctx, invite.TokenHash, base, u, r), iogate.CodeInternal)
	}
	if _, err := s.FindUserByEmail(ctx, "new@acme.test"); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindUserByEmail after rejected AcceptInvite calls: %v, want CodeNotFound", err)
	}
	created := rec(iogate.AuditUserCreated)
	must(t, "AcceptInvite", s.AcceptInvite(ctx, invite.TokenHash, base, u, created))
	stored, err := s.FindUserByEmail(ctx, "new@acme.test")
	must(t, "FindUserByEmail", err)
	if stored.AccountID != a.ID || stored.Role != iogate.RoleAdmin {
		t.Errorf("invited user is %s of %s, want admin of %s", stored.Role, stored.AccountID, a.ID)
	}
	wantCode(t, "AcceptInvite twice", s.AcceptInvite(ctx, invite.TokenHash, base, &iogate.User{ID: iogate.NewID()}, rec(iogate.AuditUserCreated)), iogate.CodeNotFound)

	sess := &iogate.Session{IDHash: digest("s"), UserID: u.ID, AccountID: a.ID, Stage: iogate.SessionSignedIn,
		CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Hour), ConfirmedAt: base}
	must(t, "CreateSession", s.CreateSession(ctx, sess))
	reset := &iogate.UserLink{TokenHash: digest("reset"), Purpose: iogate.LinkReset, UserID: u.ID, AccountID: a.ID, Email: u.Email,
		CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	resetCreated := rec(iogate.AuditUserResetLinkCreated)
	must(t, "CreateUserLink", s.CreateUserLink(ctx, reset, resetCreated))
	for i, r := range wrongRecords(iogate.AuditUserPasswordReset) {
		wantCode(t, fmt.Sprintf("ResetPassword with wrong record %d", i), s.ResetPassword(ctx, reset.TokenHash, base, "$argon2id$bad", r), iogate.CodeInternal)
	}
	if !sessionExists(t, s, sess) {
		t.Error("a ResetPassword rejected for its record ended the user's sessions")
	}
	passwordReset := rec(iogate.AuditUserPasswordReset)
	must(t, "ResetPassword", s.ResetPassword(ctx, reset.TokenHash, base.Add(time.Minute), "$argon2id$new", passwordReset))
	stored, _ = s.FindUserByID(ctx, u.ID)
	if stored.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash after reset = %q", stored.PasswordHash)
	}
	_, err = s.FindSession(ctx, sess.IDHash)
	wantCode(t, "FindSession after a reset", err, iogate.CodeNotFound)
	wantCode(t, "ResetPassword twice", s.ResetPassword(ctx, reset.TokenHash, base, "$argon2id$again", rec(iogate.AuditUserPasswordReset)), iogate.CodeNotFound)

	// Each change appended exactly its own record; the rejected ones and the second uses of
	// the links appended none.
	want := append(records, invited, created, resetCreated, passwordReset)
	if diff := recordDiff(want, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("audit records of the account (-want +got):\n%s", diff)
	}
	if n := len(allAuditRecords(t, s, other.ID)); n != 1 {
		t.Errorf("records of the other account = %d, want its account.created only", n)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}

func testResealTOTPSeeds(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	newUser(t, s, u.AccountID, "nototp@acme.test", iogate.RoleViewer)
	u.TOTPSeedSealed = []byte("sealed-seed")
	must(t, "SetUserTOTPSeed", s.SetUserTOTPSeed(ctx, u.ID, u.TOTPSeedSealed, base))
	var seen []string
	_, err := s.ResealSecrets(ctx, func(v iogate.SealedValue) ([]byte, error) {
		if v.Kind == iogate.SealedKindTOTPSeed {
			seen = append(seen, v.Name)
		}
		return append([]byte("re-"), v.Sealed...), nil
	})
	must(t, "ResealSecrets", err)
	if diff := cmp.Diff([]string{u.ID}, seen); diff != "" {
		t.Errorf("TOTP seeds passed to reseal (-want +got):\n%s", diff)
	}
	got, _ := s.FindUserByID(ctx, u.ID)
	if !bytes.Equal(got.TOTPSeedSealed, []byte("re-sealed-seed")) {
		t.Errorf("TOTP seed after ResealSecrets = %q, want re-sealed-seed", got.TOTPSeedSealed)
	}
}
