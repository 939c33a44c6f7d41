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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
		{"APIKeyAuthAll", testAPIKeyAuthAll},
		{"APIKeyDelete", testAPIKeyDelete},
		{"APIKeyUpdate", testAPIKeyUpdate},
		{"APIKeyUpdateWithoutChange", testAPIKeyUpdateWithoutChange},
		{"APIKeyDeleteOfAnotherAccount", testAPIKeyDeleteOfAnotherAccount},
		{"RecordKeyUse", testRecordKeyUse},
		{"RecordKeyUseOfPreviousSecret", testRecordKeyUsePrevious},
		{"AccountList", testAccountList},
		{"AuditAppendAndList", testAuditAppendAndList},
		{"AuditConcurrentAppend", testAuditConcurrentAppend},
		{"AuditOfMissingAccount", testAuditOfMissingAccount},
		{"AuditPrune", testAuditPrune},
		{"KeyChangesInCommitOrder", testKeyChangesInCommitOrder},
		{"LookupsOfOddStrings", testLookupsOfOddStrings},
		{"FarCursors", testFarCursors},
		{"Vaults", testVaults},
		{"VaultList", testVaultList},
		{"VaultChanges", testVaultChanges},
		{"SealedSecrets", testSealedSecrets},
		{"SealedSecretConcurrentPut", testSealedSecretConcurrentPut},
		{"SigningKeys", testSigningKeys},
		{"SigningKeyRotation", testSigningKeyRotation},
		{"SigningKeyRotationOtherAlgorithm", testSigningKeyRotationOtherAlgorithm},
		{"SigningKeyRetirement", testSigningKeyRetirement},
		{"SigningKeyRotationGap", testSigningKeyRotationGap},
		{"RevokedTokens", testRevokedTokens},
		{"ResealSecrets", testResealSecrets},
		{"ResealSecretsFailureChangesNothing", testResealSecretsFailure},
		{"PublicURL", testPublicURL},
	}
	cases = append(cases, userCases...)
	cases = append(cases, changeRecordCases...)
	cases = append(cases, revocationCases...)
	cases = append(cases, signingKeyRevocationCases...)
	cases = append(cases, signingKeyAuditCases...)
	cases = append(cases, keyChangeCases...)
	cases = append(cases, addressUnblockCases...)
	cases = append(cases, deletedClientIDCases...)
	cases = append(cases, vaultKeyCases...)
	cases = append(cases, legacyTextCases...)
	cases = append(cases, auditFilterCases...)
	cases = append(cases, auditPageCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

// RunTwoHandles runs the cases that need two handles on one database, as a server and the
// CLI have on one SQLite file, or two nodes on one PostgreSQL database. open must return
// two handles on an empty database of their own for each call, and close them when the
// test ends.
func RunTwoHandles(t *testing.T, open func(t *testing.T) (first, second iogate.Store)) {
	cases := []struct {
		name string
		fn   func(t *testing.T, first, second iogate.Store)
	}{
		{"RevocationsDuringKeyDeletions", revokeDuringKeyDeletions},
		{"SetupLinksCreatedAtOnce", createSetupLinksAtOnce},
		{"PublicURLLastRecordWins", recordPublicURLOnTwoHandles},
		{"DeletedClientIDCreatedDuringDeletion", createDuringDeletion},
		{"RemoveWhileInviting", removeWhileInviting},
		{"AcceptWhileRemovingInviter", acceptWhileRemovingInviter},
		{"VaultKeyConcurrentOnTwoHandles", createVaultOnceOnTwoHandles},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			first, second := open(t)
			c.fn(t, first, second)
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

// chain hashes the suite's audit records under a fixed key.
var chain = func() *iogate.AuditChain {
	c, err := iogate.NewAuditChain(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	return c
}()

// record returns a new audit record of event for accountID by an operator.
func record(t *testing.T, accountID, event, clientID string) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewRecord(accountID, event, iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}, base, map[string]any{"suite": true})
	if err != nil {
		t.Fatal(err)
	}
	r.ClientID = clientID
	return r
}

func created(t *testing.T, k *iogate.APIKey) *iogate.AuditRecord {
	return record(t, k.AccountID, iogate.AuditKeyCreated, k.ClientID)
}

func createdRec(t *testing.T, accountID string) *iogate.AuditRecord {
	return record(t, accountID, iogate.AuditKeyCreated, "")
}

func deleted(t *testing.T, k *iogate.APIKey) *iogate.AuditRecord {
	return record(t, k.AccountID, iogate.AuditKeyDeleted, k.ClientID)
}

func accountCreated(t *testing.T, a *iogate.Account) *iogate.AuditRecord {
	return record(t, a.ID, iogate.AuditAccountCreated, "")
}

func vaultCreated(t *testing.T, v *iogate.Vault) *iogate.AuditRecord {
	return record(t, v.AccountID, iogate.AuditVaultCreated, "")
}

// base is a fixed microsecond-precision UTC time; stores keep microseconds.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func newAccount(t *testing.T, s iogate.Store) *iogate.Account {
	t.Helper()
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: base}
	must(t, "CreateAccount", s.CreateAccount(ctxFor(t), a, accountCreated(t, a)))
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
	wantCode(t, "CreateAccount(same ID)", s.CreateAccount(ctx, a, accountCreated(t, a)), iogate.CodeConflict)
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
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
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
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
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
	wantCode(t, "CreateAPIKey(unknown account)", s.CreateAPIKey(ctx, k, created(t, k)), iogate.CodeNotFound)
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
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	wantCode(t, "CreateAPIKey(same client ID)", s.CreateAPIKey(ctx, k, created(t, k)), iogate.CodeConflict)
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
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
		positions = append(positions, position{k.CreatedAt, k.ClientID})
	}
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, newKey(other.ID, base), createdRec(t, other.ID)))
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
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
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

