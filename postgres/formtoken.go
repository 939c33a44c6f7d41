package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// UseFormToken records a used form token. The primary key turns a second use into
// CodeConflict. A concurrent second insert waits for the first to commit, then fails.
func (db *DB) UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO used_form_tokens (token_hash, used_at, expires_at) VALUES ($1, $2, $3)`,
			tokenHash, usedAt, expiresAt)
		return err
	})
}

// FormTokenUsed reports whether the form token's hash is recorded.
func (db *DB) FormTokenUsed(ctx context.Context, tokenHash []byte) (bool, error) {
	var found int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM used_form_tokens WHERE token_hash = $1`, tokenHash).Scan(&found)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapError(err)
	}
	return true, nil
}

// ReleaseFormToken deletes the record of a form token, if there is one.
func (db *DB) ReleaseFormToken(ctx context.Context, tokenHash []byte) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM used_form_tokens WHERE token_hash = $1`, tokenHash)
		return err
	})
}

// DeleteExpiredFormTokens deletes at most limit expired form-token records in one
// transaction.
func (db *DB) DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredFormTokensQuery, limit, now)
}

// deleteExpiredFormTokensQuery finds its rows through used_form_tokens_by_expiry.
const deleteExpiredFormTokensQuery = `DELETE FROM used_form_tokens WHERE token_hash IN (
	SELECT token_hash FROM used_form_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
