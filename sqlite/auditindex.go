package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// Settings of the token-record index (migration 0008). Every tokenIndexInterval, the
// token.issued records appended since the last run are added to audit_token_clients in
// transactions of at most tokenIndexChunk entries (one INSERT each), sorted by client, so
// that each index page is written about once per run instead of once per record. Each
// transaction occupies the writer, which token issuance waits for, so chunks are small. They
// commit without fsync (writeUnsynced) because the index can be rebuilt from audit_records.
//
// A longer interval lets each key's last index page take several entries per write, and the
// next checkpoint copies each written page again. In the benchmark's later token runs, 5 s
// instead of 1 s lowered the p99 by 0.5 to 1 ms. The cost is in listing by key, which reads
// up to one interval of the account's token records from the log itself.
const (
	tokenIndexInterval = 5 * time.Second
	tokenIndexChunk    = 64
)

// tokenIndexInsert adds a full chunk to audit_token_clients.
var tokenIndexInsert = tokenIndexInsertOf(tokenIndexChunk)

func tokenIndexInsertOf(rows int) string {
	return `INSERT OR IGNORE INTO audit_token_clients (account_id, client_id, seq) VALUES (?, ?, ?)` +
		strings.Repeat(", (?, ?, ?)", rows-1)
}

// tokenIndexEntry is one row of audit_token_clients.
type tokenIndexEntry struct {
	client string
	seq    int64
}

// markTokenRecords notes the accounts of records whose token.issued entries
// IndexTokenRecords should add at its next run.
func (db *DB) markTokenRecords(records []*iogate.AuditRecord) {
	var accounts []string
	for _, r := range records {
		if r.Event == iogate.AuditTokenIssued {
			accounts = append(accounts, r.AccountID)
		}
	}
	db.markAccounts(accounts)
}

// markAccounts adds accounts to those that the next run of indexMarkedAccounts indexes.
func (db *DB) markAccounts(accounts []string) {
	if len(accounts) == 0 {
		return
	}
	db.tokenIndexMu.Lock()
	defer db.tokenIndexMu.Unlock()
	if db.tokenIndexDirty == nil {
		db.tokenIndexDirty = make(map[string]struct{})
	}
	for _, a := range accounts {
		db.tokenIndexDirty[a] = struct{}{}
	}
}

// runTokenIndex indexes the token records of marked accounts every tokenIndexInterval
// until stop is closed, and once more then. Its first run also marks every account with
// records above its mark: a process that ended without Close leaves such records behind. A
// process that lives less than tokenIndexInterval, such as a CLI command, never looks.
func (db *DB) runTokenIndex(stop <-chan struct{}) {
	t := time.NewTicker(tokenIndexInterval)
	defer t.Stop()
	swept := false
	for {
		select {
		case <-stop:
			db.indexMarkedAccounts()
			return
		case <-t.C:
			if !swept {
				swept = db.markUnindexedAccounts() == nil
			}
			db.indexMarkedAccounts()
		}
	}
}

// markUnindexedAccounts marks the accounts whose newest record is above their mark.
func (db *DB) markUnindexedAccounts() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.reader.QueryContext(ctx, `SELECT a.id FROM accounts AS a
		WHERE COALESCE((SELECT MAX(r.seq) FROM audit_records AS r WHERE r.account_id = a.id), 0) >
			COALESCE((SELECT m.seq FROM audit_token_marks AS m WHERE m.account_id = a.id), 0)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var accounts []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		accounts = append(accounts, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	db.markAccounts(accounts)
	return nil
}

// indexMarkedAccounts indexes the token records of the marked accounts and clears the marks.
func (db *DB) indexMarkedAccounts() {
	db.tokenIndexMu.Lock()
	accounts := make([]string, 0, len(db.tokenIndexDirty))
	for a := range db.tokenIndexDirty {
		accounts = append(accounts, a)
	}
	clear(db.tokenIndexDirty)
	db.tokenIndexMu.Unlock()
	if len(accounts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// After a failure the records stay above the mark, where queries still find them in
	// the tail of the log. The accounts are marked again, so the next run retries them.
	// NOTE: the store has no logger, so a run that keeps failing is visible only as queries
	// by key that slow down while the unindexed tail grows.
	if err := db.IndexTokenRecords(ctx, accounts); err != nil {
		db.markAccounts(accounts)
	}
}

// IndexTokenRecords adds each account's token.issued records above its mark to
// audit_token_clients and then moves the mark to the account's newest record. The server
// calls it in the background; ListAuditRecords returns the same records before and after.
func (db *DB) IndexTokenRecords(ctx context.Context, accounts []string) error {
	for _, account := range accounts {
		if err := db.indexTokenRecords(ctx, account); err != nil {
			return mapError(err)
		}
	}
	return nil
}

// tokenIndexTailQuery reads the token.issued records of an account between its mark and
// its head, a range of the log's primary key.
const tokenIndexTailQuery = `SELECT client_id, seq FROM audit_records
	WHERE account_id = ? AND event = 'token.issued' AND seq > ? AND seq <= ?`

func (db *DB) indexTokenRecords(ctx context.Context, account string) error {
	// Records are never changed once written, so the entries can be read outside the
	// transactions that add them. The head read in the same snapshot bounds them: records
	// appended meanwhile wait for the next run.
	var head int64
	var entries []tokenIndexEntry
	err := func() error {
		tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var mark int64
		err = tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM audit_token_marks WHERE account_id = ?), 0),
			COALESCE((SELECT MAX(seq) FROM audit_records WHERE account_id = ?), 0)`, account, account).Scan(&mark, &head)
		if err != nil || head <= mark {
			return err
		}
		rows, err := tx.QueryContext(ctx, tokenIndexTailQuery, account, mark, head)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e tokenIndexEntry
			if err := rows.Scan(&e.client, &e.seq); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return rows.Err()
	}()
	if err != nil || head == 0 {
		return err
	}

	slices.SortFunc(entries, func(a, b tokenIndexEntry) int {
		return cmp.Or(strings.Compare(a.client, b.client), cmp.Compare(a.seq, b.seq))
	})
	fullChunk, err := db.prepared(ctx, tokenIndexInsert)
	if err != nil {
		return err
	}
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), tokenIndexChunk)]
		entries = entries[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for _, e := range chunk {
			args = append(args, account, e.client, e.seq)
		}
		if err := db.writeUnsynced(ctx, func(tx *sql.Tx) error {
			if len(chunk) == tokenIndexChunk {
				_, err := tx.StmtContext(ctx, fullChunk).ExecContext(ctx, args...)
				return err
			}
			_, err := tx.ExecContext(ctx, tokenIndexInsertOf(len(chunk)), args...)
			return err
		}); err != nil {
			return err
		}
	}
	// Another process may have moved the mark further meanwhile; it never moves back.
	return db.writeUnsynced(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_token_marks (account_id, seq) VALUES (?, ?)
			ON CONFLICT (account_id) DO UPDATE SET seq = MAX(seq, excluded.seq)`, account, head)
		return err
	})
}
