package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// RevokeToken records a revoked token, a key change of its client and the audit record rec
// in one transaction. Revoking a token twice records nothing new: no second change and no
// second audit record.
//
// It deletes no revocations of expired tokens, because such a delete locks rows of every
// account's keys. A key deletion cascades to the same rows in another order, so the two
// could deadlock, and PostgreSQL would abort one of them. DeleteExpiredRevocations deletes
// those rows from the periodic sweep instead.
func (db *DB) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	if err := iogate.CheckRevocationRecord(rec, t); err != nil {
		return err
	}
	if !storable(t.ClientID) {
		return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q", t.ClientID)
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		// The account's lock orders this transaction with every other append to its chain,
		// and with deletions of its keys, which take the same lock first.
		if err := lockAccounts(ctx, tx, rec.AccountID); err != nil {
			if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
				return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", t.ClientID)
			}
			return err
		}
		var found int
		err := tx.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE client_id = $1 AND account_id = $2`, t.ClientID, rec.AccountID).Scan(&found)
		if errors.Is(err, pgx.ErrNoRows) {
			return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", t.ClientID)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (jti) DO NOTHING`, t.TokenID, t.ClientID, t.ExpiresAt, t.RevokedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Already revoked: there is nothing new to announce or record.
			return nil
		}
		if err := db.recordChange(ctx, tx, t.ClientID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// DeleteExpiredRevocations deletes at most limit revocations of tokens that expired at or
// before the given time, in one transaction. It skips rows that another transaction has
// locked, such as a key deletion cascading to its revocations, rather than wait for them.
func (db *DB) DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteExpiredRevocationsQuery, limit, before)
}

// deleteExpiredRevocationsQuery finds its rows through revoked_tokens_by_expiry.
const deleteExpiredRevocationsQuery = `DELETE FROM revoked_tokens WHERE jti IN (
	SELECT jti FROM revoked_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`

const revokedColumns = `jti, client_id, expires_at, revoked_at`

// ListRevokedTokens returns the revocations of clientID's tokens that expire after the
// given time.
func (db *DB) ListRevokedTokens(ctx context.Context, clientID string, after time.Time) ([]*iogate.RevokedToken, error) {
	var out []*iogate.RevokedToken
	err := db.queryRevoked(ctx, `SELECT `+revokedColumns+` FROM revoked_tokens WHERE client_id = $1 AND expires_at > $2`,
		[]any{clientID, after}, func(t *iogate.RevokedToken) error {
			out = append(out, t)
			return nil
		})
	return out, err
}

// AllRevokedTokens calls fn for every revocation of a token that expires after the given
// time.
func (db *DB) AllRevokedTokens(ctx context.Context, after time.Time, fn func(*iogate.RevokedToken) error) error {
	return db.queryRevoked(ctx, `SELECT `+revokedColumns+` FROM revoked_tokens WHERE expires_at > $1`, []any{after}, fn)
}

func (db *DB) queryRevoked(ctx context.Context, query string, args []any, fn func(*iogate.RevokedToken) error) error {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t iogate.RevokedToken
		if err := rows.Scan(&t.TokenID, &t.ClientID, &t.ExpiresAt, &t.RevokedAt); err != nil {
			return mapError(err)
		}
		t.ExpiresAt, t.RevokedAt = t.ExpiresAt.UTC(), t.RevokedAt.UTC()
		if err := fn(&t); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}
