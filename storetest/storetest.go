// Package storetest is the conformance suite of iogate.Store. Every store implementation
// runs it from its own tests, so that SQLite and PostgreSQL cannot drift apart: the same
// inputs must give the same results and the same error codes.
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// Run runs every case of the suite. newStore must return an empty store of its own for each
// call (the cases run in parallel) and close it when the test ends.
func Run(t *testing.T, newStore func(t *testing.T) iogate.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s iogate.Store)
	}{
		{"Ping", testPing},
		{"Accounts", testAccounts},
		{"APIKeyRoundTrip", testAPIKeyRoundTrip},
		{"APIKeyWithoutOptionalFields", testAPIKeyWithoutOptionalFields},
		{"APIKeyForMissingAccount", testAPIKeyForMissingAccount},
		{"APIKeyDuplicate", testAPIKeyDuplicate},
		{"APIKeyList", testAPIKeyList},
		{"APIKeyAll", testAPIKeyAll},
		{"APIKeyDelete", testAPIKeyDelete},
		{"RecordKeyUse", testRecordKeyUse},
		{"KeyChangesInCommitOrder", testKeyChangesInCommitOrder},
		{"LookupsOfOddStrings", testLookupsOfOddStrings},
		{"FarCursors", testFarCursors},
		{"Vaults", testVaults},
		{"VaultList", testVaultList},
		{"SealedSecrets", testSealedSecrets},
		{"SealedSecretConcurrentPut", testSealedSecretConcurrentPut},
		{"SigningKeys", testSigningKeys},
		{"ResealSecrets", testResealSecrets},
		{"ResealSecretsFailureChangesNothing", testResealSecretsFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err carries the domain code want.
func wantCode(t *testing.T, call string, err error, want iogate.ErrorCode) {
	t.Helper()
	if got := iogate.ErrorCodeOf(err); got != want {
		t.Fatalf("%s: error code %q (%v), want %q", call, got, err, want)
	}
}

func must(t *testing.T, call string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// base is a fixed microsecond-precision UTC time; stores keep microseconds.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func newAccount(t *testing.T, s iogate.Store) *iogate.Account {
	t.Helper()
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: base}
	must(t, "CreateAccount", s.CreateAccount(ctxFor(t), a))
	return a
}

func newKey(accountID string, created time.Time) *iogate.APIKey {
	k := &iogate.APIKey{
		ClientID:         iogate.NewClientID(),
		AccountID:        accountID,
		Name:             "ci",
		Scopes:           []string{iogate.ScopeVaultsRead},
		CreatedAt:        created,
		UpdatedAt:        created,
		SecretGeneration: 1,
		SecretCreatedAt:  created,
	}
	copy(k.SecretHash[:], bytes.Repeat([]byte{0xab}, len(k.SecretHash)))
	return k
}

// keyDiff compares keys, treating a nil and an empty allowlist alike.
func keyDiff(want, got *iogate.APIKey) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b []netip.Prefix) bool { return slices.Equal(a, b) }))
}

func testPing(t *testing.T, s iogate.Store) {
	must(t, "Ping", s.Ping(ctxFor(t)))
}

func testAccounts(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	n, err := s.CountAccounts(ctx)
	must(t, "CountAccounts", err)
	if n != 0 {
		t.Fatalf("CountAccounts on an empty store = %d, want 0", n)
	}
	a := newAccount(t, s)
	got, err := s.FindAccountByID(ctx, a.ID)
	must(t, "FindAccountByID", err)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("FindAccountByID returned a different account (-want +got):\n%s", diff)
	}
	_, err = s.FindAccountByID(ctx, iogate.NewID())
	wantCode(t, "FindAccountByID(unknown)", err, iogate.CodeNotFound)
	wantCode(t, "CreateAccount(same ID)", s.CreateAccount(ctx, a), iogate.CodeConflict)
	newAccount(t, s)
	n, err = s.CountAccounts(ctx)
	must(t, "CountAccounts", err)
	if n != 2 {
		t.Errorf("CountAccounts = %d, want 2", n)
	}
}

