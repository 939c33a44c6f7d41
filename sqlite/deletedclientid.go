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

// tombstoneHashColumns selects, from an api_keys row, the secret hashes that the key's
// tombstone stores: the current secret's, and the previous secret's or NULL when the key
// has no previous secret.
const tombstoneHashColumns = `secret_hash, CASE WHEN prev_generation IS NOT NULL THEN prev_secret_hash END`

// recordDeletedClientID stores the tombstone of the key clientID of accountID, deleted at
// the given time, with the hashes of its current and previous secret (nil for none). A
// client ID deleted from the account before keeps one tombstone, with the later deletion
// time and the hashes of the key deleted now, because that key existed after the earlier
// deletion, whatever times the clocks recorded.
func recordDeletedClientID(ctx context.Context, tx *sql.Tx, accountID, clientID string, at time.Time, current, previous []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO deleted_client_ids (account_id, client_id, deleted_at, secret_hash, prev_secret_hash)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, client_id) DO UPDATE SET deleted_at = MAX(deleted_at, excluded.deleted_at),
			secret_hash = excluded.secret_hash, prev_secret_hash = excluded.prev_secret_hash`,
		accountID, clientID, toMicros(at), current, previous)
	return err
}
