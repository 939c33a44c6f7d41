package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/iogate/iogate"
)

// CreateSession inserts a session.
func (db *DB) CreateSession(ctx context.Context, s *iogate.Session) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at, ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.IDHash, s.UserID, s.AccountID, s.Stage, toMicros(s.CreatedAt), toMicros(s.LastSeenAt),
			toMicros(s.ExpiresAt), toMicros(s.ConfirmedAt), s.IP)
		return err
	})
}

// FindSession returns the session with the ID hash, or CodeNotFound.
func (db *DB) FindSession(ctx context.Context, idHash []byte) (*iogate.Session, error) {
	var s iogate.Session
	var created, seen, expires, confirmed int64
	err := db.reader.QueryRowContext(ctx, `SELECT id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at, ip
		FROM sessions WHERE id_hash = ?`, idHash).Scan(&s.IDHash, &s.UserID, &s.AccountID, &s.Stage, &created, &seen, &expires, &confirmed, &s.IP)
	if err != nil {
		return nil, mapError(err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.ConfirmedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromMicros(confirmed)
	return &s, nil
}

// UpdateSession stores the session's stage, last-seen and confirmation times.
func (db *DB) UpdateSession(ctx context.Context, s *iogate.Session) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET stage = ?, last_seen_at = ?, confirmed_at = ? WHERE id_hash = ?`,
			s.Stage, toMicros(s.LastSeenAt), toMicros(s.ConfirmedAt), s.IDHash)
		return requireOneRow(res, err, "session")
	})
}

// DeleteSession deletes the session, if it exists.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	})
}

// DeleteUserSessions deletes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		return err
	})
}

// DeleteEndedSessions deletes at most limit sessions past their expiry or idle since
// idleSince, in one transaction, so that a sweep holds the writer only briefly.
func (db *DB) DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteEndedSessionsQuery, limit, toMicros(now), toMicros(idleSince))
}

// deleteEndedSessionsQuery finds its rows through sessions_by_expiry and
// sessions_by_last_seen.
const deleteEndedSessionsQuery = `DELETE FROM sessions WHERE rowid IN (
	SELECT rowid FROM sessions WHERE expires_at <= ? OR last_seen_at <= ? LIMIT ?)`