// testAPIKeyAuthAll checks that AllAPIKeyAuth passes every key once, with the fields
// that FindAPIKey returns for it.
func testAPIKeyAuthAll(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, b := newAccount(t, s), newAccount(t, s)
	plain := newKey(a.ID, base)
	restricted := newKey(a.ID, base)
	restricted.Scopes = []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}
	restricted.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::/48")}
	restricted.ExpiresAt = base.Add(90 * 24 * time.Hour)
	rotated := newKey(b.ID, base)
	for _, k := range []*iogate.APIKey{plain, restricted, rotated} {
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	}
	_, err := s.UpdateAPIKey(ctx, rotated.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		rotate(k, base.Add(time.Hour))
		return record(t, k.AccountID, iogate.AuditKeyRotated, k.ClientID), nil
	})
	must(t, "UpdateAPIKey", err)

	want := map[string]*iogate.APIKeyAuth{}
	for _, k := range []*iogate.APIKey{plain, restricted, rotated} {
		stored, err := s.FindAPIKey(ctx, k.ClientID)
		must(t, "FindAPIKey", err)
		want[k.ClientID] = stored.Auth()
	}
	got := map[string]*iogate.APIKeyAuth{}
	must(t, "AllAPIKeyAuth", s.AllAPIKeyAuth(ctx, func(k *iogate.APIKeyAuth) error {
		if got[k.ClientID] != nil {
			t.Errorf("AllAPIKeyAuth visited %s twice", k.ClientID)
		}
		// The store may reuse k for the next key, so keep a copy.
		c := *k
		got[k.ClientID] = &c
		return nil
	}))
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []netip.Prefix) bool { return slices.Equal(a, b) })); diff != "" {
		t.Errorf("AllAPIKeyAuth differs from FindAPIKey (-want +got):\n%s", diff)
	}
	if got[rotated.ClientID] == nil || got[rotated.ClientID].Previous == nil {
		t.Errorf("AllAPIKeyAuth lost the previous secret of the rotated key")
	}

	stop := errors.New("stop")
	calls := 0
	err = s.AllAPIKeyAuth(ctx, func(*iogate.APIKeyAuth) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("AllAPIKeyAuth with a failing callback = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testAPIKeyDelete(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, k.ClientID, deleted(t, k)))
	_, err = s.FindAPIKey(ctx, k.ClientID)
	wantCode(t, "FindAPIKey after delete", err, iogate.CodeNotFound)
	wantCode(t, "DeleteAPIKey(again)", s.DeleteAPIKey(ctx, k.ClientID, deleted(t, k)), iogate.CodeNotFound)

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
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
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
	createdIDs := make(chan string, writers*perWriter)
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				k := newKey(a.ID, base)
				if err := s.CreateAPIKey(ctx, k, created(t, k)); err != nil {
					errs <- fmt.Errorf("CreateAPIKey: %w", err)
					return
				}
				createdIDs <- k.ClientID
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
	close(createdIDs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range createdIDs {
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
		wantCode(t, fmt.Sprintf("DeleteAPIKey(%q)", id), s.DeleteAPIKey(ctx, id, createdRec(t, a.ID)), iogate.CodeNotFound)
		wantCode(t, fmt.Sprintf("CancelInvitation(%q)", id), s.CancelInvitation(ctx, id, record(t, a.ID, iogate.AuditUserInvitationCancelled, "")), iogate.CodeNotFound)
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
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
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
	must(t, "CreateVault", s.CreateVault(ctx, v, vaultCreated(t, v)))
	got, err := s.FindVault(ctx, a.ID, v.ID)
	must(t, "FindVault", err)
	if diff := cmp.Diff(v, got); diff != "" {
		t.Errorf("FindVault returned a different vault (-want +got):\n%s", diff)
	}
	_, err = s.FindVault(ctx, other.ID, v.ID)
	wantCode(t, "FindVault(another account)", err, iogate.CodeNotFound)
	wantCode(t, "CreateVault(same ID)", s.CreateVault(ctx, v, vaultCreated(t, v)), iogate.CodeConflict)
	orphan := &iogate.Vault{ID: iogate.NewID(), AccountID: iogate.NewID(), Name: "Orphan", Threshold: 1, Status: iogate.VaultActive, CreatedAt: base}
	wantCode(t, "CreateVault(unknown account)", s.CreateVault(ctx, orphan, vaultCreated(t, orphan)), iogate.CodeNotFound)
}

func testVaultList(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	var want []string
	for i := range 5 {
		v := &iogate.Vault{ID: iogate.NewID(), AccountID: a.ID, Name: fmt.Sprintf("vault %d", i), Threshold: 1, Status: iogate.VaultActive, CreatedAt: base}
		must(t, "CreateVault", s.CreateVault(ctx, v, vaultCreated(t, v)))
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

// testVaultChanges checks that creating a vault announces a change of its account's vaults
// on the change feed, and that a failed creation announces nothing.
func testVaultChanges(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	v := &iogate.Vault{ID: iogate.NewID(), AccountID: a.ID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: base}
	must(t, "CreateVault", s.CreateVault(ctx, v, vaultCreated(t, v)))
	wantCode(t, "CreateVault(same ID)", s.CreateVault(ctx, v, vaultCreated(t, v)), iogate.CodeConflict)

	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	want := []iogate.KeyChange{{Kind: iogate.ChangeVaults, AccountID: a.ID}}
	if diff := cmp.Diff(want, changes, cmpopts.IgnoreFields(iogate.KeyChange{}, "Seq")); diff != "" {
		t.Errorf("KeyChangesSince after one vault created and one rejected (-want +got):\n%s", diff)
	}

	// An API key change carries no account ID, so readers can tell the kinds apart.
	afterVault, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	changes, err = s.KeyChangesSince(ctx, afterVault)
	must(t, "KeyChangesSince", err)
	want = []iogate.KeyChange{{Kind: iogate.ChangeAPIKey, ClientID: k.ClientID}}
	if diff := cmp.Diff(want, changes, cmpopts.IgnoreFields(iogate.KeyChange{}, "Seq")); diff != "" {
		t.Errorf("KeyChangesSince after CreateAPIKey (-want +got):\n%s", diff)
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
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, newer, recordSigningKeyChange))
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, older, recordSigningKeyChange))
	keys, err = s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	if diff := cmp.Diff([]*iogate.SigningKey{older, newer}, keys); diff != "" {
		t.Errorf("SigningKeys returned other keys or another order (-want +got):\n%s", diff)
	}
	wantCode(t, "CreateSigningKey(same KID)", s.CreateSigningKey(ctx, older, recordSigningKeyChange), iogate.CodeConflict)
}

// sealedFixture stores one sealed secret and two signing keys.
func sealedFixture(t *testing.T, s iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	_, err := s.PutSealedSecretIfAbsent(ctx, "pepper", []byte("sealed-pepper"))
	must(t, "PutSealedSecretIfAbsent", err)
	for _, kid := range []string{"kid-1", "kid-2"} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, &iogate.SigningKey{KID: kid, Algorithm: "EdDSA",
			PrivateKeyEncrypted: []byte("sealed-" + kid), PublicJWK: []byte(`{}`), CreatedAt: base, ActiveAt: base}, recordSigningKeyChange))
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

// rotate gives k a new current secret and keeps the old one as the previous secret.
func rotate(k *iogate.APIKey, at time.Time) {
	k.Previous = &iogate.PreviousSecret{Hash: k.SecretHash, Generation: k.SecretGeneration, RotatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	copy(k.SecretHash[:], bytes.Repeat([]byte{0xcd}, len(k.SecretHash)))
	k.SecretGeneration++
	k.SecretCreatedAt = at
	k.UpdatedAt = at
}

func testAPIKeyUpdate(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	later := base.Add(time.Hour)
	want := *k
	want.Name, want.Description = "renamed", "now with a description"
	want.Scopes = []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}
	want.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	want.ExpiresAt = later.Add(time.Hour)
	want.Exposed, want.ExposedAt, want.ExposedGeneration = true, later, want.SecretGeneration
	rotate(&want, later)
	got, err := s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		*k = want
		return record(t, k.AccountID, iogate.AuditKeyRotated, k.ClientID), nil
	})
	must(t, "UpdateAPIKey", err)
	if diff := keyDiff(&want, got); diff != "" {
		t.Errorf("UpdateAPIKey returned a different key (-want +got):\n%s", diff)
	}
	stored, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if diff := keyDiff(&want, stored); diff != "" {
		t.Errorf("FindAPIKey after UpdateAPIKey (-want +got):\n%s", diff)
	}
	changes, err := s.KeyChangesSince(ctx, before)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].ClientID != k.ClientID {
		t.Errorf("KeyChangesSince after one update = %+v, want one change of %s", changes, k.ClientID)
	}
	records, _, err := s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a.ID, Event: iogate.AuditKeyRotated}, iogate.Page{})
	must(t, "ListAuditRecords", err)
	if len(records) != 1 || records[0].ClientID != k.ClientID {
		t.Errorf("ListAuditRecords(key.rotated) = %d records, want the update's one", len(records))
	}

	_, err = s.UpdateAPIKey(ctx, iogate.NewClientID(), func(*iogate.APIKey) (*iogate.AuditRecord, error) {
		t.Error("UpdateAPIKey called update for an unknown key")
		return nil, nil
	})
	wantCode(t, "UpdateAPIKey(unknown)", err, iogate.CodeNotFound)
}

