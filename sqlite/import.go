package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/iogate/iogate"
)

// ImportAPIKeys inserts many new keys in one transaction and records a key change for each,
// as CreateAPIKey does for one. It exists for bulk imports and benchmark fixtures: a
// million keys created one by one would cost a million synchronous commits. It fails with
// CodeConflict, and inserts nothing, when any client ID exists already, and with
// iogate.ErrDeletedClientID when any belonged to a deleted key of the same account.
//
// NOTE: it writes no audit records, because the audit chain is keyed by the engine, so
// "iogate audit verify" reports imported keys as keys without a creation record.
func (db *DB) ImportAPIKeys(ctx context.Context, keys []*iogate.APIKey) error {
	if len(keys) == 0 {
		return nil
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		// The column list is CreateAPIKey's: the columns a new key sets.
		insertKey, err := tx.PrepareContext(ctx, `INSERT INTO api_keys (client_id, account_id, name, description, scopes, allowed_ips,
			created_at, updated_at, expires_at, secret_hash, secret_generation, secret_created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insertKey.Close()
		insertChange, err := tx.PrepareContext(ctx, `INSERT INTO key_changes (client_id, changed_at) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer insertChange.Close()
		checkDeleted, err := tx.PrepareContext(ctx, deletedClientIDQuery)
		if err != nil {
			return err
		}
		defer checkDeleted.Close()
		changedAt := toMicros(db.now())
		for _, k := range keys {
			if err := scanClientIDDeleted(checkDeleted.QueryRowContext(ctx, k.AccountID, k.ClientID)); err != nil {
				return err
			}
			_, err := insertKey.ExecContext(ctx, k.ClientID, k.AccountID, k.Name, k.Description, strings.Join(k.Scopes, " "),
				formatPrefixes(k.AllowedIPs), toMicros(k.CreatedAt), toMicros(k.UpdatedAt), nullMicros(k.ExpiresAt),
				k.SecretHash[:], k.SecretGeneration, toMicros(k.SecretCreatedAt))
			if err != nil {
				return err
			}
			if _, err := insertChange.ExecContext(ctx, k.ClientID, changedAt); err != nil {
				return err
			}
		}
		return nil
	})
}
