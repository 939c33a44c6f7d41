package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// vaultKeyCases check CreateVaultOnce: a vault created with an idempotency key is created
// once per account and key, and every later call with the key returns it.
var vaultKeyCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"VaultKeyReplay", testVaultKeyReplay},
	{"VaultKeyScope", testVaultKeyScope},
	{"VaultKeyInvalid", testVaultKeyInvalid},
	{"VaultKeyAfterFailedCreate", testVaultKeyAfterFailedCreate},
	{"VaultKeyConcurrent", testVaultKeyConcurrent},
}

// newVault returns a new active vault of accountID, not yet stored.
func newVault(accountID, name string, threshold int) *iogate.Vault {
	return &iogate.Vault{ID: iogate.NewID(), AccountID: accountID, Name: name, Threshold: threshold, Status: iogate.VaultActive, CreatedAt: base}
}

// createVaultOnce calls CreateVaultOnce with a fresh vault.created record, and fails the
// test on an error.
func createVaultOnce(t *testing.T, s iogate.Store, v *iogate.Vault, key string) (*iogate.Vault, bool) {
	t.Helper()
	stored, created, err := s.CreateVaultOnce(ctxFor(t), v, key, vaultCreated(t, v))
	must(t, fmt.Sprintf("CreateVaultOnce(%s, key %q)", v.Name, key), err)
	return stored, created
}

// vaultIDs returns the IDs of every vault of accountID, oldest first.
func vaultIDs(t *testing.T, s iogate.Store, accountID string) []string {
	t.Helper()
	vaults, _, err := s.ListVaults(ctxFor(t), accountID, iogate.Page{Limit: iogate.MaxPageLimit})
	must(t, "ListVaults", err)
	var ids []string
	for _, v := range vaults {
		ids = append(ids, v.ID)
	}
	return ids
}

// countEvents returns how many audit records of accountID have the event.
func countEvents(t *testing.T, s iogate.Store, accountID, event string) int {
	t.Helper()
	n := 0
	for _, r := range allAuditRecords(t, s, accountID) {
		if r.Event == event {
			n++
		}
	}
	return n
}

// testVaultKeyReplay creates a vault with a key, then calls again with the key and another
// vault. The second call returns the first vault and writes nothing: no vault, no change
// of the account's vaults and no audit record.
func testVaultKeyReplay(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	first := newVault(a.ID, "Treasury", 2)
	stored, created := createVaultOnce(t, s, first, "order-42")
	if !created {
		t.Error("CreateVaultOnce with a new key returned created = false, want true")
	}
	if diff := cmp.Diff(first, stored); diff != "" {
		t.Errorf("CreateVaultOnce with a new key returned another vault than the one it created (-want +got):\n%s", diff)
	}
	found, err := s.FindVault(ctx, a.ID, first.ID)
	must(t, "FindVault", err)
	if diff := cmp.Diff(first, found); diff != "" {
		t.Errorf("FindVault of the vault created with a key (-want +got):\n%s", diff)
	}
	changes, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	// The replay differs in every field, which the store does not compare.
	second := newVault(a.ID, "Cold", 3)
	second.CreatedAt = base.Add(1)
	stored, created = createVaultOnce(t, s, second, "order-42")
	if created {
		t.Error("CreateVaultOnce with a used key returned created = true, want false")
	}
	if diff := cmp.Diff(first, stored); diff != "" {
		t.Errorf("CreateVaultOnce with a used key returned another vault than the first (-want +got):\n%s", diff)
	}
	_, err = s.FindVault(ctx, a.ID, second.ID)
	wantCode(t, "FindVault of the vault of the replay", err, iogate.CodeNotFound)
	if got := vaultIDs(t, s, a.ID); !cmp.Equal(got, []string{first.ID}) {
		t.Errorf("vaults after a replay = %v, want only the first [%s]", got, first.ID)
	}
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != changes {
		t.Errorf("LatestKeyChange after a replay = %d, want %d: the replay recorded a change", after, changes)
	}
	if n := countEvents(t, s, a.ID, iogate.AuditVaultCreated); n != 1 {
		t.Errorf("vault.created records after a creation and a replay = %d, want 1", n)
	}
}