// testAPIKeyUpdateWithoutChange checks that an update returning no record, or an error,
// writes nothing.
func testAPIKeyUpdateWithoutChange(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	got, err := s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) { return nil, nil })
	must(t, "UpdateAPIKey(no record)", err)
	if diff := keyDiff(k, got); diff != "" {
		t.Errorf("UpdateAPIKey without a record returned a different key (-want +got):\n%s", diff)
	}
	refused := iogate.Errorf(iogate.CodeInvalid, "refused")
	_, err = s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		k.Name = "must not be stored"
		return nil, refused
	})
	if !errors.Is(err, refused) {
		t.Errorf("UpdateAPIKey with a failing update = %v, want update's error", err)
	}
	stored, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if diff := keyDiff(k, stored); diff != "" {
		t.Errorf("the key changed although no update was written (-want +got):\n%s", diff)
	}
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != before {
		t.Errorf("LatestKeyChange moved from %d to %d without a written update", before, after)
	}
}

func testAPIKeyDeleteOfAnotherAccount(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	other := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	wrong := record(t, other.ID, iogate.AuditKeyDeleted, k.ClientID)
	wantCode(t, "DeleteAPIKey(another account's key)", s.DeleteAPIKey(ctx, k.ClientID, wrong), iogate.CodeNotFound)
	_, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey after the refused delete", err)
	records, _, err := s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: other.ID, Event: iogate.AuditKeyDeleted}, iogate.Page{})
	must(t, "ListAuditRecords", err)
	if len(records) != 0 {
		t.Errorf("a rejected delete appended %d key.deleted records to the other account", len(records))
	}
}

