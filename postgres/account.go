package postgres

import (
	"context"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// CreateAccount inserts a new account and appends rec, its account.created record, in the
// same transaction.
func (db *DB) CreateAccount(ctx context.Context, a *iogate.Account, rec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(rec, a.ID, iogate.AuditAccountCreated); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		return insertAccount(ctx, tx, a, rec)
	})
}

// insertAccount inserts a and appends its account.created record rec inside tx. The new
// row needs no lock for the append: no other transaction can read the account before tx
// commits, so none can extend its chain.
func insertAccount(ctx context.Context, tx pgx.Tx, a *iogate.Account, rec *iogate.AuditRecord) error {
	_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, email, status, created_at) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.Name, a.Email, a.Status, a.CreatedAt)
	if err != nil {
		return err
	}
	return newAuditAppender(tx).append(ctx, rec)
}

// FindAccountByID returns the account, or CodeNotFound, also for the reserved account of
// the signing-key log.
func (db *DB) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	if !storable(id) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "account not found")
	}
	var a iogate.Account
	var created time.Time
	err := db.pool.QueryRow(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id = $1 AND id <> $2`,
		id, iogate.SigningKeyLogID).
		Scan(&a.ID, &a.Name, &a.Email, &a.Status, &created)
	if err != nil {
		return nil, mapError(err)
	}
	a.CreatedAt = created.UTC()
	return &a, nil
}

// CountAccounts returns how many accounts exist, not counting the reserved account of the
// signing-key log.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	n, err := countAccounts(ctx, db.pool)
	return n, mapError(err)
}

// countAccounts returns how many accounts q holds, not counting the reserved account of
// the signing-key log.
func countAccounts(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE id <> $1`, iogate.SigningKeyLogID).Scan(&n)
	return n, err
}

// ListAccounts returns one page of accounts in ID order, which is creation order because
// account IDs are time-ordered UUIDs. The cursor is the last ID of the page. The reserved
// account of the signing-key log is left out.
func (db *DB) ListAccounts(ctx context.Context, page iogate.Page) ([]*iogate.Account, string, error) {
	limit := pageLimit(page)
	if !storable(page.Cursor) {
		return nil, "", errInvalidCursor
	}
	rows, err := db.pool.Query(ctx, `SELECT id, name, email, status, created_at FROM accounts WHERE id > $1 AND id <> $2 ORDER BY id LIMIT $3`,
		page.Cursor, iogate.SigningKeyLogID, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.Account, error) {
		var a iogate.Account
		var created time.Time
		if err := r.Scan(&a.ID, &a.Name, &a.Email, &a.Status, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = created.UTC()
		return &a, nil
	})
	if err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
