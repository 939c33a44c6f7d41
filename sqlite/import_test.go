package sqlite

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

func testKey(accountID string, now time.Time) *iogate.APIKey {
	return &iogate.APIKey{
		ClientID:         iogate.NewClientID(),
		AccountID:        accountID,
		Name:             "imported",
		Description:      "bulk",
		Scopes:           []string{iogate.ScopeVaultsRead},
		AllowedIPs:       []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		CreatedAt:        now,
		UpdatedAt:        now,
		ExpiresAt:        now.Add(time.Hour),
		SecretHash:       iogate.HashSecret([]byte("pepper"), "secret"),
		SecretGeneration: 1,
		SecretCreatedAt:  now,
	}
}

func TestImportAPIKeysMatchesCreate(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.example", Status: iogate.AccountActive, CreatedAt: now}
	if err := db.CreateAccount(ctx, account, accountCreatedRecord(t, newTestChain(t), account)); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	created := testKey(account.ID, now)
	if err := db.CreateAPIKey(ctx, created, creationRecord(t, created)); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	before, err := db.LatestKeyChange(ctx)
	if err != nil {
		t.Fatalf("LatestKeyChange: %v", err)
	}

	imported := []*iogate.APIKey{testKey(account.ID, now), testKey(account.ID, now), testKey(account.ID, now)}
	if err := db.ImportAPIKeys(ctx, imported); err != nil {
		t.Fatalf("ImportAPIKeys: %v", err)
	}

	want, err := db.FindAPIKey(ctx, created.ClientID)
	if err != nil {
		t.Fatalf("FindAPIKey(created): %v", err)
	}
	for _, k := range imported {
		got, err := db.FindAPIKey(ctx, k.ClientID)
		if err != nil {
			t.Fatalf("FindAPIKey(imported): %v", err)
		}
		got.ClientID = want.ClientID
		if !reflect.DeepEqual(got, want) {
			t.Errorf("imported key reads back as %+v, want what CreateAPIKey stores: %+v", got, want)
		}
	}
	changes, err := db.KeyChangesSince(ctx, before)
	if err != nil {
		t.Fatalf("KeyChangesSince: %v", err)
	}
	if len(changes) != len(imported) {
		t.Fatalf("ImportAPIKeys recorded %d key changes, want %d", len(changes), len(imported))
	}
	for i, c := range changes {
		if c.ClientID != imported[i].ClientID {
			t.Errorf("key change %d names %s, want %s", i, c.ClientID, imported[i].ClientID)
		}
	}
}

func TestImportAPIKeysConflictInsertsNothing(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.example", Status: iogate.AccountActive, CreatedAt: now}
	if err := db.CreateAccount(ctx, account, accountCreatedRecord(t, newTestChain(t), account)); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	existing := testKey(account.ID, now)
	if err := db.CreateAPIKey(ctx, existing, creationRecord(t, existing)); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	fresh := testKey(account.ID, now)
	err := db.ImportAPIKeys(ctx, []*iogate.APIKey{fresh, existing})
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeConflict {
		t.Fatalf("ImportAPIKeys with an existing client ID: error %v (code %q), want code %q", err, code, iogate.CodeConflict)
	}
	if _, err := db.FindAPIKey(ctx, fresh.ClientID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindAPIKey of the key imported before the conflict: error %v, want not found", err)
	}
}

// TestImportAPIKeysRejectsDeletedClientID imports a batch in which one client ID belonged
// to a deleted key of the same account. The batch must fail with ErrDeletedClientID and
// insert nothing, as CreateAPIKey does for one key.
func TestImportAPIKeysRejectsDeletedClientID(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	accountID := createTestAccount(t, db)
	deleted := testKey(accountID, now)
	if err := db.CreateAPIKey(ctx, deleted, creationRecord(t, deleted)); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if err := db.DeleteAPIKey(ctx, deleted.ClientID, keyRecord(t, deleted, iogate.AuditKeyDeleted)); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}

	fresh := testKey(accountID, now)
	err := db.ImportAPIKeys(ctx, []*iogate.APIKey{fresh, testKey(accountID, now), deleted})
	if !errors.Is(err, iogate.ErrDeletedClientID) {
		t.Fatalf("ImportAPIKeys with a deleted key's client ID: error %v, want ErrDeletedClientID", err)
	}
	if _, err := db.FindAPIKey(ctx, fresh.ClientID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindAPIKey of the key imported before the rejected one: error %v, want not found", err)
	}
}

// creationRecord returns the audit record that must accompany the creation of k.
func creationRecord(t *testing.T, k *iogate.APIKey) *iogate.AuditRecord {
	t.Helper()
	return keyRecord(t, k, iogate.AuditKeyCreated)
}

// keyRecord returns an audit record of event for the key k by an operator.
func keyRecord(t *testing.T, k *iogate.APIKey, event string) *iogate.AuditRecord {
	t.Helper()
	r, err := newTestChain(t).NewRecord(k.AccountID, event, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ClientID = k.ClientID
	return r
}