func testRecordKeyUsePrevious(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	rotatedAt := base.Add(time.Hour)
	_, err := s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		rotate(k, rotatedAt)
		return record(t, k.AccountID, iogate.AuditKeyRotated, k.ClientID), nil
	})
	must(t, "UpdateAPIKey", err)

	// A use from before the rotation, flushed late, does not count as a use of the
	// previous secret since the rotation; one after it does.
	must(t, "RecordKeyUse(before rotation)", s.RecordKeyUse(ctx, []iogate.KeyUse{{ClientID: k.ClientID, Generation: 1, At: base, IP: "192.0.2.1"}}))
	got, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if got.Previous == nil || !got.Previous.LastUsedAt.IsZero() {
		t.Fatalf("after a use from before the rotation: previous secret %+v, want it unused", got.Previous)
	}
	usedAt := rotatedAt.Add(time.Minute)
	must(t, "RecordKeyUse(after rotation)", s.RecordKeyUse(ctx, []iogate.KeyUse{{ClientID: k.ClientID, Generation: 1, At: usedAt, IP: "192.0.2.1"}}))
	got, err = s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if !got.Previous.LastUsedAt.Equal(usedAt) {
		t.Errorf("previous secret last used %v, want %v", got.Previous.LastUsedAt, usedAt)
	}
	must(t, "RecordKeyUse(current)", s.RecordKeyUse(ctx, []iogate.KeyUse{{ClientID: k.ClientID, Generation: 2, At: usedAt.Add(time.Minute), IP: "192.0.2.2"}}))
	got, err = s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if !got.Previous.LastUsedAt.Equal(usedAt) || got.LastUsedIP != "192.0.2.2" {
		t.Errorf("a use of the current secret: previous last used %v, last IP %q; want %v and 192.0.2.2", got.Previous.LastUsedAt, got.LastUsedIP, usedAt)
	}
}

