package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/iogate/iogate"
)

// UseFormToken records a used form token, or returns iogate.ErrFormTokenUsed when it is
// already recorded.
func (db *DB) UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		return insertFormToken(ctx, tx, iogate.FormTokenUse{Hash: tokenHash, UsedAt: usedAt, ExpiresAt: expiresAt})
	})
}

// useFormTokenOf records, in tx, the form token's use that ctx carries, if any, for the
// key change that tx writes.
func useFormTokenOf(ctx context.Context, tx *sql.Tx) error {
	use, ok := iogate.FormTokenUseFrom(ctx)
	if !ok {
		return nil
	}
	return insertFormToken(ctx, tx, use)
}

// insertFormToken records use in tx, or returns iogate.ErrFormTokenUsed when its hash is
// already recorded.
func insertFormToken(ctx context.Context, tx *sql.Tx, use iogate.FormTokenUse) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO used_form_tokens (token_hash, used_at, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (token_hash) DO NOTHING`, use.Hash, toMicros(use.UsedAt), toMicros(use.ExpiresAt))
	return requireRow(res, err, iogate.ErrFormTokenUsed)
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

// DeleteExpiredFormTokens deletes at most limit expired form-token records in one
// transaction.
func (db *DB) DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredFormTokensQuery, limit, toMicros(now))
}

// deleteExpiredFormTokensQuery finds its rows through used_form_tokens_by_expiry.
const deleteExpiredFormTokensQuery = `DELETE FROM used_form_tokens WHERE token_hash IN (
	SELECT token_hash FROM used_form_tokens WHERE expires_at <= ? LIMIT ?)`