// testVaultKeyScope checks that a key belongs to one account and is compared byte for
// byte, and that calls without a key always create a vault.
func testVaultKeyScope(t *testing.T, s iogate.Store) {
	a := newAccount(t, s)
	other := newAccount(t, s)
	mine, _ := createVaultOnce(t, s, newVault(a.ID, "Treasury", 2), "shared-key")

	theirs, created := createVaultOnce(t, s, newVault(other.ID, "Treasury", 2), "shared-key")
	if !created || theirs.ID == mine.ID || theirs.AccountID != other.ID {
		t.Errorf("CreateVaultOnce of another account with the same key = vault %s of account %s, created %t; want a new vault of account %s",
			theirs.ID, theirs.AccountID, created, other.ID)
	}
	if _, created := createVaultOnce(t, s, newVault(a.ID, "Treasury", 2), "Shared-Key"); !created {
		t.Error("CreateVaultOnce with a key that differs only in letter case returned created = false, want a new vault")
	}
	if _, created := createVaultOnce(t, s, newVault(a.ID, "Treasury", 2), "shared-key "); !created {
		t.Error("CreateVaultOnce with a key that differs by a trailing space returned created = false, want a new vault")
	}
	longest := strings.Repeat("~", iogate.MaxIdempotencyKeyLength)
	if _, created := createVaultOnce(t, s, newVault(a.ID, "Longest", 1), longest); !created {
		t.Errorf("CreateVaultOnce with a key of %d bytes returned created = false, want a new vault", len(longest))
	}
	if stored, created := createVaultOnce(t, s, newVault(a.ID, "Longest", 1), longest); created {
		t.Errorf("CreateVaultOnce repeated with a key of %d bytes created vault %s, want the first", len(longest), stored.ID)
	}
	for i := range 2 {
		if _, created := createVaultOnce(t, s, newVault(a.ID, "Keyless", 1), ""); !created {
			t.Errorf("CreateVaultOnce without a key, call %d: created = false, want true", i+1)
		}
	}
	if got := len(vaultIDs(t, s, a.ID)); got != 6 {
		t.Errorf("vaults of the account = %d, want 6", got)
	}
	if got := len(vaultIDs(t, s, other.ID)); got != 1 {
		t.Errorf("vaults of the other account = %d, want 1", got)
	}
}

// testVaultKeyInvalid checks that keys outside printable ASCII or longer than
// MaxIdempotencyKeyLength are rejected with CodeInvalid and write nothing.
func testVaultKeyInvalid(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	for _, c := range []struct{ name, key string }{
		{"too long", strings.Repeat("k", iogate.MaxIdempotencyKeyLength+1)},
		{"NUL byte", "key\x00"},
		{"tab", "key\tkey"},
		{"line break", "key\n"},
		{"DEL", "key\x7f"},
		{"non-ASCII", "clé"},
		{"invalid UTF-8", "key\xff"},
	} {
		v := newVault(a.ID, "Treasury", 2)
		_, _, err := s.CreateVaultOnce(ctx, v, c.key, vaultCreated(t, v))
		wantCode(t, "CreateVaultOnce(key with "+c.name+")", err, iogate.CodeInvalid)
	}
	if got := vaultIDs(t, s, a.ID); len(got) != 0 {
		t.Errorf("vaults after creations with invalid keys = %v, want none", got)
	}
}