func testAccountList(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	var want []string
	for range 5 {
		want = append(want, newAccount(t, s).ID)
	}
	sort.Strings(want)
	var got []string
	page := iogate.Page{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("ListAccounts: more than 3 pages for 5 accounts at 2 per page")
		}
		accounts, next, err := s.ListAccounts(ctx, page)
		must(t, "ListAccounts", err)
		for _, a := range accounts {
			got = append(got, a.ID)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListAccounts pages in a different order (-want +got):\n%s", diff)
	}
}

func testAuditAppendAndList(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, b := newAccount(t, s), newAccount(t, s)
	var batch []*iogate.AuditRecord
	for i := range 7 {
		account, event := a.ID, iogate.AuditTokenIssued
		if i%3 == 2 {
			account, event = b.ID, iogate.AuditTokenDenied
		}
		r := record(t, account, event, []string{"key-1", "key-2"}[i%2])
		r.TokenID = fmt.Sprintf("jti-%d", i)
		batch = append(batch, r)
	}
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, batch[:4]))
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, batch[4:]))
	must(t, "AppendAuditRecords(none)", s.AppendAuditRecords(ctx, nil))

	var seqs []int64
	page := iogate.Page{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("ListAuditRecords: more than 3 pages for 6 records at 2 per page")
		}
		records, next, err := s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a.ID}, page)
		must(t, "ListAuditRecords", err)
		for _, r := range records {
			seqs = append(seqs, r.Seq)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	// Record 1 of each account is its account.created record.
	if diff := cmp.Diff([]int64{6, 5, 4, 3, 2, 1}, seqs); diff != "" {
		t.Errorf("ListAuditRecords of account A, newest first (-want +got):\n%s", diff)
	}
	filtered, _, err := s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a.ID, ClientID: "key-2", Event: iogate.AuditTokenIssued}, iogate.Page{})
	must(t, "ListAuditRecords(filtered)", err)
	for _, r := range filtered {
		if r.ClientID != "key-2" || r.Event != iogate.AuditTokenIssued || r.AccountID != a.ID {
			t.Errorf("ListAuditRecords(filtered) returned %s %s of %s", r.Event, r.ClientID, r.AccountID)
		}
	}
	if len(filtered) != 2 {
		t.Errorf("ListAuditRecords(filtered) = %d records, want 2", len(filtered))
	}
	_, _, err = s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a.ID}, iogate.Page{Cursor: "not a cursor!"})
	wantCode(t, "ListAuditRecords(bad cursor)", err, iogate.CodeInvalid)

	// Every record, read back, verifies against the chain; the order is by account, then
	// by sequence number.
	verifier := chain.NewVerifier()
	var order []string
	must(t, "AuditRecords", s.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
		order = append(order, fmt.Sprintf("%s/%d", r.AccountID, r.Seq))
		return verifier.Add(r)
	}))
	if len(order) != 9 || !sort.SliceIsSorted(order, func(i, j int) bool {
		ai, _, _ := strings.Cut(order[i], "/")
		aj, _, _ := strings.Cut(order[j], "/")
		return ai < aj
	}) {
		t.Errorf("AuditRecords order = %v, want 9 records grouped by account", order)
	}
	var original *iogate.AuditRecord
	for _, r := range batch {
		if r.AccountID == b.ID {
			original = r
			break
		}
	}
	var stored *iogate.AuditRecord
	must(t, "AuditRecords(account B)", s.AuditRecords(ctx, b.ID, func(r *iogate.AuditRecord) error {
		if r.Seq == 2 {
			stored = r
		}
		return nil
	}))
	if diff := cmp.Diff(original, stored, cmp.AllowUnexported(iogate.AuditRecord{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".chain"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("the first appended record of account B read back differently (-appended +stored):\n%s", diff)
	}
}

// testAuditConcurrentAppend appends to one account's chain from several goroutines, as
// several nodes do: the chain must come out numbered without gaps or repeats.
func testAuditConcurrentAppend(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	const writers, perWriter = 6, 5
	batches := make([][]*iogate.AuditRecord, writers)
	for w := range batches {
		for range perWriter {
			batches[w] = append(batches[w], record(t, a.ID, iogate.AuditTokenIssued, "key"))
		}
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range batches[w] {
				if err := s.AppendAuditRecords(ctx, []*iogate.AuditRecord{r}); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "concurrent AppendAuditRecords", err)
	}
	verifier := chain.NewVerifier()
	must(t, "AuditRecords", s.AuditRecords(ctx, a.ID, verifier.Add))
	heads := verifier.Heads()
	// The account's chain starts with its account.created record.
	if len(heads) != 1 || heads[0].Records != writers*perWriter+1 {
		t.Errorf("the chain after concurrent appends: %+v, want one account with %d records", heads, writers*perWriter+1)
	}
}

func testAuditOfMissingAccount(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	err := s.AppendAuditRecords(ctx, []*iogate.AuditRecord{record(t, iogate.NewID(), iogate.AuditTokenIssued, "key")})
	wantCode(t, "AppendAuditRecords(unknown account)", err, iogate.CodeNotFound)
}

func testSigningKeyRotation(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	first := &iogate.SigningKey{KID: "first", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{1}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base}
	before, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, first, recordSigningKeyChange))
	// A key that one node creates at start reaches the others through the change feed.
	created, err := s.KeyChangesSince(ctx, before)
	must(t, "KeyChangesSince", err)
	if len(created) != 1 || created[0].Kind != iogate.ChangeSigningKeys {
		t.Errorf("KeyChangesSince after CreateSigningKey = %+v, want one signing-keys change", created)
	}
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	second := &iogate.SigningKey{KID: "second", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{2}, PublicJWK: []byte(`{}`),
		CreatedAt: base.Add(time.Hour), ActiveAt: base.Add(2 * time.Hour)}
	must(t, "RotateSigningKey", s.RotateSigningKey(ctx, second, recordSigningKeyChange))
	keys, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	if len(keys) != 2 || keys[0].KID != "first" || !keys[0].RetiredAt.Equal(second.ActiveAt) || !keys[1].RetiredAt.IsZero() {
		t.Errorf("SigningKeys after rotation = %+v, want first retired at the second's activation and second not retired", keys)
	}
	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].Kind != iogate.ChangeSigningKeys || changes[0].ClientID != "" {
		t.Errorf("KeyChangesSince after rotation = %+v, want one signing-keys change without a client ID", changes)
	}
	wantCode(t, "RotateSigningKey(same KID)", s.RotateSigningKey(ctx, second, recordSigningKeyChange), iogate.CodeConflict)
}