func testAPIKeyRoundTrip(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	k.Description = "deploys from CI, é and 日本"
	k.Scopes = []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}
	k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::/48")}
	k.ExpiresAt = base.Add(90 * 24 * time.Hour)
	k.UpdatedAt = base.Add(time.Microsecond)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	got, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if diff := keyDiff(k, got); diff != "" {
		t.Errorf("FindAPIKey returned a different key (-want +got):\n%s", diff)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("FindAPIKey: CreatedAt is in %v, want UTC", got.CreatedAt.Location())
	}
	_, err = s.FindAPIKey(ctx, iogate.NewClientID())
	wantCode(t, "FindAPIKey(unknown)", err, iogate.CodeNotFound)
}

func testAPIKeyWithoutOptionalFields(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	got, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if diff := keyDiff(k, got); diff != "" {
		t.Errorf("FindAPIKey returned a different key (-want +got):\n%s", diff)
	}
	if !got.ExpiresAt.IsZero() || !got.LastUsedAt.IsZero() || got.Previous != nil || got.Exposed {
		t.Errorf("FindAPIKey: optional fields set on a new key: expires %v, last used %v, previous %v, exposed %t",
			got.ExpiresAt, got.LastUsedAt, got.Previous, got.Exposed)
	}
}

// testAPIKeyForMissingAccount checks that a failed write leaves nothing behind: neither
// the key nor a change record.
func testAPIKeyForMissingAccount(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	k := newKey(iogate.NewID(), base)
	wantCode(t, "CreateAPIKey(unknown account)", s.CreateAPIKey(ctx, k), iogate.CodeNotFound)
	_, err = s.FindAPIKey(ctx, k.ClientID)
	wantCode(t, "FindAPIKey after the failed create", err, iogate.CodeNotFound)
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != before {
		t.Errorf("LatestKeyChange moved from %d to %d after a failed create", before, after)
	}
}

func testAPIKeyDuplicate(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	wantCode(t, "CreateAPIKey(same client ID)", s.CreateAPIKey(ctx, k), iogate.CodeConflict)
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != before {
		t.Errorf("LatestKeyChange moved from %d to %d after a rejected duplicate", before, after)
	}
}

func testAPIKeyList(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	other := newAccount(t, s)
	type position struct {
		created time.Time
		id      string
	}
	var positions []position
	// Pairs of keys share a creation time, so that the client ID decides their order.
	for i := range 7 {
		k := newKey(a.ID, base.Add(time.Duration(i/2)*time.Second))
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
		positions = append(positions, position{k.CreatedAt, k.ClientID})
	}
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, newKey(other.ID, base)))
	sort.Slice(positions, func(i, j int) bool {
		if !positions[i].created.Equal(positions[j].created) {
			return positions[i].created.Before(positions[j].created)
		}
		return positions[i].id < positions[j].id
	})
	var wantOrder []string
	for _, p := range positions {
		wantOrder = append(wantOrder, p.id)
	}

	var got []string
	page := iogate.Page{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("ListAPIKeys: more than 5 pages for 7 keys at 3 per page")
		}
		keys, next, err := s.ListAPIKeys(ctx, a.ID, page)
		must(t, "ListAPIKeys", err)
		if len(keys) > 3 {
			t.Fatalf("ListAPIKeys(limit 3) returned %d keys", len(keys))
		}
		for _, k := range keys {
			got = append(got, k.ClientID)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if diff := cmp.Diff(wantOrder, got); diff != "" {
		t.Errorf("ListAPIKeys pages in a different order (-want +got):\n%s", diff)
	}

	_, _, err := s.ListAPIKeys(ctx, a.ID, iogate.Page{Cursor: "not a cursor!"})
	wantCode(t, "ListAPIKeys(bad cursor)", err, iogate.CodeInvalid)
	keys, next, err := s.ListAPIKeys(ctx, iogate.NewID(), iogate.Page{})
	must(t, "ListAPIKeys(unknown account)", err)
	if len(keys) != 0 || next != "" {
		t.Errorf("ListAPIKeys(unknown account) = %d keys, cursor %q; want none", len(keys), next)
	}
}

