package postgres

import (
	"context"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// checkClientIDNotDeleted returns iogate.ErrDeletedClientID when deleted_client_ids
// contains a tombstone of clientID for accountID. The caller must hold the account's lock
// (lockAccounts), which DeleteAPIKey takes too. A deletion that committed while the caller
// waited for the lock is then visible to this statement's READ COMMITTED snapshot, and no
// deletion can commit between this check and the caller's insert.
func checkClientIDNotDeleted(ctx context.Context, tx pgx.Tx, accountID, clientID string) error {
	var deleted bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_client_ids WHERE account_id = $1 AND client_id = $2)`,
		accountID, clientID).Scan(&deleted)
	if err != nil {
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
func recordDeletedClientID(ctx context.Context, tx pgx.Tx, accountID, clientID string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO deleted_client_ids (account_id, client_id, deleted_at) VALUES ($1, $2, $3)
		ON CONFLICT (account_id, client_id) DO UPDATE SET deleted_at = GREATEST(deleted_client_ids.deleted_at, excluded.deleted_at)`,
		accountID, clientID, at.UTC().Truncate(time.Microsecond))
	return err
}