// testSigningKeyRotationOtherAlgorithm rotates to RS256 in a store whose EdDSA key signs:
// the EdDSA key keeps signing for servers configured with EdDSA, and only the older
// RS256 key is retired.
func testSigningKeyRotationOtherAlgorithm(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	ed := &iogate.SigningKey{KID: "ed", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{1}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base}
	oldRS := &iogate.SigningKey{KID: "rs-old", Algorithm: "RS256", PrivateKeyEncrypted: []byte{2}, PublicJWK: []byte(`{}`),
		CreatedAt: base.Add(time.Minute), ActiveAt: base.Add(time.Minute)}
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, ed, recordSigningKeyChange))
	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, oldRS, recordSigningKeyChange))

	newRS := &iogate.SigningKey{KID: "rs-new", Algorithm: "RS256", PrivateKeyEncrypted: []byte{3}, PublicJWK: []byte(`{}`),
		CreatedAt: base.Add(time.Hour), ActiveAt: base.Add(2 * time.Hour)}
	must(t, "RotateSigningKey", s.RotateSigningKey(ctx, newRS, recordSigningKeyChange))
	keys, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	retired := map[string]time.Time{}
	for _, k := range keys {
		retired[k.KID] = k.RetiredAt
	}
	want := map[string]time.Time{"ed": {}, "rs-old": newRS.ActiveAt, "rs-new": {}}
	if diff := cmp.Diff(want, retired); diff != "" {
		t.Errorf("retirement times after a rotation to RS256 (-want +got):\n%s", diff)
	}
}

