package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// deletedClientIDCases check the tombstones of deleted client IDs. CreateAPIKey must reject
// a client ID that a deleted key of the same account had, write nothing when it does, and
// keep rejecting it after audit retention pruned the key.deleted record.
var deletedClientIDCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"DeletedClientIDRejected", testDeletedClientIDRejected},
	{"DeletedClientIDAfterAuditPrune", testDeletedClientIDAfterAuditPrune},
}

// wantDeletedClientID fails the test unless CreateAPIKey(k) fails with
// iogate.ErrDeletedClientID and leaves no key, key change or audit record behind.
func wantDeletedClientID(t *testing.T, s iogate.Store, k *iogate.APIKey) {
	t.Helper()
	ctx := ctxFor(t)
	changes, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	records := len(allAuditRecords(t, s, k.AccountID))

	err = s.CreateAPIKey(ctx, k, created(t, k))
	if !errors.Is(err, iogate.ErrDeletedClientID) {
		t.Fatalf("CreateAPIKey with the client ID of a deleted key of the account: error %v, want ErrDeletedClientID", err)
	}
	wantCode(t, "CreateAPIKey with the client ID of a deleted key of the account", err, iogate.CodeConflict)
	_, err = s.FindAPIKey(ctx, k.ClientID)
	wantCode(t, "FindAPIKey after the rejected create", err, iogate.CodeNotFound)
	after, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if after != changes {
		t.Errorf("the rejected create moved LatestKeyChange from %d to %d", changes, after)
	}
	if n := len(allAuditRecords(t, s, k.AccountID)); n != records {
		t.Errorf("the rejected create left %d audit records in the account, want %d", n, records)
	}
}

// deleteKeyAt deletes k with a key.deleted record of the given time.
func deleteKeyAt(t *testing.T, s iogate.Store, k *iogate.APIKey, at time.Time) *iogate.AuditRecord {
	t.Helper()
	rec := deleted(t, k)
	rec.Time = at
	must(t, "DeleteAPIKey", s.DeleteAPIKey(ctxFor(t), k.ClientID, rec))
	return rec
}

func testDeletedClientIDRejected(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	deleteKeyAt(t, s, k, base.Add(time.Second))

	again := *k
	wantDeletedClientID(t, s, &again)

	// Tokens carry their account, so another account may take the client ID. Its own
	// deletion then rejects the client ID there too, and the first account's tombstone
	// stays.
	moved := *k
	moved.AccountID = other.ID
	must(t, "CreateAPIKey(deleted client ID in another account)", s.CreateAPIKey(ctx, &moved, created(t, &moved)))
	deleteKeyAt(t, s, &moved, base.Add(2*time.Second))
	movedAgain := moved
	wantDeletedClientID(t, s, &movedAgain)
	wantDeletedClientID(t, s, &again)

	// A key that was never deleted is unaffected.
	fresh := newKey(a.ID, base)
	must(t, "CreateAPIKey(new client ID)", s.CreateAPIKey(ctx, fresh, created(t, fresh)))
}

// testDeletedClientIDAfterAuditPrune prunes the key.deleted record, as audit retention
// does, before the client ID is used again.
func testDeletedClientIDAfterAuditPrune(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	rec := deleteKeyAt(t, s, k, base.Add(time.Second))

	// The newest record of an account is never pruned, so another record follows.
	later := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, later, created(t, later)))
	pruneThrough(t, s, rec)

	again := *k
	wantDeletedClientID(t, s, &again)
}

// pruneThrough prunes the audit records of rec's account up to rec, as audit retention
// does, and fails the test unless no record of rec's event remains there. The newest
// record of an account is never pruned, so a later record must follow rec.
func pruneThrough(t *testing.T, s iogate.Store, rec *iogate.AuditRecord) {
	t.Helper()
	ctx := ctxFor(t)
	_, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(rec, base.Add(time.Hour)))
	must(t, "PruneAuditRecords", err)
	records, _, err := s.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: rec.AccountID, Event: rec.Event}, iogate.Page{})
	must(t, "ListAuditRecords", err)
	if len(records) != 0 {
		t.Fatalf("%s records after pruning = %d, want 0", rec.Event, len(records))
	}
}

// createDuringDeletion deletes a key on one handle while the other creates a key with its
// client ID in the same account, many times. Whichever commits first, the create must
// fail with CodeConflict, because before the deletion the key exists and after it the
// tombstone does. A check of the tombstone outside the insert's transaction would let some
// creates through.
func createDuringDeletion(t *testing.T, first, second iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, first)
	const trials = 30
	for i := range trials {
		k := newKey(a.ID, base)
		must(t, "CreateAPIKey", first.CreateAPIKey(ctx, k, created(t, k)))
		again := *k
		deletion, creation := deleted(t, k), created(t, &again)
		var wg sync.WaitGroup
		var deleteErr, createErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			deleteErr = first.DeleteAPIKey(ctx, k.ClientID, deletion)
		}()
		go func() {
			defer wg.Done()
			createErr = second.CreateAPIKey(ctx, &again, creation)
		}()
		wg.Wait()

		must(t, "DeleteAPIKey", deleteErr)
		if code := iogate.ErrorCodeOf(createErr); code != iogate.CodeConflict {
			t.Fatalf("trial %d: CreateAPIKey during the deletion of its client ID: error %v (code %q), want %q",
				i, createErr, code, iogate.CodeConflict)
		}
		_, err := first.FindAPIKey(ctx, k.ClientID)
		wantCode(t, "FindAPIKey after the deletion", err, iogate.CodeNotFound)
	}
}

