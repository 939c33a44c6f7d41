package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openTestDBAt opens the database at path, failing the test if it cannot. The caller
// closes it, for tests that reopen the same file.
func openTestDBAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open database %s failed: %v", path, err)
	}
	return db
}

func createTestAccount(t *testing.T, db *DB) string {
	t.Helper()
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	if err := db.CreateAccount(context.Background(), a, accountCreatedRecord(t, newTestChain(t), a)); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// accountCreatedRecord returns the account.created record of a, hashed under chain.
func accountCreatedRecord(t testing.TB, chain *iogate.AuditChain, a *iogate.Account) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewAccountCreatedRecord(a, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, "cli")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestChain(t testing.TB) *iogate.AuditChain {
	t.Helper()
	c, err := iogate.NewAuditChain(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuditAppendAndList(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	chain := newTestChain(t)
	a, b := createTestAccount(t, db), createTestAccount(t, db)

	// Two batches, interleaving accounts, as the group commit writes them.
	var batch []*iogate.AuditRecord
	for i := range 7 {
		account, event := a, iogate.AuditTokenIssued
		if i%3 == 2 {
			account, event = b, iogate.AuditTokenDenied
		}
		client := []string{"key-1", "key-2"}[i%2]
		r, err := chain.NewRecord(account, event, iogate.Actor{Type: iogate.ActorClient, ID: client, IP: "127.0.0.1"}, time.Now(), map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID = client
		batch = append(batch, r)
	}
	if err := db.AppendAuditRecords(ctx, batch[:4]); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAuditRecords(ctx, batch[4:]); err != nil {
		t.Fatal(err)
	}

	v := chain.NewVerifier()
	count := 0
	err := db.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
		count++
		return v.Add(r)
	})
	if err != nil {
		t.Fatalf("verify every account: %v", err)
	}
	// Each account's log starts with its account.created record.
	if count != 9 {
		t.Errorf("AuditRecords of every account returned %d records, want 9", count)
	}
	heads := v.Heads()
	if len(heads) != 2 || heads[0].Records+heads[1].Records != 9 {
		t.Errorf("heads = %+v, want two accounts with 9 records together", heads)
	}

	t.Run("newest first with pages", func(t *testing.T) {
		var seqs []string
		page := iogate.Page{Limit: 2}
		for range 5 {
			recs, next, err := db.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				seqs = append(seqs, strconv.FormatInt(r.Seq, 10))
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if got := strings.Join(seqs, ","); got != "6,5,4,3,2,1" {
			t.Errorf("sequence numbers over all pages = %s, want 6,5,4,3,2,1", got)
		}
	})

	t.Run("filters", func(t *testing.T) {
		// An operator's change of key-1, besides key-1's own token records.
		r, err := chain.NewRecord(a, iogate.AuditKeyCreated, iogate.Actor{Type: iogate.ActorOperator, ID: "root"}, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID = "key-1"
		if err := db.AppendAuditRecords(ctx, []*iogate.AuditRecord{r}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			filter iogate.AuditFilter
			want   int
		}{
			{"by key", iogate.AuditFilter{AccountID: a, ClientID: "key-1"}, 4},
			{"by event", iogate.AuditFilter{AccountID: b, Event: iogate.AuditTokenDenied}, 2},
			{"by event of another account", iogate.AuditFilter{AccountID: a, Event: iogate.AuditTokenDenied}, 0},
			{"by token event", iogate.AuditFilter{AccountID: a, Event: iogate.AuditTokenIssued}, 5},
			{"by key event", iogate.AuditFilter{AccountID: a, Event: iogate.AuditKeyCreated}, 1},
			{"by client actor", iogate.AuditFilter{AccountID: a, ActorID: "key-1"}, 3},
			{"by operator actor", iogate.AuditFilter{AccountID: a, ActorID: "root"}, 1},
			{"by client actor and event", iogate.AuditFilter{AccountID: a, ActorID: "key-2", Event: iogate.AuditTokenIssued}, 2},
			{"by operator actor and key", iogate.AuditFilter{AccountID: a, ActorID: "root", ClientID: "key-1"}, 1},
			{"by client actor and another key", iogate.AuditFilter{AccountID: a, ActorID: "key-2", ClientID: "key-1"}, 0},
		}
		for _, c := range cases {
			recs, _, err := db.ListAuditRecords(ctx, c.filter, iogate.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != c.want {
				t.Errorf("%s: %d records, want %d", c.name, len(recs), c.want)
			}
		}
	})

	t.Run("bad cursor", func(t *testing.T) {
		if _, _, err := db.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a}, iogate.Page{Cursor: "!!"}); iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
			t.Errorf("ListAuditRecords with a malformed cursor: error %v, want %s", err, iogate.CodeInvalid)
		}
	})
}

func TestAuditRecordsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	chain := newTestChain(t)
	a := createTestAccount(t, db)
	r, err := chain.NewRecord(a, iogate.AuditKeyCreated, iogate.Actor{Type: iogate.ActorOperator, ID: "root"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAuditRecords(ctx, []*iogate.AuditRecord{r}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_records SET reason = 'x'`,
		`DELETE FROM audit_records`,
	} {
		_, err := db.writer.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only trigger to abort it", stmt, err)
		}
	}
}

func TestUpdateAPIKeyUnknown(t *testing.T) {
	db := openTestDB(t)
	_, err := db.UpdateAPIKey(context.Background(), iogate.NewClientID(), func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		t.Error("update called for a key that does not exist")
		return nil, nil
	})
	if iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("UpdateAPIKey of an unknown key: error %v, want %s", err, iogate.CodeNotFound)
	}
}

// TestAuditBatchFailsWhole appends batches of every statement size with one bad record
// among them: the batch fails as a whole, nothing of it is stored, and the next batch
// continues the chain.
func TestAuditBatchFailsWhole(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	chain := newTestChain(t)
	account := createTestAccount(t, db)
	newRecord := func() *iogate.AuditRecord {
		r, err := chain.NewRecord(account, iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The account's account.created record is stored already.
	stored := int64(1)
	for _, size := range []int{1, 3, 4, 16, 21} {
		for bad := range size {
			batch := make([]*iogate.AuditRecord, size)
			for i := range batch {
				batch[i] = newRecord()
			}
			// A record whose ID is already stored, or one of an account that does not exist.
			if stored > 0 && bad%2 == 0 {
				dup, _, err := db.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: account}, iogate.Page{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				batch[bad].ID = dup[0].ID
			} else {
				orphan, err := chain.NewRecord(iogate.NewID(), iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}, time.Now(), nil)
				if err != nil {
					t.Fatal(err)
				}
				batch[bad] = orphan
			}
			if err := db.AppendAuditRecords(ctx, batch); err == nil {
				t.Fatalf("batch of %d with a bad record at %d: no error", size, bad)
			}
			if err := db.AppendAuditRecords(ctx, []*iogate.AuditRecord{newRecord()}); err != nil {
				t.Fatalf("the batch after a failed one of %d: %v", size, err)
			}
			stored++
		}
	}
	verifier := chain.NewVerifier()
	var n int64
	if err := db.AuditRecords(ctx, account, func(r *iogate.AuditRecord) error {
		n++
		return verifier.Add(r)
	}); err != nil {
		t.Fatalf("the chain does not verify: %v", err)
	}
	if n != stored {
		t.Errorf("%d records stored, want only the %d appended alone", n, stored)
	}
}