// testSigningKeyRetirement retires the EdDSA keys of a store that moved to RS256, and
// checks that a retirement which would leave no algorithm signing is rejected unchanged.
func testSigningKeyRetirement(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	edOld := &iogate.SigningKey{KID: "ed-old", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{1}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base, RetiredAt: base.Add(time.Hour)}
	edLater := &iogate.SigningKey{KID: "ed-later", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{2}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base.Add(time.Hour), RetiredAt: base.Add(5 * time.Hour)}
	edScheduled := &iogate.SigningKey{KID: "ed-scheduled", Algorithm: "EdDSA", PrivateKeyEncrypted: []byte{3}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base.Add(5 * time.Hour)}
	rs := &iogate.SigningKey{KID: "rs", Algorithm: "RS256", PrivateKeyEncrypted: []byte{4}, PublicJWK: []byte(`{}`),
		CreatedAt: base, ActiveAt: base.Add(2 * time.Hour)}
	for _, k := range []*iogate.SigningKey{edOld, edLater, edScheduled} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}
	before, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	_, err = s.RetireSigningKeys(ctx, "EdDSA", base.Add(3*time.Hour), recordSigningKeyChange)
	wantCode(t, "RetireSigningKeys(no other algorithm)", err, iogate.CodeInvalid)
	_, err = s.RetireSigningKeys(ctx, "RS256", base.Add(3*time.Hour), recordSigningKeyChange)
	wantCode(t, "RetireSigningKeys(no RS256 key)", err, iogate.CodeNotFound)

	must(t, "CreateSigningKey", s.CreateSigningKey(ctx, rs, recordSigningKeyChange))
	// The RS256 key signs only from base+2h, so retiring EdDSA earlier is rejected.
	_, err = s.RetireSigningKeys(ctx, "EdDSA", base.Add(time.Hour), recordSigningKeyChange)
	wantCode(t, "RetireSigningKeys(before the RS256 key signs)", err, iogate.CodeInvalid)
	after, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	if diff := cmp.Diff(append(before, rs), after); diff != "" {
		t.Errorf("rejected RetireSigningKeys calls changed the keys (-want +got):\n%s", diff)
	}

	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	at := base.Add(3 * time.Hour)
	got, err := s.RetireSigningKeys(ctx, "EdDSA", at, recordSigningKeyChange)
	must(t, "RetireSigningKeys", err)
	var kids []string
	for _, k := range got {
		kids = append(kids, k.KID)
		if !k.RetiredAt.Equal(at) {
			t.Errorf("RetireSigningKeys returned %s retired at %s, want %s", k.KID, k.RetiredAt, at)
		}
	}
	if diff := cmp.Diff([]string{"ed-later", "ed-scheduled"}, kids); diff != "" {
		t.Errorf("RetireSigningKeys returned other keys (-want +got):\n%s", diff)
	}
	keys, err := s.SigningKeys(ctx)
	must(t, "SigningKeys", err)
	retired := map[string]time.Time{}
	for _, k := range keys {
		retired[k.KID] = k.RetiredAt
	}
	want := map[string]time.Time{"ed-old": edOld.RetiredAt, "ed-later": at, "ed-scheduled": at, "rs": {}}
	if diff := cmp.Diff(want, retired); diff != "" {
		t.Errorf("retirement times after RetireSigningKeys (-want +got):\n%s", diff)
	}
	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].Kind != iogate.ChangeSigningKeys || changes[0].ClientID != "" {
		t.Errorf("KeyChangesSince after RetireSigningKeys = %+v, want one signing-keys change without a client ID", changes)
	}

	_, err = s.RetireSigningKeys(ctx, "EdDSA", at, recordSigningKeyChange)
	wantCode(t, "RetireSigningKeys(again)", err, iogate.CodeNotFound)
	_, err = s.RetireSigningKeys(ctx, "RS256", base.Add(4*time.Hour), recordSigningKeyChange)
	wantCode(t, "RetireSigningKeys(RS256 after EdDSA)", err, iogate.CodeInvalid)
}

func testRevokedTokens(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	now := time.Now().UTC().Truncate(time.Microsecond)
	live := &iogate.RevokedToken{TokenID: "jti-live", ClientID: k.ClientID, ExpiresAt: now.Add(time.Hour), RevokedAt: now}
	must(t, "RevokeToken", s.RevokeToken(ctx, live, revokedRec(t, a.ID, live)))
	must(t, "RevokeToken(again)", s.RevokeToken(ctx, live, revokedRec(t, a.ID, live)))
	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].ClientID != k.ClientID || changes[0].Kind != iogate.ChangeAPIKey {
		t.Errorf("KeyChangesSince after revoking one token twice = %+v, want one api_key change of %s", changes, k.ClientID)
	}

	got, err := s.ListRevokedTokens(ctx, k.ClientID, now)
	must(t, "ListRevokedTokens", err)
	if diff := cmp.Diff([]*iogate.RevokedToken{live}, got); diff != "" {
		t.Errorf("ListRevokedTokens (-want +got):\n%s", diff)
	}
	got, err = s.ListRevokedTokens(ctx, k.ClientID, now.Add(2*time.Hour))
	must(t, "ListRevokedTokens(after expiry)", err)
	if len(got) != 0 {
		t.Errorf("ListRevokedTokens after the token expired = %+v, want none", got)
	}
	var all []string
	must(t, "AllRevokedTokens", s.AllRevokedTokens(ctx, now, func(r *iogate.RevokedToken) error {
		all = append(all, r.TokenID)
		return nil
	}))
	if !slices.Equal(all, []string{"jti-live"}) {
		t.Errorf("AllRevokedTokens = %v, want [jti-live]", all)
	}

	// Deleting the key removes its revocations with it.
	must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, k.ClientID, deleted(t, k)))
	got, err = s.ListRevokedTokens(ctx, k.ClientID, now)
	must(t, "ListRevokedTokens(deleted key)", err)
	if len(got) != 0 {
		t.Errorf("ListRevokedTokens of a deleted key = %+v, want none", got)
	}
}

