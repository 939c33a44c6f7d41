package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// UseFormToken records a used form token. The primary key turns a second use into
// CodeConflict.
func (db *DB) UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO used_form_tokens (token_hash, used_at, expires_at) VALUES (?, ?, ?)`,
			tokenHash, toMicros(usedAt), toMicros(expiresAt))
		return err
	})
}

// FormTokenUsed reports whether the form token's hash is recorded.
func (db *DB) FormTokenUsed(ctx context.Context, tokenHash []byte) (bool, error) {
	var found int
	err := db.reader.QueryRowContext(ctx, `SELECT 1 FROM used_form_tokens WHERE token_hash = ?`, tokenHash).Scan(&found)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapError(err)
	}
	return true, nil
}

// ReleaseFormToken deletes the record of a form token, if there is one.
func (db *DB) ReleaseFormToken(ctx context.Context, tokenHash []byte) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM used_form_tokens WHERE token_hash = ?`, tokenHash)
		return err
	})
}

// DeleteExpiredFormTokens deletes at most limit expired form-token records in one
// transaction.
func (db *DB) DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredFormTokensQuery, limit, toMicros(now))
}

// deleteExpiredFormTokensQuery finds its rows through used_form_tokens_by_expiry.
const deleteExpiredFormTokensQuery = `DELETE FROM used_form_tokens WHERE token_hash IN (
	SELECT token_hash FROM used_form_tokens WHERE expires_at <= ? LIMIT ?)`
