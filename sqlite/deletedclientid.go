package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/iogate/iogate"
)

// deletedClientIDQuery selects whether deleted_client_ids contains a tombstone of the
// client ID (the second parameter) for the account (the first).
const deletedClientIDQuery = `SELECT EXISTS (SELECT 1 FROM deleted_client_ids WHERE account_id = ? AND client_id = ?)`

// checkClientIDNotDeleted returns iogate.ErrDeletedClientID when deleted_client_ids
// contains a tombstone of clientID for accountID. Every write transaction holds SQLite's
// write lock from its start, so no deletion can commit between this check and the
// caller's insert.
func checkClientIDNotDeleted(ctx context.Context, tx *sql.Tx, accountID, clientID string) error {
	return scanClientIDDeleted(tx.QueryRowContext(ctx, deletedClientIDQuery, accountID, clientID))
}

// scanClientIDDeleted returns iogate.ErrDeletedClientID when row, the result of
// deletedClientIDQuery, found a tombstone.
func scanClientIDDeleted(row *sql.Row) error {
	var deleted bool
	if err := row.Scan(&deleted); err != nil {
		return err
	}
	if deleted {
		return iogate.ErrDeletedClientID
	}
	return nil
}

// recordDeletedClientID stores the tombstone of the key clientID of accountID, deleted at
// the given time. A client ID deleted from the account before keeps one tombstone, with
// the later deletion time.
func recordDeletedClientID(ctx context.Context, tx *sql.Tx, accountID, clientID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO deleted_client_ids (account_id, client_id, deleted_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id, client_id) DO UPDATE SET deleted_at = MAX(deleted_at, excluded.deleted_at)`,
		accountID, clientID, toMicros(at))
	return err
}
