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

// tombstoneHashColumns selects, from an api_keys row, the secret hashes that the key's
// tombstone stores: the current secret's, and the previous secret's or NULL when the key
// has no previous secret.
const tombstoneHashColumns = `secret_hash, CASE WHEN prev_generation IS NOT NULL THEN prev_secret_hash END`

// recordDeletedClientID stores the tombstone of the key clientID of accountID, deleted at
// the given time, with the hashes of its current and previous secret (nil for none). A
// client ID deleted from the account before keeps one tombstone, with the later deletion
// time and the hashes of the key deleted now, because that key existed after the earlier
// deletion, whatever times the clocks recorded.
func recordDeletedClientID(ctx context.Context, tx pgx.Tx, accountID, clientID string, at time.Time, current, previous []byte) error {
	_, err := tx.Exec(ctx, `INSERT INTO deleted_client_ids (account_id, client_id, deleted_at, secret_hash, prev_secret_hash)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account_id, client_id) DO UPDATE SET deleted_at = GREATEST(deleted_client_ids.deleted_at, excluded.deleted_at),
			secret_hash = excluded.secret_hash, prev_secret_hash = excluded.prev_secret_hash`,
		accountID, clientID, at.UTC().Truncate(time.Microsecond), current, previous)
	return err
}
