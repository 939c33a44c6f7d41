package sqlite

import (
	"context"
	"database/sql"

	"github.com/iogate/iogate"
)

// MarkAPIKeyExposed sets the key's exposed flag, keeping the time of the first exposure,
// and records a key change in the same transaction, or returns CodeNotFound.
func (db *DB) MarkAPIKeyExposed(ctx context.Context, clientID string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET exposed = 1, exposed_at = COALESCE(exposed_at, ?) WHERE client_id = ?`,
			toMicros(db.now()), clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", clientID)
		}
		return db.recordChange(ctx, tx, clientID)
	})
}
