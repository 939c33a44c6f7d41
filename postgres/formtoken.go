package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// UseFormToken records a used form token, or returns iogate.ErrFormTokenUsed when it is
// already recorded. A concurrent second insert waits for the first to commit, then fails.
func (db *DB) UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		return insertFormToken(ctx, tx, iogate.FormTokenUse{Hash: tokenHash, UsedAt: usedAt, ExpiresAt: expiresAt})
	})
}

// useFormTokenOf records, in tx, the form token's use that ctx carries, if any, for the
// key change that tx writes.
func useFormTokenOf(ctx context.Context, tx pgx.Tx) error {
	use, ok := iogate.FormTokenUseFrom(ctx)
	if !ok {
		return nil
	}
	return insertFormToken(ctx, tx, use)
}

// insertFormToken records use in tx, or returns iogate.ErrFormTokenUsed when its hash is
// already recorded. ON CONFLICT keeps the transaction usable, where a unique violation
// would abort it. An insert of a hash that another open transaction inserted waits for
// that one: it records the use if the other rolls back, and fails if it commits.
func insertFormToken(ctx context.Context, tx pgx.Tx, use iogate.FormTokenUse) error {
	tag, err := tx.Exec(ctx, `INSERT INTO used_form_tokens (token_hash, used_at, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (token_hash) DO NOTHING`, use.Hash, use.UsedAt, use.ExpiresAt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return iogate.ErrFormTokenUsed
	}
	return nil
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

// DeleteExpiredFormTokens deletes at most limit expired form-token records in one
// transaction.
func (db *DB) DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredFormTokensQuery, limit, now)
}

// deleteExpiredFormTokensQuery finds its rows through used_form_tokens_by_expiry.
const deleteExpiredFormTokensQuery = `DELETE FROM used_form_tokens WHERE token_hash IN (
	SELECT token_hash FROM used_form_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