// Tombstone is the tombstone of a deleted client ID, as a store's deleted_client_ids
// table stores it.
type Tombstone struct {
	AccountID string
	ClientID  string
	DeletedAt time.Time
}

// RunDeletedClientIDBackfill checks the migration that adds the tombstones of deleted
// client IDs and fills them in from the key.deleted audit records. It deletes keys on s,
// one of them with its audit record pruned, and then calls remigrate. remigrate must take
// the database back to the schema before that migration, dropping the tombstones, and
// return a store on it that has applied the migration again, with the later migration
// that adds the tombstones' hash columns. RunDeletedClientIDBackfill then checks which
// client IDs CreateAPIKey rejects, and that DeletedAPIKeys returns the tombstones without
// hashes. It returns the tombstones that the
// migration must have written, oldest deletion first, for the caller to compare with its
// table.
func RunDeletedClientIDBackfill(t *testing.T, s iogate.Store, remigrate func(t *testing.T) iogate.Store) []Tombstone {
	t.Helper()
	ctx := ctxFor(t)
	a, b := newAccount(t, s), newAccount(t, s)
	createKey := func(k *iogate.APIKey) {
		t.Helper()
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	}

	// The record of this deletion is pruned before the migration, so it gets no
	// tombstone.
	pruned := newKey(a.ID, base)
	createKey(pruned)
	prunedRecord := deleteKeyAt(t, s, pruned, base.Add(time.Minute))
	createKey(newKey(a.ID, base))
	_, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(prunedRecord, base.Add(time.Hour)))
	must(t, "PruneAuditRecords", err)

	// A client ID deleted from two accounts gets a tombstone in each.
	shared := newKey(a.ID, base)
	createKey(shared)
	deleteKeyAt(t, s, shared, base.Add(2*time.Minute))
	moved := *shared
	moved.AccountID = b.ID
	createKey(&moved)
	deleteKeyAt(t, s, &moved, base.Add(3*time.Minute))

	// A client ID deleted twice from one account, which the audit log shows when the key
	// was created again before tombstones existed, gets one tombstone with the later time.
	twice := newKey(a.ID, base)
	createKey(twice)
	deleteKeyAt(t, s, twice, base.Add(5*time.Minute))
	earlier := deleted(t, twice)
	earlier.Time = base.Add(4 * time.Minute)
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, []*iogate.AuditRecord{earlier}))

	// A key that still exists gets no tombstone.
	live := newKey(a.ID, base)
	createKey(live)

	s = remigrate(t)
	for _, k := range []*iogate.APIKey{shared, &moved, twice} {
		again := *k
		wantDeletedClientID(t, s, &again)
	}
	again := *pruned
	must(t, "CreateAPIKey(client ID whose key.deleted record was pruned before the migration)", s.CreateAPIKey(ctx, &again, created(t, &again)))

	// The tombstones written by the migration hold no secret hashes, and the earlier
	// key.deleted record of twice adds no second deletion.
	var loaded []iogate.DeletedAPIKey
	must(t, "DeletedAPIKeys", s.DeletedAPIKeys(ctx, func(k iogate.DeletedAPIKey) error {
		loaded = append(loaded, k)
		return nil
	}))
	wantLoaded := []iogate.DeletedAPIKey{
		{ClientID: shared.ClientID, AccountID: a.ID, DeletedAt: base.Add(2 * time.Minute)},
		{ClientID: shared.ClientID, AccountID: b.ID, DeletedAt: base.Add(3 * time.Minute)},
		{ClientID: twice.ClientID, AccountID: a.ID, DeletedAt: base.Add(5 * time.Minute)},
	}
	if diff := cmp.Diff(wantLoaded, loaded); diff != "" {
		t.Errorf("DeletedAPIKeys after the migration, oldest deletion first (-want +got):\n%s", diff)
	}

	return []Tombstone{
		{AccountID: a.ID, ClientID: shared.ClientID, DeletedAt: base.Add(2 * time.Minute)},
		{AccountID: b.ID, ClientID: shared.ClientID, DeletedAt: base.Add(3 * time.Minute)},
		{AccountID: a.ID, ClientID: twice.ClientID, DeletedAt: base.Add(5 * time.Minute)},
	}
}
