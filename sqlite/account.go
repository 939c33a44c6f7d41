package sqlite

import (
	"context"
	"database/sql"

	"github.com/iogate/iogate"
)

// CreateAccount inserts a new account and appends rec, its account.created record, in the
// same transaction.
func (db *DB) CreateAccount(ctx context.Context, a *iogate.Account, rec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(rec, a.ID, iogate.AuditAccountCreated); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		return insertAccount(ctx, tx, a, rec)
	})
}

// insertAccount inserts a and appends its account.created record rec inside tx.
func insertAccount(ctx context.Context, tx *sql.Tx, a *iogate.Account, rec *iogate.AuditRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, email, status, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.Email, a.Status, toMicros(a.CreatedAt))
	if err != nil {
		return err
	}
	return newAuditAppender(tx).append(ctx, rec)
}

// FindAccountByID returns the account, or CodeNotFound, also for the reserved account of
// the signing-key log.
func (db *DB) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	var a iogate.Account
	var created int64
	err := db.reader.QueryRowContext(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id = ? AND id <> ?`,
		id, iogate.SigningKeyLogID).
		Scan(&a.ID, &a.Name, &a.Email, &a.Status, &created)
	if err != nil {
		return nil, mapError(err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// CountAccounts returns how many accounts exist, not counting the reserved account of the
// signing-key log.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	return countAccounts(ctx, db.reader)
}

// countAccounts returns how many accounts q holds, not counting the reserved account of
// the signing-key log.
func countAccounts(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id <> ?`, iogate.SigningKeyLogID).Scan(&n)
	return n, mapError(err)
}

// ListAccounts returns one page of accounts in ID order, which is creation order because
// account IDs are time-ordered UUIDs. The cursor is the last ID of the page. The reserved
// account of the signing-key log is left out.
func (db *DB) ListAccounts(ctx context.Context, page iogate.Page) ([]*iogate.Account, string, error) {
	limit := pageLimit(page)
	rows, err := db.reader.QueryContext(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id > ? AND id <> ? ORDER BY id LIMIT ?`,
		page.Cursor, iogate.SigningKeyLogID, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	defer rows.Close()
	var out []*iogate.Account
	for rows.Next() {
		var a iogate.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Email, &a.Status, &created); err != nil {
			return nil, "", mapError(err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