func testAPIKeyAll(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	want := map[string]bool{}
	for range 5 {
		k := newKey(a.ID, base)
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
		want[k.ClientID] = true
	}
	got := map[string]bool{}
	must(t, "AllAPIKeys", s.AllAPIKeys(ctx, func(k *iogate.APIKey) error {
		if got[k.ClientID] {
			t.Errorf("AllAPIKeys visited %s twice", k.ClientID)
		}
		got[k.ClientID] = true
		return nil
	}))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AllAPIKeys visited other keys (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.AllAPIKeys(ctx, func(*iogate.APIKey) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("AllAPIKeys with a failing callback = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testAPIKeyDelete(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, k.ClientID))
	_, err = s.FindAPIKey(ctx, k.ClientID)
	wantCode(t, "FindAPIKey after delete", err, iogate.CodeNotFound)
	wantCode(t, "DeleteAPIKey(again)", s.DeleteAPIKey(ctx, k.ClientID), iogate.CodeNotFound)

	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 2 || changes[0].ClientID != k.ClientID || changes[1].ClientID != k.ClientID || changes[0].Seq >= changes[1].Seq {
		t.Fatalf("KeyChangesSince after create and delete = %+v, want two increasing changes of %s", changes, k.ClientID)
	}
	latest, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if latest != changes[1].Seq {
		t.Errorf("LatestKeyChange = %d, want %d", latest, changes[1].Seq)
	}
	rest, err := s.KeyChangesSince(ctx, latest)
	must(t, "KeyChangesSince(latest)", err)
	if len(rest) != 0 {
		t.Errorf("KeyChangesSince(latest) = %+v, want none", rest)
	}
}

func testRecordKeyUse(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	later := base.Add(time.Hour)
	must(t, "RecordKeyUse", s.RecordKeyUse(ctx, []iogate.KeyUse{
		{ClientID: k.ClientID, Generation: 1, At: later, IP: "203.0.113.9"},
		{ClientID: iogate.NewClientID(), Generation: 1, At: later, IP: "203.0.113.9"},
	}))
	got, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if !got.LastUsedAt.Equal(later) || got.LastUsedIP != "203.0.113.9" {
		t.Errorf("after RecordKeyUse: last used %v from %q, want %v from 203.0.113.9", got.LastUsedAt, got.LastUsedIP, later)
	}
	// A batch from a node whose clock or queue is behind must not move the time back.
	must(t, "RecordKeyUse(earlier)", s.RecordKeyUse(ctx, []iogate.KeyUse{{ClientID: k.ClientID, Generation: 1, At: base, IP: "198.51.100.1"}}))
	got, err = s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if !got.LastUsedAt.Equal(later) {
		t.Errorf("an earlier use moved the last-used time from %v to %v", later, got.LastUsedAt)
	}
	must(t, "RecordKeyUse(none)", s.RecordKeyUse(ctx, nil))
}

// testKeyChangesInCommitOrder runs writers in parallel while a reader follows the change
// log as a node does, always asking for the changes after the last one it saw. The reader
// must see every change exactly once: if numbers were not handed out in commit order, a
// change that committed after a higher-numbered one would be skipped for good.
func testKeyChangesInCommitOrder(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	const writers, perWriter = 6, 10
	var wg sync.WaitGroup
	created := make(chan string, writers*perWriter)
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				k := newKey(a.ID, base)
				if err := s.CreateAPIKey(ctx, k); err != nil {
					errs <- fmt.Errorf("CreateAPIKey: %w", err)
					return
				}
				created <- k.ClientID
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	last := start
	follow := func() {
		changes, err := s.KeyChangesSince(ctx, last)
		must(t, "KeyChangesSince", err)
		for _, c := range changes {
			if c.Seq <= last {
				t.Fatalf("KeyChangesSince(%d) returned change %d", last, c.Seq)
			}
			last = c.Seq
			seen[c.ClientID]++
		}
	}
	for following := true; following; {
		select {
		case <-done:
			following = false
		default:
		}
		follow()
	}
	follow()
	close(created)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range created {
		if seen[id] != 1 {
			t.Errorf("the reader saw the change of key %s %d times, want once", id, seen[id])
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("the reader saw changes of %d keys, want %d", len(seen), writers*perWriter)
	}
}

// testLookupsOfOddStrings looks up IDs that no record can have, as a request path or a
// crafted cursor may carry them: bytes that are not UTF-8 and NUL bytes.
func testLookupsOfOddStrings(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	for _, id := range []string{"a\x00b", "\xff\xfe", ""} {
		_, err := s.FindAccountByID(ctx, id)
		wantCode(t, fmt.Sprintf("FindAccountByID(%q)", id), err, iogate.CodeNotFound)
		_, err = s.FindAPIKey(ctx, id)
		wantCode(t, fmt.Sprintf("FindAPIKey(%q)", id), err, iogate.CodeNotFound)
		_, err = s.FindVault(ctx, a.ID, id)
		wantCode(t, fmt.Sprintf("FindVault(%q)", id), err, iogate.CodeNotFound)
		wantCode(t, fmt.Sprintf("DeleteAPIKey(%q)", id), s.DeleteAPIKey(ctx, id), iogate.CodeNotFound)
	}
	for _, cursor := range []string{"a\x00b", "\xff\xfe"} {
		_, _, err := s.ListVaults(ctx, a.ID, iogate.Page{Cursor: cursor})
		wantCode(t, fmt.Sprintf("ListVaults(cursor %q)", cursor), err, iogate.CodeInvalid)
	}
}

// testFarCursors pages from cursors whose time lies before or after any key.
func testFarCursors(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k))
	for _, c := range []struct {
		name   string
		micros string
		want   int
	}{
		{"far past", "-9223372036854775808", 1},
		{"far future", "9223372036854775807", 0},
	} {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(c.micros + "/" + k.ClientID))
		keys, _, err := s.ListAPIKeys(ctx, a.ID, iogate.Page{Cursor: cursor})
		must(t, "ListAPIKeys("+c.name+" cursor)", err)
		if len(keys) != c.want {
			t.Errorf("ListAPIKeys(%s cursor) returned %d keys, want %d", c.name, len(keys), c.want)
		}
	}
}

func testVaults(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	other := newAccount(t, s)
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: a.ID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: base}
	must(t, "CreateVault", s.CreateVault(ctx, v))
	got, err := s.FindVault(ctx, a.ID, v.ID)
	must(t, "FindVault", err)
	if diff := cmp.Diff(v, got); diff != "" {
		t.Errorf("FindVault returned a different vault (-want +got):\n%s", diff)
	}
	_, err = s.FindVault(ctx, other.ID, v.ID)
	wantCode(t, "FindVault(another account)", err, iogate.CodeNotFound)
	wantCode(t, "CreateVault(same ID)", s.CreateVault(ctx, v), iogate.CodeConflict)
	orphan := &iogate.Vault{ID: iogate.NewID(), AccountID: iogate.NewID(), Name: "Orphan", Threshold: 1, Status: iogate.VaultActive, CreatedAt: base}
	wantCode(t, "CreateVault(unknown account)", s.CreateVault(ctx, orphan), iogate.CodeNotFound)
}

