package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// tokenIndexFixture is an account whose log mixes token.issued records, which
// audit_token_clients indexes by client, with other events of the same clients, which
// audit_records_by_client indexes at once.
type tokenIndexFixture struct {
	db      *DB
	chain   *iogate.AuditChain
	account string
	clients []string
	// records are every record appended, oldest first.
	records []*iogate.AuditRecord
}

// newTokenIndexFixture opens a database whose background indexing is stopped, so that
// the test decides when IndexTokenRecords runs.
func newTokenIndexFixture(t *testing.T) *tokenIndexFixture {
	t.Helper()
	db := openTestDB(t)
	db.stopOnce.Do(func() { close(db.stopCheckpoints) })
	<-db.checkpointsDone
	<-db.tokenIndexDone
	return &tokenIndexFixture{db: db, chain: newTestChain(t), account: createTestAccount(t, db),
		clients: []string{iogate.NewClientID(), iogate.NewClientID(), iogate.NewClientID()}}
}

// waitUntil polls done every 20ms and fails the test when it is still false after 20s, four
// times the interval of the background indexing.
// what names the condition in the failure message.
func waitUntil(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// appendBatch appends n records in one group commit: mostly token.issued, with a key
// update by an operator and a denied token request among them.
func (f *tokenIndexFixture) appendBatch(t *testing.T, n int) {
	t.Helper()
	var batch []*iogate.AuditRecord
	for i := range n {
		client := f.clients[(len(f.records)+i)%len(f.clients)]
		event, actor := iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorClient, ID: client, IP: "127.0.0.1"}
		switch (len(f.records) + i) % 7 {
		case 3:
			event, actor = iogate.AuditKeyUpdated, iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}
		case 5:
			event = iogate.AuditTokenDenied
		}
		r, err := f.chain.NewRecord(f.account, event, actor, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID = client
		batch = append(batch, r)
	}
	if err := f.db.AppendAuditRecords(context.Background(), batch); err != nil {
		t.Fatalf("AppendAuditRecords: %v", err)
	}
	f.records = append(f.records, batch...)
}

// want returns the sequence numbers of the records that match, newest first.
func (f *tokenIndexFixture) want(match func(r *iogate.AuditRecord) bool) []int64 {
	var out []int64
	for _, r := range slices.Backward(f.records) {
		if match(r) {
			out = append(out, r.Seq)
		}
	}
	return out
}

// listAll pages through ListAuditRecords and returns the sequence numbers in the order
// returned.
func listAll(ctx context.Context, db *DB, filter iogate.AuditFilter, limit int) ([]int64, error) {
	var got []int64
	page := iogate.Page{Limit: limit}
	for range 10000 {
		recs, next, err := db.ListAuditRecords(ctx, filter, page)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if filter.ClientID != "" && r.ClientID != filter.ClientID {
				return nil, fmt.Errorf("record %d has client %s, want %s", r.Seq, r.ClientID, filter.ClientID)
			}
			got = append(got, r.Seq)
		}
		if next == "" {
			return got, nil
		}
		page.Cursor = next
	}
	return nil, fmt.Errorf("more than 10000 pages")
}

// list pages through ListAuditRecords three records at a time.
func (f *tokenIndexFixture) list(t *testing.T, filter iogate.AuditFilter) []int64 {
	t.Helper()
	filter.AccountID = f.account
	got, err := listAll(context.Background(), f.db, filter, 3)
	if err != nil {
		t.Fatalf("ListAuditRecords(%+v): %v", filter, err)
	}
	return got
}

