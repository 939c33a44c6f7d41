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

// FindAccountByID returns the account, or CodeNotFound.
func (db *DB) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	var a iogate.Account
	var created int64
	err := db.reader.QueryRowContext(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Email, &a.Status, &created)
	if err != nil {
		return nil, mapError(err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n, mapError(err)
}

// ListAccounts returns one page of accounts in ID order, which is creation order because
// account IDs are time-ordered UUIDs. The cursor is the last ID of the page.
func (db *DB) ListAccounts(ctx context.Context, page iogate.Page) ([]*iogate.Account, string, error) {
	limit := pageLimit(page)
	rows, err := db.reader.QueryContext(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id > ? ORDER BY id LIMIT ?`, page.Cursor, limit+1)
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