func testVaultList(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	var want []string
	for i := range 5 {
		v := &iogate.Vault{ID: iogate.NewID(), AccountID: a.ID, Name: fmt.Sprintf("vault %d", i), Threshold: 1, Status: iogate.VaultActive, CreatedAt: base}
		must(t, "CreateVault", s.CreateVault(ctx, v))
		want = append(want, v.ID)
	}
	sort.Strings(want)
	var got []string
	page := iogate.Page{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("ListVaults: more than 3 pages for 5 vaults at 2 per page")
		}
		vaults, next, err := s.ListVaults(ctx, a.ID, page)
		must(t, "ListVaults", err)
		for _, v := range vaults {
			got = append(got, v.ID)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListVaults pages in a different order (-want +got):\n%s", diff)
	}
}

func testSealedSecrets(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	_, err := s.SealedSecret(ctx, "pepper")
	wantCode(t, "SealedSecret(absent)", err, iogate.CodeNotFound)
	stored, err := s.PutSealedSecretIfAbsent(ctx, "pepper", []byte("first"))
	must(t, "PutSealedSecretIfAbsent", err)
	if string(stored) != "first" {
		t.Errorf("PutSealedSecretIfAbsent on an empty slot returned %q, want %q", stored, "first")
	}
	stored, err = s.PutSealedSecretIfAbsent(ctx, "pepper", []byte("second"))
	must(t, "PutSealedSecretIfAbsent(again)", err)
	if string(stored) != "first" {
		t.Errorf("PutSealedSecretIfAbsent on a taken slot returned %q, want the stored %q", stored, "first")
	}
	got, err := s.SealedSecret(ctx, "pepper")
	must(t, "SealedSecret", err)
	if string(got) != "first" {
		t.Errorf("SealedSecret = %q, want %q", got, "first")
	}
}

