package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/iogate/iogate"
)

// RevokeToken records the revocation, a key change of the token's client and the audit
// record rec in one transaction. A token already revoked gets neither a second change nor a
// second record. Revocations of expired tokens are left to DeleteExpiredRevocations, as in
// the postgres store.
func (db *DB) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	if err := iogate.CheckRevocationRecord(rec, t); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		var found int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE client_id = ? AND account_id = ?`, t.ClientID, rec.AccountID).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", t.ClientID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (jti) DO NOTHING`, t.TokenID, t.ClientID, toMicros(t.ExpiresAt), toMicros(t.RevokedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			// Already revoked: there is nothing new to announce or record.
			return err
		}
		if err := db.recordChange(ctx, tx, t.ClientID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// DeleteExpiredRevocations deletes at most limit revocations of tokens that expired at or
// before the given time, in one transaction.
func (db *DB) DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredRevocationsQuery, limit, toMicros(before))
}

// deleteExpiredRevocationsQuery finds its rows through revoked_tokens_by_expiry.
const deleteExpiredRevocationsQuery = `DELETE FROM revoked_tokens WHERE rowid IN (
	SELECT rowid FROM revoked_tokens WHERE expires_at <= ? LIMIT ?)`

const revokedColumns = `jti, client_id, expires_at, revoked_at`

func scanRevokedToken(row interface{ Scan(...any) error }) (*iogate.RevokedToken, error) {
	var t iogate.RevokedToken
	var expires, revoked int64
	if err := row.Scan(&t.TokenID, &t.ClientID, &expires, &revoked); err != nil {
		return nil, err
	}
	t.ExpiresAt, t.RevokedAt = fromMicros(expires), fromMicros(revoked)
	return &t, nil
}

// ListRevokedTokens returns the revocations of clientID's tokens that expire after the
// given time.
func (db *DB) ListRevokedTokens(ctx context.Context, clientID string, after time.Time) ([]*iogate.RevokedToken, error) {
	var out []*iogate.RevokedToken
	err := db.queryRevoked(ctx, `SELECT `+revokedColumns+` FROM revoked_tokens WHERE client_id = ? AND expires_at > ?`,
		[]any{clientID, toMicros(after)}, func(t *iogate.RevokedToken) error {
			out = append(out, t)
			return nil
		})
	return out, err
}

// AllRevokedTokens calls fn for every revocation of a token that expires after the given
// time.
func (db *DB) AllRevokedTokens(ctx context.Context, after time.Time, fn func(*iogate.RevokedToken) error) error {
	return db.queryRevoked(ctx, `SELECT `+revokedColumns+` FROM revoked_tokens WHERE expires_at > ?`, []any{toMicros(after)}, fn)
}

func (db *DB) queryRevoked(ctx context.Context, query string, args []any, fn func(*iogate.RevokedToken) error) error {
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanRevokedToken(rows)
		if err != nil {
			return mapError(err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}