// testAuditPrune checks retention pruning: the records up to a checkpoint go, the
// checkpoint is stored, the chain verifies from it, appending continues after the newest
// record, and checkpoints that would break the chain are rejected.
func testAuditPrune(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	var batch []*iogate.AuditRecord
	for range 5 {
		batch = append(batch, record(t, a.ID, iogate.AuditTokenIssued, "key"))
	}
	batch = append(batch, record(t, other.ID, iogate.AuditTokenIssued, "key"))
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, batch))

	// Record 1 is the account's account.created record, so batch[2] is record 4.
	cp := chain.NewCheckpoint(batch[2], base.Add(time.Hour))
	n, err := s.PruneAuditRecords(ctx, cp)
	must(t, "PruneAuditRecords", err)
	if n != 4 {
		t.Errorf("PruneAuditRecords deleted %d records, want 4", n)
	}
	got, err := s.AuditCheckpoints(ctx, a.ID)
	must(t, "AuditCheckpoints", err)
	if len(got) != 1 || *got[0] != *cp {
		t.Fatalf("AuditCheckpoints = %+v, want the stored checkpoint %+v", got, cp)
	}
	if all, err := s.AuditCheckpoints(ctx, ""); err != nil || len(all) != 1 {
		t.Errorf("AuditCheckpoints(all) = %d checkpoints, %v; want 1", len(all), err)
	}
	if none, err := s.AuditCheckpoints(ctx, other.ID); err != nil || len(none) != 0 {
		t.Errorf("AuditCheckpoints(account never pruned) = %d checkpoints, %v; want none", len(none), err)
	}

	// Appending continues the chain after the newest record.
	next := record(t, a.ID, iogate.AuditTokenIssued, "key")
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, []*iogate.AuditRecord{next}))
	if next.Seq != 7 || next.PrevHash != batch[4].Hash {
		t.Errorf("record appended after pruning: seq %d, want 7 linked to record 6", next.Seq)
	}
	v := chain.NewVerifier()
	must(t, "AuditVerifier.Start", v.Start(got[0]))
	var kept []int64
	must(t, "AuditRecords", s.AuditRecords(ctx, a.ID, func(r *iogate.AuditRecord) error {
		kept = append(kept, r.Seq)
		return v.Add(r)
	}))
	if !slices.Equal(kept, []int64{5, 6, 7}) {
		t.Errorf("records kept = %v, want [5 6 7]", kept)
	}

	newest := chain.NewCheckpoint(next, base)
	_, err = s.PruneAuditRecords(ctx, newest)
	wantCode(t, "PruneAuditRecords(newest record)", err, iogate.CodeInvalid)
	_, err = s.PruneAuditRecords(ctx, chain.NewCheckpoint(batch[1], base))
	wantCode(t, "PruneAuditRecords(below the stored checkpoint)", err, iogate.CodeConflict)
	forged := chain.NewCheckpoint(batch[3], base)
	forged.Hash[0] ^= 1
	_, err = s.PruneAuditRecords(ctx, forged)
	wantCode(t, "PruneAuditRecords(wrong hash)", err, iogate.CodeInvalid)
	if again, _ := s.AuditCheckpoints(ctx, a.ID); len(again) != 1 || again[0].Seq != 4 {
		t.Errorf("rejected prunes changed the checkpoint: %+v", again)
	}

	// A later prune moves the stored checkpoint forward, which PostgreSQL's trigger on
	// checkpoints allows, unlike moving it back.
	n, err = s.PruneAuditRecords(ctx, chain.NewCheckpoint(batch[4], base.Add(2*time.Hour)))
	must(t, "PruneAuditRecords(a later record)", err)
	if n != 2 {
		t.Errorf("PruneAuditRecords(a later record) deleted %d records, want 2", n)
	}
	if moved, _ := s.AuditCheckpoints(ctx, a.ID); len(moved) != 1 || moved[0].Seq != 6 {
		t.Errorf("checkpoints after a later prune = %+v, want one at record 6", moved)
	}
}
