package storetest

// The cases of this file check that account status, user and policy changes commit exactly
// their own audit record, and that a change rejected for its record changes nothing. The
// records of links are checked with the links, in user.go.

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iogate/iogate"
)

// statusRec returns the record of a change of accountID to status.
func statusRec(t *testing.T, accountID, status string) *iogate.AuditRecord {
	return record(t, accountID, iogate.AccountStatusEvent(status), "")
}

// testAccountStatusRecord checks that a status change appends its record in its own
// transaction, and that a change rejected for its record, its status or its account
// changes nothing and writes no record.
func testAccountStatusRecord(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	records := allAuditRecords(t, s, "")
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	for _, c := range []struct {
		name, account, status string
		rec                   *iogate.AuditRecord
		code                  iogate.ErrorCode
	}{
		{"without a record", a.ID, iogate.AccountSuspended, nil, iogate.CodeInternal},
		{"with the record of another account", a.ID, iogate.AccountSuspended, statusRec(t, other.ID, iogate.AccountSuspended), iogate.CodeInternal},
		{"with the record of a resumption", a.ID, iogate.AccountSuspended, statusRec(t, a.ID, iogate.AccountActive), iogate.CodeInternal},
		{"with an unknown status", a.ID, "frozen", record(t, a.ID, iogate.AuditAccountSuspended, ""), iogate.CodeInvalid},
		{"of an unknown account", "nope", iogate.AccountSuspended, statusRec(t, "nope", iogate.AccountSuspended), iogate.CodeNotFound},
		{"of an account that does not exist", iogate.NewID(), iogate.AccountActive, nil, iogate.CodeInternal},
	} {
		wantCode(t, "SetAccountStatus "+c.name, s.SetAccountStatus(ctx, c.account, c.status, c.rec), c.code)
	}
	missing := iogate.NewID()
	wantCode(t, "SetAccountStatus of a missing account",
		s.SetAccountStatus(ctx, missing, iogate.AccountSuspended, statusRec(t, missing, iogate.AccountSuspended)), iogate.CodeNotFound)
	if diff := recordDiff(records, allAuditRecords(t, s, "")); diff != "" {
		t.Fatalf("audit records after rejected status changes (-want +got):\n%s", diff)
	}
	if after, _ := s.LatestKeyChange(ctx); after != before {
		t.Errorf("LatestKeyChange moved from %d to %d after rejected status changes", before, after)
	}
	if suspended, _ := s.SuspendedAccounts(ctx); len(suspended) != 0 {
		t.Fatalf("SuspendedAccounts after rejected suspensions = %v, want none", suspended)
	}

	// Each change appends exactly its own record, to its own account's chain.
	suspend, resume := statusRec(t, a.ID, iogate.AccountSuspended), statusRec(t, a.ID, iogate.AccountActive)
	must(t, "SetAccountStatus suspended", s.SetAccountStatus(ctx, a.ID, iogate.AccountSuspended, suspend))
	must(t, "SetAccountStatus active", s.SetAccountStatus(ctx, a.ID, iogate.AccountActive, resume))
	got := allAuditRecords(t, s, a.ID)
	if diff := recordDiff([]*iogate.AuditRecord{suspend, resume}, got[len(got)-2:]); diff != "" {
		t.Errorf("last records of the account after a suspension and a resumption (-want +got):\n%s", diff)
	}
	if n := len(got); n != 4 {
		t.Errorf("records of the account = %d, want 4: account.created, key.created, account.suspended, account.resumed", n)
	}
	if n := len(allAuditRecords(t, s, other.ID)); n != 1 {
		t.Errorf("records of the other account = %d, want its account.created only", n)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}

// userRec returns a record of event about u by the user themself.
func userRec(t *testing.T, u *iogate.User, event string) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewUserRecord(u, event, iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: "192.0.2.9"}, base, nil)
	must(t, "NewUserRecord", err)
	return r
}