// check compares every filter that involves a client with the records appended.
func (f *tokenIndexFixture) check(t *testing.T, stage string) {
	t.Helper()
	for _, c := range f.clients {
		cases := []struct {
			name   string
			filter iogate.AuditFilter
			match  func(r *iogate.AuditRecord) bool
		}{
			{"by key", iogate.AuditFilter{ClientID: c}, func(r *iogate.AuditRecord) bool { return r.ClientID == c }},
			{"by key and event", iogate.AuditFilter{ClientID: c, Event: iogate.AuditTokenIssued},
				func(r *iogate.AuditRecord) bool { return r.ClientID == c && r.Event == iogate.AuditTokenIssued }},
			{"by actor", iogate.AuditFilter{ActorID: c}, func(r *iogate.AuditRecord) bool { return r.Actor.ID == c }},
			{"by key and another event", iogate.AuditFilter{ClientID: c, Event: iogate.AuditKeyUpdated},
				func(r *iogate.AuditRecord) bool { return r.ClientID == c && r.Event == iogate.AuditKeyUpdated }},
		}
		for _, tc := range cases {
			want := f.want(tc.match)
			if got := f.list(t, tc.filter); !slices.Equal(got, want) {
				t.Errorf("%s, %s of client %d: got %v, want %v", stage, tc.name, slices.Index(f.clients, c), got, want)
			}
		}
	}
}