// testVaultKeyAfterFailedCreate checks that a creation that fails stores no key, so that
// the next call with the key creates the vault.
func testVaultKeyAfterFailedCreate(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	first := newVault(a.ID, "Treasury", 2)
	createVaultOnce(t, s, first, "")

	// The ID is taken, so the insert fails after the lookup of the key.
	clash := newVault(a.ID, "Cold", 3)
	clash.ID = first.ID
	_, _, err := s.CreateVaultOnce(ctx, clash, "retry-me", vaultCreated(t, clash))
	wantCode(t, "CreateVaultOnce(taken ID)", err, iogate.CodeConflict)
	orphan := newVault(iogate.NewID(), "Orphan", 1)
	_, _, err = s.CreateVaultOnce(ctx, orphan, "retry-me", vaultCreated(t, orphan))
	wantCode(t, "CreateVaultOnce(unknown account)", err, iogate.CodeNotFound)

	v := newVault(a.ID, "Cold", 3)
	if stored, created := createVaultOnce(t, s, v, "retry-me"); !created || stored.ID != v.ID {
		t.Errorf("CreateVaultOnce after failed creations with the key = vault %s, created %t; want new vault %s", stored.ID, created, v.ID)
	}
}

// testVaultKeyConcurrent creates vaults with one key from several goroutines at once.
// Exactly one creates its vault, and every call returns that vault.
func testVaultKeyConcurrent(t *testing.T, s iogate.Store) {
	a := newAccount(t, s)
	createConcurrently(t, a.ID, []iogate.Store{s})
}

// RunVaultKeyConcurrent runs testVaultKeyConcurrent on s, for a store opened with
// settings of its own, such as another transaction isolation.
func RunVaultKeyConcurrent(t *testing.T, s iogate.Store) {
	testVaultKeyConcurrent(t, s)
}

// createVaultOnceOnTwoHandles runs testVaultKeyConcurrent through two handles on one
// database, as a server and the CLI on one SQLite file, or two nodes on one PostgreSQL
// database, would.
func createVaultOnceOnTwoHandles(t *testing.T, first, second iogate.Store) {
	a := newAccount(t, first)
	createConcurrently(t, a.ID, []iogate.Store{first, second})
}

// createConcurrently calls CreateVaultOnce with one key from 8 goroutines, spread over
// the handles, and checks that exactly one vault was created and that every call returned
// it.
func createConcurrently(t *testing.T, accountID string, handles []iogate.Store) {
	t.Helper()
	const calls = 8
	type result struct {
		vault   *iogate.Vault
		created bool
		err     error
	}
	results := make([]result, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		s := handles[i%len(handles)]
		v := newVault(accountID, "Treasury", 2)
		rec := vaultCreated(t, v)
		ctx := ctxFor(t)
		wg.Go(func() {
			<-start
			stored, created, err := s.CreateVaultOnce(ctx, v, "concurrent", rec)
			results[i] = result{stored, created, err}
		})
	}
	close(start)
	wg.Wait()

	createdBy := -1
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("CreateVaultOnce call %d of %d with one key: %v", i+1, calls, r.err)
		}
		if !r.created {
			continue
		}
		if createdBy >= 0 {
			t.Errorf("CreateVaultOnce calls %d and %d with one key both created a vault", createdBy+1, i+1)
		}
		createdBy = i
	}
	if createdBy < 0 {
		t.Fatalf("none of %d CreateVaultOnce calls with one key created a vault", calls)
	}
	want := results[createdBy].vault.ID
	for i, r := range results {
		if r.vault.ID != want {
			t.Errorf("CreateVaultOnce call %d returned vault %s, want %s, the one call %d created", i+1, r.vault.ID, want, createdBy+1)
		}
	}
	if got := vaultIDs(t, handles[0], accountID); !cmp.Equal(got, []string{want}) {
		t.Errorf("vaults after %d concurrent calls with one key = %v, want [%s]", calls, got, want)
	}
	if n := countEvents(t, handles[0], accountID, iogate.AuditVaultCreated); n != 1 {
		t.Errorf("vault.created records after %d concurrent calls with one key = %d, want 1", calls, n)
	}
}
