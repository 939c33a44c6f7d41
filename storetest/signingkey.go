package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// signingKeyRevocationCases check that revoking a signing key deletes its row, inserts a
// replacement only when the key could still sign, and records one signing-keys change, all
// or nothing.
var signingKeyRevocationCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"SigningKeyRevocation", testSigningKeyRevocation},
	{"SigningKeyRevocationOfScheduledKey", testSigningKeyRevocationOfScheduledKey},
	{"SigningKeyRevocationOfRetiredKey", testSigningKeyRevocationOfRetiredKey},
	{"SigningKeyRevocationRejected", testSigningKeyRevocationRejected},
}

// signingKey returns a signing key with a distinct sealed private key.
func signingKey(kid, alg string, activeAt, retiredAt time.Time) *iogate.SigningKey {
	return &iogate.SigningKey{KID: kid, Algorithm: alg, PrivateKeyEncrypted: []byte("sealed-" + kid), PublicJWK: []byte(`{"kid":"` + kid + `"}`),
		CreatedAt: base, ActiveAt: activeAt, RetiredAt: retiredAt}
}

// storedSigningKeys returns the stored signing keys by KID.
func storedSigningKeys(t *testing.T, s iogate.Store) map[string]*iogate.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(ctxFor(t))
	must(t, "SigningKeys", err)
	byKID := make(map[string]*iogate.SigningKey, len(keys))
	for _, k := range keys {
		byKID[k.KID] = k
	}
	return byKID
}

// sealedSigningKeyNames returns the KIDs of the sealed private keys that ResealSecrets
// passes on, without changing them.
func sealedSigningKeyNames(t *testing.T, s iogate.Store) []string {
	t.Helper()
	var kids []string
	_, err := s.ResealSecrets(ctxFor(t), func(v iogate.SealedValue) ([]byte, error) {
		if v.Kind == iogate.SealedKindSigningKey {
			kids = append(kids, v.Name)
		}
		return v.Sealed, nil
	})
	must(t, "ResealSecrets", err)
	return kids
}

// wantOneSigningKeysChange fails the test unless exactly one signing-keys change was
// recorded after seq.
func wantOneSigningKeysChange(t *testing.T, s iogate.Store, call string, seq int64) {
	t.Helper()
	changes, err := s.KeyChangesSince(ctxFor(t), seq)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].Kind != iogate.ChangeSigningKeys || changes[0].ClientID != "" {
		t.Errorf("KeyChangesSince after %s = %+v, want one signing-keys change without a client ID", call, changes)
	}
}

// testSigningKeyRevocation revokes a signing key whose successor is scheduled: its row and
// sealed private key leave the store, and a replacement signs from the revocation until
// the successor takes over.
func testSigningKeyRevocation(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	at := base.Add(time.Hour)
	successorAt := base.Add(3 * time.Hour)
	leaked := signingKey("leaked", "EdDSA", base, successorAt)
	successor := signingKey("successor", "EdDSA", successorAt, time.Time{})
	other := signingKey("other", "RS256", base, time.Time{})
	for _, k := range []*iogate.SigningKey{leaked, successor, other} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}
	seq, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	replacement := signingKey("replacement", "EdDSA", time.Time{}, time.Time{})
	replacement.CreatedAt = at
	revoked, inserted, err := s.RevokeSigningKey(ctx, "leaked", at, replacement, recordSigningKeyChange)
	must(t, "RevokeSigningKey", err)
	if diff := cmp.Diff(leaked, revoked); diff != "" {
		t.Errorf("RevokeSigningKey returned another revoked key (-want +got):\n%s", diff)
	}
	wantInserted := *replacement
	wantInserted.ActiveAt, wantInserted.RetiredAt = at, successorAt
	if diff := cmp.Diff(&wantInserted, inserted); diff != "" {
		t.Errorf("RevokeSigningKey returned another replacement (-want +got):\n%s", diff)
	}
	want := map[string]*iogate.SigningKey{"successor": successor, "other": other, "replacement": &wantInserted}
	if diff := cmp.Diff(want, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("signing keys after RevokeSigningKey (-want +got):\n%s", diff)
	}
	for _, kid := range sealedSigningKeyNames(t, s) {
		if kid == "leaked" {
			t.Errorf("ResealSecrets still finds the sealed private key of the revoked signing key")
		}
	}
	wantOneSigningKeysChange(t, s, "RevokeSigningKey", seq)

	_, _, err = s.RevokeSigningKey(ctx, "leaked", at, signingKey("another", "EdDSA", time.Time{}, time.Time{}), recordSigningKeyChange)
	wantCode(t, "RevokeSigningKey(again)", err, iogate.CodeNotFound)
}

// testSigningKeyRevocationOfScheduledKey revokes a key that signs only later: its
// replacement is published now and signs from the revoked key's activation.
func testSigningKeyRevocationOfScheduledKey(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	at := base.Add(time.Hour)
	scheduledAt := base.Add(2 * time.Hour)
	current := signingKey("current", "ES256", base, scheduledAt)
	scheduled := signingKey("scheduled", "ES256", scheduledAt, time.Time{})
	for _, k := range []*iogate.SigningKey{current, scheduled} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}
	seq, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	replacement := signingKey("replacement", "ES256", time.Time{}, time.Time{})
	_, inserted, err := s.RevokeSigningKey(ctx, "scheduled", at, replacement, recordSigningKeyChange)
	must(t, "RevokeSigningKey", err)
	wantInserted := *replacement
	wantInserted.ActiveAt = scheduledAt
	want := map[string]*iogate.SigningKey{"current": current, "replacement": &wantInserted}
	if diff := cmp.Diff(want, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("signing keys after revoking a scheduled key (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&wantInserted, inserted); diff != "" {
		t.Errorf("RevokeSigningKey returned another replacement (-want +got):\n%s", diff)
	}
	wantOneSigningKeysChange(t, s, "RevokeSigningKey", seq)
}

