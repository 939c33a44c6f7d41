package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// RecordPublicURL stores url as the base URL of the server's links, in place of the one
// stored before.
func (db *DB) RecordPublicURL(ctx context.Context, url string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO public_url (id, url, recorded_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET url = excluded.url, recorded_at = excluded.recorded_at`, url, toMicros(at))
		return err
	})
}

// PublicURL returns the URL that RecordPublicURL stored last and its time, or CodeNotFound.
func (db *DB) PublicURL(ctx context.Context) (string, time.Time, error) {
	var url string
	var at int64
	if err := db.reader.QueryRowContext(ctx, `SELECT url, recorded_at FROM public_url WHERE id = 1`).Scan(&url, &at); err != nil {
		return "", time.Time{}, mapError(err)
	}
	return url, fromMicros(at), nil
}
