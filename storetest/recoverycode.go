package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// enableTOTP turns TOTP on for u with the seed sealed, and stores hashes as the recovery
// codes.
func enableTOTP(t *testing.T, s iogate.Store, u *iogate.User, sealed []byte, hashes ...[]byte) {
	t.Helper()
	ctx := ctxFor(t)
	must(t, "SetUserTOTPSeed", s.SetUserTOTPSeed(ctx, u.ID, sealed, base))
	must(t, "EnableUserTOTP", s.EnableUserTOTP(ctx, u.ID, sealed, hashes, base, userRec(t, u, iogate.AuditUserTOTPEnabled)))
}

func testRecoveryCodes(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	seed := []byte("sealed-seed")
	replaced := func() *iogate.AuditRecord { return userRec(t, u, iogate.AuditUserRecoveryCodesReplaced) }
	wantCode(t, "ReplaceRecoveryCodes with TOTP off", s.ReplaceRecoveryCodes(ctx, u.ID, nil, [][]byte{digest("x")}, replaced()), iogate.CodeConflict)
	wantCode(t, "ReplaceRecoveryCodes of an unknown user",
		s.ReplaceRecoveryCodes(ctx, iogate.NewID(), seed, [][]byte{digest("x")}, replaced()), iogate.CodeNotFound)
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 0 {
		t.Fatalf("CountRecoveryCodes after rejected replacements = %d, want 0", n)
	}

	enableTOTP(t, s, u, seed, digest("first"))
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 1 {
		t.Errorf("CountRecoveryCodes after EnableUserTOTP with one code = %d, want 1", n)
	}
	wantCode(t, "ReplaceRecoveryCodes with another seed",
		s.ReplaceRecoveryCodes(ctx, u.ID, []byte("other-seed"), [][]byte{digest("x")}, replaced()), iogate.CodeConflict)
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, seed, [][]byte{digest("a"), digest("b")}, replaced()))
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 2 {
		t.Errorf("CountRecoveryCodes = %d, want 2", n)
	}
	wantCode(t, "UseRecoveryCode of a code from before the replacement", s.UseRecoveryCode(ctx, u.ID, digest("first"), base), iogate.CodeNotFound)
	must(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, u.ID, digest("a"), base))
	wantCode(t, "UseRecoveryCode twice", s.UseRecoveryCode(ctx, u.ID, digest("a"), base), iogate.CodeNotFound)
	wantCode(t, "UseRecoveryCode unknown", s.UseRecoveryCode(ctx, u.ID, digest("z"), base), iogate.CodeNotFound)
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 1 {
		t.Errorf("CountRecoveryCodes after one use = %d, want 1", n)
	}
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, seed, [][]byte{digest("c")}, replaced()))
	wantCode(t, "UseRecoveryCode of a replaced code", s.UseRecoveryCode(ctx, u.ID, digest("b"), base), iogate.CodeNotFound)

	// Turning TOTP off deletes the codes with the seed.
	must(t, "DisableUserTOTP", s.DisableUserTOTP(ctx, u.ID, base, userRec(t, u, iogate.AuditUserTOTPDisabled)))
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 0 {
		t.Errorf("CountRecoveryCodes after DisableUserTOTP = %d, want 0", n)
	}
	wantCode(t, "UseRecoveryCode after DisableUserTOTP", s.UseRecoveryCode(ctx, u.ID, digest("c"), base), iogate.CodeNotFound)
	wantCode(t, "ReplaceRecoveryCodes after DisableUserTOTP", s.ReplaceRecoveryCodes(ctx, u.ID, seed, [][]byte{digest("d")}, replaced()), iogate.CodeConflict)
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 0 {
		t.Errorf("CountRecoveryCodes after a replacement under the deleted seed = %d, want 0", n)
	}

	// Each successful change, and none of the rejected ones, appended its record.
	var events []string
	for _, r := range allAuditRecords(t, s, u.AccountID)[1:] {
		events = append(events, r.Event)
	}
	want := []string{iogate.AuditUserTOTPEnabled, iogate.AuditUserRecoveryCodesReplaced, iogate.AuditUserRecoveryCodesReplaced, iogate.AuditUserTOTPDisabled}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("records after the account.created record (-want +got):\n%s", diff)
	}
}

// testRecoveryCodesConcurrentDisable races replacements of a user's recovery codes with
// turning TOTP off, many times over: whichever commits first, no code is left once TOTP
// is off.
func testRecoveryCodesConcurrentDisable(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	u := newUser(t, s, newAccount(t, s).ID, "owner@acme.test", iogate.RoleOwner)
	const rounds, replacers = 20, 3
	for round := range rounds {
		seed := []byte(fmt.Sprintf("sealed-seed-%d", round))
		enableTOTP(t, s, u, seed, digest(fmt.Sprintf("first-%d", round)))
		replaced := make([]*iogate.AuditRecord, replacers)
		for i := range replaced {
			replaced[i] = userRec(t, u, iogate.AuditUserRecoveryCodesReplaced)
		}
		disabled := userRec(t, u, iogate.AuditUserTOTPDisabled)

		var wg sync.WaitGroup
		errs := make([]error, replacers+1)
		for i := range replacers {
			wg.Go(func() {
				errs[i] = s.ReplaceRecoveryCodes(ctx, u.ID, seed, [][]byte{digest(fmt.Sprintf("code-%d-%d", round, i))}, replaced[i])
			})
		}
		wg.Go(func() { errs[replacers] = s.DisableUserTOTP(ctx, u.ID, base, disabled) })
		wg.Wait()

		must(t, "DisableUserTOTP", errs[replacers])
		for i, err := range errs[:replacers] {
			if err != nil && !errors.Is(err, iogate.ErrUserChanged) {
				t.Fatalf("round %d: ReplaceRecoveryCodes %d: %v, want success or ErrUserChanged", round, i, err)
			}
		}
		if n, err := s.CountRecoveryCodes(ctx, u.ID); err != nil || n != 0 {
			t.Fatalf("round %d: CountRecoveryCodes with TOTP off = %d (%v), want 0", round, n, err)
		}
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}