// testSigningKeyRevocationOfRetiredKey revokes keys that no longer sign, or never will:
// they leave the store and no replacement is inserted, even when one is offered.
func testSigningKeyRevocationOfRetiredKey(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	at := base.Add(2 * time.Hour)
	retired := signingKey("retired", "EdDSA", base, base.Add(time.Hour))
	// A scheduled key retired before its activation never signs.
	cancelled := signingKey("cancelled", "EdDSA", base.Add(4*time.Hour), base.Add(3*time.Hour))
	signing := signingKey("signing", "EdDSA", base.Add(time.Hour), time.Time{})
	for _, k := range []*iogate.SigningKey{retired, cancelled, signing} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}

	for _, kid := range []string{"retired", "cancelled"} {
		seq, err := s.LatestKeyChange(ctx)
		must(t, "LatestKeyChange", err)
		revoked, inserted, err := s.RevokeSigningKey(ctx, kid, at, signingKey("unneeded-"+kid, "EdDSA", time.Time{}, time.Time{}), recordSigningKeyChange)
		must(t, "RevokeSigningKey("+kid+")", err)
		if revoked == nil || revoked.KID != kid {
			t.Errorf("RevokeSigningKey(%s) returned revoked key %+v, want %s", kid, revoked, kid)
		}
		if inserted != nil {
			t.Errorf("RevokeSigningKey(%s) inserted replacement %s for a key that no longer signs", kid, inserted.KID)
		}
		wantOneSigningKeysChange(t, s, "RevokeSigningKey("+kid+")", seq)
	}
	want := map[string]*iogate.SigningKey{"signing": signing}
	if diff := cmp.Diff(want, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("signing keys after revoking the keys that no longer sign (-want +got):\n%s", diff)
	}
}

// testSigningKeyRevocationRejected checks that a rejected revocation changes nothing and
// records no change.
func testSigningKeyRevocationRejected(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	at := base.Add(time.Hour)
	signing := signingKey("signing", "EdDSA", base, time.Time{})
	taken := signingKey("taken", "RS256", base, time.Time{})
	for _, k := range []*iogate.SigningKey{signing, taken} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}
	before := storedSigningKeys(t, s)
	seq, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	_, _, err = s.RevokeSigningKey(ctx, "unknown", at, signingKey("replacement", "EdDSA", time.Time{}, time.Time{}), recordSigningKeyChange)
	wantCode(t, "RevokeSigningKey(unknown KID)", err, iogate.CodeNotFound)
	_, _, err = s.RevokeSigningKey(ctx, "signing", at, nil, recordSigningKeyChange)
	wantCode(t, "RevokeSigningKey(no replacement)", err, iogate.CodeConflict)
	_, _, err = s.RevokeSigningKey(ctx, "signing", at, signingKey("replacement", "RS256", time.Time{}, time.Time{}), recordSigningKeyChange)
	wantCode(t, "RevokeSigningKey(replacement of another algorithm)", err, iogate.CodeInvalid)
	// A replacement whose KID is taken fails on insert, after the delete, which must be
	// rolled back with it.
	_, _, err = s.RevokeSigningKey(ctx, "signing", at, signingKey("taken", "EdDSA", time.Time{}, time.Time{}), recordSigningKeyChange)
	wantCode(t, "RevokeSigningKey(replacement with a taken KID)", err, iogate.CodeConflict)

	if diff := cmp.Diff(before, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("rejected RevokeSigningKey calls changed the signing keys (-want +got):\n%s", diff)
	}
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != seq {
		t.Errorf("LatestKeyChange moved from %d to %d after rejected RevokeSigningKey calls", seq, after)
	}
}

// testSigningKeyRotationGap rotates while the signing key of the algorithm is set to retire
// at base plus one hour. A new key that activates later is rejected without changing
// anything, because servers of that algorithm would have no key in between. A new key that
// activates before the retirement is stored.
func testSigningKeyRotationGap(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, signingKey("retiring", "EdDSA", base, base.Add(time.Hour)), recordSigningKeyChange))
	before := storedSigningKeys(t, s)
	seq, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	late := signingKey("late", "EdDSA", base.Add(2*time.Hour), time.Time{})
	late.CreatedAt = base.Add(10 * time.Minute)
	wantCode(t, "RotateSigningKey(activates after the retirement)", s.RotateSigningKey(ctx, late, recordSigningKeyChange), iogate.CodeInvalid)
	if diff := cmp.Diff(before, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("a rejected RotateSigningKey changed the signing keys (-want +got):\n%s", diff)
	}
	if after, err := s.LatestKeyChange(ctx); err != nil || after != seq {
		t.Errorf("LatestKeyChange after a rejected RotateSigningKey = %d, %v; want %d", after, err, seq)
	}

	early := signingKey("early", "EdDSA", base.Add(30*time.Minute), time.Time{})
	early.CreatedAt = base.Add(10 * time.Minute)
	must(t, "RotateSigningKey(activates before the retirement)", s.RotateSigningKey(ctx, early, recordSigningKeyChange))
	if got := storedSigningKeys(t, s)["retiring"].RetiredAt; !got.Equal(early.ActiveAt) {
		t.Errorf("retiring key retired at %s after the rotation, want %s", got, early.ActiveAt)
	}
}