// testUserChangeRecords checks that each user change commits exactly its own record, and
// that a change rejected for its record changes nothing and writes no record.
func testUserChangeRecords(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	u := newUser(t, s, a.ID, "owner@acme.test", iogate.RoleOwner)
	seed := []byte("sealed-seed")
	must(t, "SetUserTOTPSeed", s.SetUserTOTPSeed(ctx, u.ID, seed, base))
	stranger := *u
	stranger.AccountID = other.ID
	accountRec := func(accountID, event string) *iogate.AuditRecord { return record(t, accountID, event, "") }

	// Each change is tried with a missing record, a record of another account and one of
	// another event, and then with its own. The order matters: TOTP goes on before its
	// codes are replaced and off after, and the user is removed last.
	changes := []struct {
		name   string
		change func(rec *iogate.AuditRecord) error
		wrong  [3]*iogate.AuditRecord
		own    *iogate.AuditRecord
	}{
		{"EnableUserTOTP",
			func(rec *iogate.AuditRecord) error {
				return s.EnableUserTOTP(ctx, u.ID, seed, [][]byte{digest("a")}, base, rec)
			},
			[3]*iogate.AuditRecord{nil, userRec(t, &stranger, iogate.AuditUserTOTPEnabled), userRec(t, u, iogate.AuditUserTOTPDisabled)},
			userRec(t, u, iogate.AuditUserTOTPEnabled)},
		{"ReplaceRecoveryCodes",
			func(rec *iogate.AuditRecord) error {
				return s.ReplaceRecoveryCodes(ctx, u.ID, seed, [][]byte{digest("b"), digest("c")}, rec)
			},
			[3]*iogate.AuditRecord{nil, userRec(t, &stranger, iogate.AuditUserRecoveryCodesReplaced), userRec(t, u, iogate.AuditUserTOTPEnabled)},
			userRec(t, u, iogate.AuditUserRecoveryCodesReplaced)},
		{"DisableUserTOTP",
			func(rec *iogate.AuditRecord) error { return s.DisableUserTOTP(ctx, u.ID, base, rec) },
			[3]*iogate.AuditRecord{nil, userRec(t, &stranger, iogate.AuditUserTOTPDisabled), userRec(t, u, iogate.AuditUserRemoved)},
			userRec(t, u, iogate.AuditUserTOTPDisabled)},
		{"SetUserRole",
			func(rec *iogate.AuditRecord) error { return s.SetUserRole(ctx, u.ID, iogate.RoleViewer, base, rec) },
			[3]*iogate.AuditRecord{nil, userRec(t, &stranger, iogate.AuditUserRoleChanged), userRec(t, u, iogate.AuditUserRemoved)},
			userRec(t, u, iogate.AuditUserRoleChanged)},
		{"SetAccountRequireTOTP",
			func(rec *iogate.AuditRecord) error { return s.SetAccountRequireTOTP(ctx, a.ID, true, rec) },
			[3]*iogate.AuditRecord{nil, accountRec(other.ID, iogate.AuditAccountPolicyChanged), accountRec(a.ID, iogate.AuditUserRoleChanged)},
			accountRec(a.ID, iogate.AuditAccountPolicyChanged)},
		{"DeleteUser",
			func(rec *iogate.AuditRecord) error { return s.DeleteUser(ctx, u.ID, rec) },
			[3]*iogate.AuditRecord{nil, userRec(t, &stranger, iogate.AuditUserRemoved), userRec(t, u, iogate.AuditUserRoleChanged)},
			userRec(t, u, iogate.AuditUserRemoved)},
	}
	type state struct {
		user        *iogate.User
		codes       int
		requireTOTP bool
		// records are those of the user's account, and others those of the other account.
		records, others []*iogate.AuditRecord
	}
	snapshot := func() state {
		var st state
		var err error
		st.user, err = s.FindUserByID(ctx, u.ID)
		if iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
			must(t, "FindUserByID", err)
		}
		st.codes, err = s.CountRecoveryCodes(ctx, u.ID)
		must(t, "CountRecoveryCodes", err)
		st.requireTOTP, err = s.AccountRequiresTOTP(ctx, a.ID)
		must(t, "AccountRequiresTOTP", err)
		st.records, st.others = allAuditRecords(t, s, a.ID), allAuditRecords(t, s, other.ID)
		return st
	}
	for _, c := range changes {
		before := snapshot()
		for i, rec := range c.wrong {
			wantCode(t, fmt.Sprintf("%s with wrong record %d", c.name, i), c.change(rec), iogate.CodeInternal)
		}
		if diff := cmp.Diff(before, snapshot(), cmp.AllowUnexported(state{}), cmpopts.IgnoreUnexported(iogate.AuditRecord{})); diff != "" {
			t.Fatalf("%s with wrong records changed the store (-before +after):\n%s", c.name, diff)
		}
		must(t, c.name, c.change(c.own))
		after := snapshot()
		if diff := recordDiff(append(before.records, c.own), after.records); diff != "" {
			t.Errorf("audit records after %s (-want +got):\n%s", c.name, diff)
		}
		if diff := recordDiff(before.others, after.others); diff != "" {
			t.Errorf("records of the other account after %s (-want +got):\n%s", c.name, diff)
		}
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}
