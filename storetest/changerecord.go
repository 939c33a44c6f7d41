package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iogate/iogate"
)

// changeRecordCases check that creating an account or a vault appends its audit record in
// the same transaction, and that deleted keys can be found from their key.deleted records.
var changeRecordCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"AccountCreatedRecord", testAccountCreatedRecord},
	{"VaultCreatedRecord", testVaultCreatedRecord},
	{"DeletedAPIKeys", testDeletedAPIKeys},
}

// allAuditRecords returns every record of accountID, or of every account when it is empty,
// in the order AuditRecords delivers them.
func allAuditRecords(t *testing.T, s iogate.Store, accountID string) []*iogate.AuditRecord {
	t.Helper()
	var out []*iogate.AuditRecord
	must(t, "AuditRecords", s.AuditRecords(ctxFor(t), accountID, func(r *iogate.AuditRecord) error {
		out = append(out, r)
		return nil
	}))
	return out
}

// verifyChain fails the test unless records, ordered by account and sequence number,
// verify under the suite's chain key.
func verifyChain(t *testing.T, records []*iogate.AuditRecord) {
	t.Helper()
	v := chain.NewVerifier()
	for _, r := range records {
		if err := v.Add(r); err != nil {
			t.Errorf("the audit chain does not verify: %v", err)
			return
		}
	}
}

// recordDiff compares audit records by every exported field.
func recordDiff(want, got []*iogate.AuditRecord) string {
	return cmp.Diff(want, got, cmpopts.IgnoreUnexported(iogate.AuditRecord{}))
}

func testAccountCreatedRecord(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: base}
	other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: base}

	// A missing record, or one of another account or event, writes nothing.
	wantCode(t, "CreateAccount(no record)", s.CreateAccount(ctx, a, nil), iogate.CodeInternal)
	wantCode(t, "CreateAccount(record of another account)", s.CreateAccount(ctx, a, accountCreated(t, other)), iogate.CodeInternal)
	wantCode(t, "CreateAccount(record of another event)", s.CreateAccount(ctx, a, record(t, a.ID, iogate.AuditKeyCreated, "")), iogate.CodeInternal)
	if _, err := s.FindAccountByID(ctx, a.ID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindAccountByID after rejected creations: %v, want CodeNotFound", err)
	}

	actor := iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}
	rec, err := chain.NewAccountCreatedRecord(a, actor, "cli")
	must(t, "NewAccountCreatedRecord", err)
	must(t, "CreateAccount", s.CreateAccount(ctx, a, rec))
	// A failed creation rolls its record back with it.
	wantCode(t, "CreateAccount(same ID)", s.CreateAccount(ctx, a, accountCreated(t, a)), iogate.CodeConflict)

	records := allAuditRecords(t, s, "")
	if diff := recordDiff([]*iogate.AuditRecord{rec}, records); diff != "" {
		t.Fatalf("audit records after CreateAccount (-want +got):\n%s", diff)
	}
	got := records[0]
	if got.Seq != 1 || got.Event != iogate.AuditAccountCreated || got.AccountID != a.ID {
		t.Errorf("account.created record: seq %d, event %s, account %s; want seq 1 of %s", got.Seq, got.Event, got.AccountID, a.ID)
	}
	if want := `{"email":"ops@acme.test","name":"Acme","via":"cli"}`; string(got.Details) != want {
		t.Errorf("account.created details = %s, want %s", got.Details, want)
	}
	verifyChain(t, records)
}