// testSealedSecretConcurrentPut mimics nodes that start together on an empty store: all
// must end up with the same pepper.
func testSealedSecretConcurrentPut(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	const n = 8
	results := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.PutSealedSecretIfAbsent(ctx, "pepper", []byte{byte('a' + i)})
		}()
	}
	wg.Wait()
	for i := range n {
		must(t, "PutSealedSecretIfAbsent", errs[i])
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("concurrent PutSealedSecretIfAbsent calls returned %q and %q, want one value", results[0], results[i])
		}
	}
}

func testSigningKeys(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	keys, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	if len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty store returned %d keys", len(keys))
	}
	older := &iogate.SigningKey{KID: "k-older", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{1, 2, 3}, PublicJWK: []byte(`{"kty":"OKP"}`),
		CreatedAt: base, ActiveAt: base, RetiredAt: base.Add(24 * time.Hour)}
	newer := &iogate.SigningKey{KID: "a-newer", Algorithm: "ES256", PrivateKeyEncrypted: []byte{4, 5}, PublicJWK: []byte(`{"kty":"EC"}`),
		CreatedAt: base.Add(time.Hour), ActiveAt: base.Add(2 * time.Hour)}
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, newer))
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, older))
	keys, err = s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	if diff := cmp.Diff([]*iogate.SigningKey{older, newer}, keys); diff != "" {
		t.Errorf("SigningKeys returned other keys or another order (-want +got):\n%s", diff)
	}
	wantCode(t, "CreateSigningKey(same KID)", s.CreateSigningKey(ctx, older), iogate.CodeConflict)
}

// sealedFixture stores one sealed secret and two signing keys.
func sealedFixture(t *testing.T, s iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	_, err := s.PutSealedSecretIfAbsent(ctx, "pepper", []byte("sealed-pepper"))
	must(t, "PutSealedSecretIfAbsent", err)
	for _, kid := range []string{"kid-1", "kid-2"} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, &iogate.SigningKey{KID: kid, Algorithm: "EdDSA",
			PrivateKeyEncrypted: []byte("sealed-" + kid), PublicJWK: []byte(`{}`), CreatedAt: base, ActiveAt: base}))
	}
}

// sealedState returns the sealed pepper and the sealed private keys by KID.
func sealedState(t *testing.T, s iogate.Store) map[string]string {
	t.Helper()
	ctx := ctxFor(t)
	state := map[string]string{}
	pepper, err := s.SealedSecret(ctx, "pepper")
	must(t, "SealedSecret", err)
	state["secret/pepper"] = string(pepper)
	keys, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	for _, k := range keys {
		state["signing_key/"+k.KID] = string(k.PrivateKeyEncrypted)
	}
	return state
}

func testResealSecrets(t *testing.T, s iogate.Store) {
	sealedFixture(t, s)
	var seen []string
	n, err := s.ResealSecrets(ctxFor(t), func(v iogate.SealedValue) ([]byte, error) {
		seen = append(seen, v.Kind+"/"+v.Name)
		return append([]byte("re-"), v.Sealed...), nil
	})
	must(t, "ResealSecrets", err)
	if n != 3 {
		t.Errorf("ResealSecrets = %d, want 3", n)
	}
	sort.Strings(seen)
	if diff := cmp.Diff([]string{"secret/pepper", "signing_key/kid-1", "signing_key/kid-2"}, seen); diff != "" {
		t.Errorf("ResealSecrets passed other values (-want +got):\n%s", diff)
	}
	want := map[string]string{"secret/pepper": "re-sealed-pepper", "signing_key/kid-1": "re-sealed-kid-1", "signing_key/kid-2": "re-sealed-kid-2"}
	if diff := cmp.Diff(want, sealedState(t, s)); diff != "" {
		t.Errorf("sealed values after ResealSecrets (-want +got):\n%s", diff)
	}
}

func testResealSecretsFailure(t *testing.T, s iogate.Store) {
	sealedFixture(t, s)
	before := sealedState(t, s)
	wrongKey := errors.New("does not decrypt")
	calls := 0
	_, err := s.ResealSecrets(ctxFor(t), func(v iogate.SealedValue) ([]byte, error) {
		calls++
		if calls == 3 {
			return nil, wrongKey
		}
		return []byte("changed"), nil
	})
	if !errors.Is(err, wrongKey) {
		t.Fatalf("ResealSecrets with a failing callback = %v, want the callback's error", err)
	}
	if diff := cmp.Diff(before, sealedState(t, s)); diff != "" {
		t.Errorf("a failed ResealSecrets changed sealed values (-before +after):\n%s", diff)
	}
}
