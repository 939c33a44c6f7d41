package postgres

import (
	"context"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// CreateSession inserts a session.
func (db *DB) CreateSession(ctx context.Context, s *iogate.Session) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at, ip)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.IDHash, s.UserID, s.AccountID, s.Stage, s.CreatedAt, s.LastSeenAt,
			s.ExpiresAt, s.ConfirmedAt, s.IP)
		return err
	})
}

// FindSession returns the session with the ID hash, or CodeNotFound.
func (db *DB) FindSession(ctx context.Context, idHash []byte) (*iogate.Session, error) {
	var s iogate.Session
	var created, seen, expires, confirmed time.Time
	err := db.pool.QueryRow(ctx, `SELECT id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at, ip
		FROM sessions WHERE id_hash = $1`, idHash).Scan(&s.IDHash, &s.UserID, &s.AccountID, &s.Stage, &created, &seen, &expires, &confirmed, &s.IP)
	if err != nil {
		return nil, mapError(err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.ConfirmedAt = created.UTC(), seen.UTC(), expires.UTC(), confirmed.UTC()
	return &s, nil
}

// UpdateSession stores the session's stage, last-seen and confirmation times.
func (db *DB) UpdateSession(ctx context.Context, s *iogate.Session) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET stage = $1, last_seen_at = $2, confirmed_at = $3 WHERE id_hash = $4`,
			s.Stage, s.LastSeenAt, s.ConfirmedAt, s.IDHash)
		return requireOneRow(tag, err, "session")
	})
}

// DeleteSession deletes the session, if it exists.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
		return err
	})
}

// DeleteUserSessions deletes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		return err
	})
}

// DeleteEndedSessions deletes at most limit sessions past their expiry or idle since
// idleSince, in one transaction.
func (db *DB) DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteEndedSessionsQuery, limit, now, idleSince)
}

// deleteEndedSessionsQuery finds its rows through sessions_by_expiry and
// sessions_by_last_seen.
const deleteEndedSessionsQuery = `DELETE FROM sessions WHERE id_hash IN (
	SELECT id_hash FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2 LIMIT $3 FOR UPDATE SKIP LOCKED)`