func testVaultCreatedRecord(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: a.ID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: base}

	// A missing record, or one of another account or event, writes nothing.
	wantCode(t, "CreateVault(no record)", s.CreateVault(ctx, v, nil), iogate.CodeInternal)
	wrongAccount := record(t, other.ID, iogate.AuditVaultCreated, "")
	wantCode(t, "CreateVault(record of another account)", s.CreateVault(ctx, v, wrongAccount), iogate.CodeInternal)
	wantCode(t, "CreateVault(record of another event)", s.CreateVault(ctx, v, record(t, a.ID, iogate.AuditKeyCreated, "")), iogate.CodeInternal)
	if _, err := s.FindVault(ctx, a.ID, v.ID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindVault after rejected creations: %v, want CodeNotFound", err)
	}

	// The record of a vault created with an access token names the client and the token.
	clientID := iogate.NewClientID()
	actor := iogate.Actor{Type: iogate.ActorClient, ID: clientID, IP: "192.0.2.7"}
	rec, err := chain.NewVaultCreatedRecord(v, actor)
	must(t, "NewVaultCreatedRecord", err)
	rec.TokenID = "jti-1"
	must(t, "CreateVault", s.CreateVault(ctx, v, rec))
	// Failed creations roll their records back with them.
	wantCode(t, "CreateVault(same ID)", s.CreateVault(ctx, v, vaultCreated(t, v)), iogate.CodeConflict)
	orphan := &iogate.Vault{ID: iogate.NewID(), AccountID: iogate.NewID(), Name: "Orphan", Threshold: 1, Status: iogate.VaultActive, CreatedAt: base}
	wantCode(t, "CreateVault(unknown account)", s.CreateVault(ctx, orphan, vaultCreated(t, orphan)), iogate.CodeNotFound)

	records := allAuditRecords(t, s, a.ID)
	if len(records) != 2 {
		t.Fatalf("account's audit log has %d records, want account.created and vault.created", len(records))
	}
	if diff := recordDiff([]*iogate.AuditRecord{rec}, records[1:]); diff != "" {
		t.Errorf("vault.created record (-want +got):\n%s", diff)
	}
	got := records[1]
	if got.Seq != 2 || got.ClientID != clientID || got.TokenID != "jti-1" || got.Actor != actor {
		t.Errorf("vault.created record: seq %d, client %q, token %q, actor %+v; want seq 2 by %+v with jti-1", got.Seq, got.ClientID, got.TokenID, got.Actor, actor)
	}
	if want := `{"name":"Treasury","threshold":2,"vaultId":"` + v.ID + `"}`; string(got.Details) != want {
		t.Errorf("vault.created details = %s, want %s", got.Details, want)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
	if n := len(allAuditRecords(t, s, other.ID)); n != 1 {
		t.Errorf("the other account's log has %d records, want its account.created only", n)
	}
}

// testDeletedAPIKeys checks that DeletedAPIKeys names every key deleted, with its account,
// the time of the deletion and the hashes of its secrets then, oldest deletion first, and
// no key that exists or was never deleted. A key.deleted record without a tombstone, as
// deletions had before tombstones existed, comes without hashes.
func testDeletedAPIKeys(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	collect := func() []iogate.DeletedAPIKey {
		var out []iogate.DeletedAPIKey
		must(t, "DeletedAPIKeys", s.DeletedAPIKeys(ctx, func(k iogate.DeletedAPIKey) error {
			out = append(out, k)
			return nil
		}))
		return out
	}
	if got := collect(); len(got) != 0 {
		t.Fatalf("DeletedAPIKeys of an empty store = %v, want none", got)
	}

	a, b := newAccount(t, s), newAccount(t, s)
	remaining, first, second := newKey(a.ID, base), newKey(a.ID, base), newKey(b.ID, base)
	first.SecretHash[0] = 1
	second.SecretHash[0] = 2
	for _, k := range []*iogate.APIKey{remaining, first, second} {
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	}
	rotated, err := s.UpdateAPIKey(ctx, second.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		rotate(k, base)
		return record(t, k.AccountID, iogate.AuditKeyRotated, k.ClientID), nil
	})
	must(t, "UpdateAPIKey(rotation)", err)
	del := func(k *iogate.APIKey, offset int) {
		rec := deleted(t, k)
		rec.Time = base.Add(time.Duration(offset) * time.Second)
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, k.ClientID, rec))
	}
	del(second, 2)
	del(first, 1)

	// The same client ID created again in another account and deleted again comes last,
	// with the account and the hashes of its last deletion.
	again := *first
	again.AccountID = b.ID
	again.SecretHash[0] = 3
	must(t, "CreateAPIKey(deleted client ID)", s.CreateAPIKey(ctx, &again, created(t, &again)))
	del(&again, 4)

	// A key.deleted record of a key that has no tombstone comes without hashes.
	untracked := newKey(a.ID, base)
	old := deleted(t, untracked)
	old.Time = base.Add(3 * time.Second)
	must(t, "AppendAuditRecords(key.deleted without a tombstone)", s.AppendAuditRecords(ctx, []*iogate.AuditRecord{old}))

	want := []iogate.DeletedAPIKey{
		{ClientID: first.ClientID, AccountID: a.ID, DeletedAt: base.Add(time.Second), SecretHash: first.SecretHash},
		{ClientID: second.ClientID, AccountID: b.ID, DeletedAt: base.Add(2 * time.Second), SecretHash: rotated.SecretHash, PreviousHash: second.SecretHash},
		{ClientID: untracked.ClientID, AccountID: a.ID, DeletedAt: base.Add(3 * time.Second)},
		{ClientID: first.ClientID, AccountID: b.ID, DeletedAt: base.Add(4 * time.Second), SecretHash: again.SecretHash},
	}
	if diff := cmp.Diff(want, collect()); diff != "" {
		t.Errorf("DeletedAPIKeys, oldest deletion first (-want +got):\n%s", diff)
	}
}
