package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordPublicURL stores url as the base URL of the server's links, in place of the one
// stored before. Of nodes that start together, the last to commit wins.
func (db *DB) RecordPublicURL(ctx context.Context, url string, at time.Time) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO public_url (id, url, recorded_at) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET url = excluded.url, recorded_at = excluded.recorded_at`, url, at)
		return err
	})
}

// PublicURL returns the URL that RecordPublicURL stored last and its time, or CodeNotFound.
func (db *DB) PublicURL(ctx context.Context) (string, time.Time, error) {
	var url string
	var at time.Time
	if err := db.pool.QueryRow(ctx, `SELECT url, recorded_at FROM public_url WHERE id = 1`).Scan(&url, &at); err != nil {
		return "", time.Time{}, mapError(err)
	}
	return url, at.UTC(), nil
}