func (f *tokenIndexFixture) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.db.reader.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestTokenRecordsListedWhateverTheIndexState lists a key's records, newest first and page
// by page, in each state of the token index. The lists must not change: before indexing,
// after it, with a tail not indexed yet, and after a run that added entries but did not
// move the mark.
func TestTokenRecordsListedWhateverTheIndexState(t *testing.T) {
	ctx := context.Background()
	f := newTokenIndexFixture(t)
	for range 4 {
		f.appendBatch(t, 9)
	}
	f.check(t, "before indexing")

	if err := f.db.IndexTokenRecords(ctx, []string{f.account}); err != nil {
		t.Fatalf("IndexTokenRecords: %v", err)
	}
	tokens := int64(len(f.want(func(r *iogate.AuditRecord) bool { return r.Event == iogate.AuditTokenIssued })))
	if got := f.count(t, `SELECT COUNT(*) FROM audit_token_clients WHERE account_id = ?`, f.account); got != tokens {
		t.Fatalf("audit_token_clients holds %d entries, want one per token.issued record (%d)", got, tokens)
	}
	head := f.records[len(f.records)-1].Seq
	if got := f.count(t, `SELECT seq FROM audit_token_marks WHERE account_id = ?`, f.account); got != head {
		t.Fatalf("mark = %d, want the newest record %d", got, head)
	}
	f.check(t, "after indexing")

	f.appendBatch(t, 11)
	f.check(t, "with a tail not indexed")

	// A run that stopped after adding entries but before moving the mark: the entries
	// above the mark must not show up twice.
	mark := head
	for _, r := range f.records {
		if r.Seq > mark && r.Event == iogate.AuditTokenIssued {
			if _, err := f.db.writer.Exec(`INSERT INTO audit_token_clients (account_id, client_id, seq) VALUES (?, ?, ?)`, r.AccountID, r.ClientID, r.Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.check(t, "with entries above the mark")

	if err := f.db.IndexTokenRecords(ctx, []string{f.account}); err != nil {
		t.Fatalf("IndexTokenRecords after a partial run: %v", err)
	}
	f.check(t, "after indexing again")
	tokens = int64(len(f.want(func(r *iogate.AuditRecord) bool { return r.Event == iogate.AuditTokenIssued })))
	if got := f.count(t, `SELECT COUNT(*) FROM audit_token_clients WHERE account_id = ?`, f.account); got != tokens {
		t.Errorf("audit_token_clients holds %d entries after a second run, want %d", got, tokens)
	}
}

// TestTokenIndexKeepsOtherWritesDurable indexes several chunks, each committed without
// fsync, and checks that the writer is back to synchronous=FULL for the writes that follow.
func TestTokenIndexKeepsOtherWritesDurable(t *testing.T) {
	ctx := context.Background()
	f := newTokenIndexFixture(t)
	for range 5 {
		f.appendBatch(t, 61)
	}
	tokens := int64(len(f.want(func(r *iogate.AuditRecord) bool { return r.Event == iogate.AuditTokenIssued })))
	if tokens <= 3*tokenIndexChunk {
		t.Fatalf("the fixture appended %d token records, want more than three chunks of %d", tokens, tokenIndexChunk)
	}
	if err := f.db.IndexTokenRecords(ctx, []string{f.account}); err != nil {
		t.Fatalf("IndexTokenRecords: %v", err)
	}
	if got := f.count(t, `SELECT COUNT(*) FROM audit_token_clients WHERE account_id = ?`, f.account); got != tokens {
		t.Errorf("audit_token_clients contains %d entries, want %d", got, tokens)
	}
	f.check(t, "after indexing in chunks")

	var synchronous int
	if err := f.db.writer.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&synchronous); err != nil {
		t.Fatal(err)
	}
	if synchronous != 2 {
		t.Fatalf("writer PRAGMA synchronous = %d after indexing, want 2 (FULL)", synchronous)
	}
	if got := f.db.writer.Stats().OpenConnections; got != 1 {
		t.Errorf("writer pool has %d open connections, want 1", got)
	}
	f.appendBatch(t, 3)
	f.check(t, "after an append that followed the indexing")
}

// TestTokenIndexRunsInTheBackground checks that the server's own goroutine indexes new
// token records and that Close indexes what is left.
func TestTokenIndexRunsInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	f := &tokenIndexFixture{db: db, chain: newTestChain(t), account: createTestAccount(t, db), clients: []string{iogate.NewClientID()}}
	f.appendBatch(t, 3)
	waitUntil(t, "a token record indexed", func() bool {
		return f.count(t, `SELECT COUNT(*) FROM audit_token_clients`) > 0
	})
	f.appendBatch(t, 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDBAt(t, path)
	defer db.Close()
	f.db = db
	head := f.records[len(f.records)-1].Seq
	if got := f.count(t, `SELECT seq FROM audit_token_marks WHERE account_id = ?`, f.account); got != head {
		t.Errorf("after Close the mark is %d, want the newest record %d", got, head)
	}
}

// TestTokenIndexMigrationIndexesExistingRecords applies migration 0008 to a log written
// before it, whose token records sit in the old audit_records_by_client.
func TestTokenIndexMigrationIndexesExistingRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	// Take the schema back to version 7.
	for _, stmt := range []string{
		`DROP TABLE audit_token_clients`, `DROP TABLE audit_token_marks`, `DROP INDEX audit_records_by_client`,
		`CREATE INDEX audit_records_by_client ON audit_records (account_id, client_id, seq)`,
		`DELETE FROM schema_migrations WHERE version = 8`,
	} {
		if _, err := db.writer.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	f := &tokenIndexFixture{db: db, chain: newTestChain(t), clients: []string{iogate.NewClientID(), iogate.NewClientID()}}
	var accounts []string
	for range 2 {
		f.account = createTestAccount(t, db)
		accounts = append(accounts, f.account)
		f.appendBatch(t, 10)
	}
	db.tokenIndexMu.Lock()
	clear(db.tokenIndexDirty) // as if written by a version without the index
	db.tokenIndexMu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open with migration 0008 pending: %v", err)
	}
	defer db.Close()
	f.db = db
	for i, a := range accounts {
		f.account = a
		var head int64
		for _, r := range f.records {
			if r.AccountID == a {
				head = r.Seq
			}
		}
		if got := f.count(t, `SELECT seq FROM audit_token_marks WHERE account_id = ?`, a); got != head {
			t.Errorf("account %d: mark = %d, want its newest record %d", i, got, head)
		}
		want := int64(len(f.want(func(r *iogate.AuditRecord) bool { return r.AccountID == a && r.Event == iogate.AuditTokenIssued })))
		if got := f.count(t, `SELECT COUNT(*) FROM audit_token_clients WHERE account_id = ?`, a); got != want {
			t.Errorf("account %d: %d entries in audit_token_clients, want %d", i, got, want)
		}
	}
	// The fixture's want does not filter by account, so check one account's records.
	f.records = slices.DeleteFunc(f.records, func(r *iogate.AuditRecord) bool { return r.AccountID != f.account })
	f.check(t, "after the migration")
}

// TestPruneRemovesTokenIndexEntries checks that retention deletes the index entries of the
// records it deletes.
func TestPruneRemovesTokenIndexEntries(t *testing.T) {
	ctx := context.Background()
	f := newTokenIndexFixture(t)
	f.appendBatch(t, 20)
	if err := f.db.IndexTokenRecords(ctx, []string{f.account}); err != nil {
		t.Fatal(err)
	}
	cut := f.records[9]
	if _, err := f.db.PruneAuditRecords(ctx, f.chain.NewCheckpoint(cut, time.Now())); err != nil {
		t.Fatalf("PruneAuditRecords: %v", err)
	}
	if got := f.count(t, `SELECT COUNT(*) FROM audit_token_clients WHERE account_id = ? AND seq <= ?`, f.account, cut.Seq); got != 0 {
		t.Errorf("%d index entries of pruned records remain", got)
	}
	f.records = f.records[10:]
	f.check(t, "after pruning")
}

// BenchmarkIndexTokenRecords indexes a second of token issuance at 6,000 tokens per
// second over 1,000 keys, the work the background indexing adds per second of such load.
func BenchmarkIndexTokenRecords(b *testing.B) {
	ctx := context.Background()
	db, account, chain, clients := newAuditBench(b)
	// The benchmark runs the indexing itself.
	db.stopOnce.Do(func() { close(db.stopCheckpoints) })
	<-db.checkpointsDone
	<-db.tokenIndexDone
	n := 0
	b.ReportAllocs()

	for b.Loop() {
		b.StopTimer()
		for range 6000 / 64 {
			batch := make([]*iogate.AuditRecord, 64)
			for j := range batch {
				client := clients[n%len(clients)]
				n += 7
				r, err := chain.NewRecord(account, iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorClient, ID: client}, time.Now(), nil)
				if err != nil {
					b.Fatal(err)
				}
				r.ClientID, r.TokenID = client, fmt.Sprint(n)
				batch[j] = r
			}
			if err := db.AppendAuditRecords(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()

		if err := db.IndexTokenRecords(ctx, []string{account}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTokenIndexCatchesUpAfterACrash reopens a database whose last token records were never
// indexed, as after a process killed before its next run: the new process indexes them
// without waiting for another token of that account.
func TestTokenIndexCatchesUpAfterACrash(t *testing.T) {
	f := newTokenIndexFixture(t)
	f.appendBatch(t, 12)
	f.db.tokenIndexMu.Lock()
	clear(f.db.tokenIndexDirty) // lost with the process
	f.db.tokenIndexMu.Unlock()
	path := f.db.Path()
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}

	db := openTestDBAt(t, path)
	defer db.Close()
	f.db = db
	head := f.records[len(f.records)-1].Seq
	waitUntil(t, "the records left unindexed indexed after opening the database", func() bool {
		return f.count(t, `SELECT COALESCE((SELECT seq FROM audit_token_marks WHERE account_id = ?), 0)`, f.account) == head
	})
	f.check(t, "after catching up")
}

// TestWriteUnsyncedPanicReleasesWriter panics inside a writeUnsynced transaction. The panic
// must reach the caller at once, and the writer must be free again, back at synchronous=FULL.
func TestWriteUnsyncedPanicReleasesWriter(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		db.writeUnsynced(ctx, func(*sql.Tx) error { panic("fn failed") })
	}()
	select {
	case value := <-recovered:
		if value == nil {
			t.Error("the panic in fn did not reach the caller")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writeUnsynced did not return within 5s after fn panicked")
	}

	writeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := db.write(writeCtx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(writeCtx, `INSERT INTO audit_token_marks (account_id, seq) VALUES ('after-panic', 1)`)
		return err
	})
	if err != nil {
		t.Fatalf("write after the panic: %v", err)
	}
	var synchronous int
	if err := db.writer.QueryRowContext(writeCtx, `PRAGMA synchronous`).Scan(&synchronous); err != nil {
		t.Fatal(err)
	}
	if synchronous != 2 {
		t.Errorf("writer PRAGMA synchronous = %d after the panic, want 2 (FULL)", synchronous)
	}
}
