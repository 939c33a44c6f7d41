package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/iogate/iogate"
)

// CreateUserLink stores a single-use link with its record rec. A new setup link replaces
// the unused ones.
func (db *DB) CreateUserLink(ctx context.Context, l *iogate.UserLink, rec *iogate.AuditRecord) error {
	if err := iogate.CheckNewUserLink(l, rec); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if l.Purpose == iogate.LinkSetup {
			if _, err := tx.ExecContext(ctx, replaceSetupLinksQuery, iogate.LinkSetup, toMicros(l.CreatedAt)); err != nil {
				return err
			}
		}
		if err := checkInviter(ctx, tx, l); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO user_links (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			nullString(l.ID), l.TokenHash, l.Purpose, nullString(l.AccountID), nullString(l.UserID), l.Email, string(l.Role),
			nullString(l.CreatedBy.Type), nullString(l.CreatedBy.ID), toMicros(l.CreatedAt), toMicros(l.ExpiresAt))
		if err != nil || rec == nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// checkInviter returns CodeForbidden for an invitation created by a user who, inside tx,
// does not belong to the invitation's account or may not manage users.
func checkInviter(ctx context.Context, tx *sql.Tx, l *iogate.UserLink) error {
	if l.Purpose != iogate.LinkInvite || l.CreatedBy.Type != iogate.ActorUser {
		return nil
	}
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ? AND account_id = ?`, l.CreatedBy.ID, l.AccountID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !iogate.Role(role).CanManageUsers() {
		return iogate.ErrInviterNotOwner
	}
	return err
}

// linkColumns are the columns of user_links that scanUserLink reads, in its order.
const linkColumns = `id, token_hash, purpose, account_id, user_id, email, role, created_by_type, created_by_id, created_at, expires_at`

// scanUserLink reads a row of linkColumns.
func scanUserLink(row interface{ Scan(...any) error }) (*iogate.UserLink, error) {
	var l iogate.UserLink
	var id, accountID, userID, creatorType, creatorID sql.NullString
	var role string
	var created, expires int64
	if err := row.Scan(&id, &l.TokenHash, &l.Purpose, &accountID, &userID, &l.Email, &role, &creatorType, &creatorID, &created, &expires); err != nil {
		return nil, err
	}
	l.ID, l.AccountID, l.UserID, l.Role = id.String, accountID.String, userID.String, iogate.Role(role)
	l.CreatedBy = iogate.Actor{Type: creatorType.String, ID: creatorID.String}
	l.CreatedAt, l.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &l, nil
}

// FindUserLink returns the unused, unexpired link with the hash and purpose.
func (db *DB) FindUserLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	return findUserLink(ctx, db.reader, tokenHash, purpose, now)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// replaceSetupLinksQuery makes the unused links of a purpose (setup) that are valid at a
// time expire at their creation time, which marks them as replaced, because a link that expires
// on its own outlives its creation.
const replaceSetupLinksQuery = `UPDATE user_links SET expires_at = created_at
	WHERE purpose = ? AND used_at IS NULL AND expires_at > ?`

// replacedSetupLinkQuery reports whether a token hash belongs to an unused link of the
// purpose (setup) that replaceSetupLinksQuery replaced.
const replacedSetupLinkQuery = `SELECT EXISTS (SELECT 1 FROM user_links
	WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at <= created_at)`

// findUserLink reads a valid link with q. A setup link that a newer one replaced is
// ErrSetupLinkReplaced.
// A replaced link expires at its creation time, which a node whose clock is behind the
// creating node's still takes to be in the future, so the query also requires expires_at >
// created_at.
func findUserLink(ctx context.Context, q queryRower, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	l, err := scanUserLink(q.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM user_links
		WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? AND expires_at > created_at`, tokenHash, purpose, toMicros(now)))
	if errors.Is(err, sql.ErrNoRows) && purpose == iogate.LinkSetup {
		var replaced bool
		if err := q.QueryRowContext(ctx, replacedSetupLinkQuery, tokenHash, iogate.LinkSetup).Scan(&replaced); err != nil {
			return nil, mapError(err)
		}
		if replaced {
			return nil, iogate.ErrSetupLinkReplaced
		}
	}
	if err != nil {
		return nil, mapError(err)
	}
	return l, nil
}

// useLink marks a valid link as used inside tx and returns it, or returns CodeNotFound.
func useLink(ctx context.Context, tx *sql.Tx, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	l, err := findUserLink(ctx, tx, tokenHash, purpose, now)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ? WHERE token_hash = ?`, toMicros(now), tokenHash); err != nil {
		return nil, err
	}
	return l, nil
}

// CreateAccountWithOwner uses the setup link and creates the first account and its owner,
// with the account's account.created record accountRec and the owner's user.created record
// ownerRec.
func (db *DB) CreateAccountWithOwner(ctx context.Context, tokenHash []byte, now time.Time, a *iogate.Account, owner *iogate.User, accountRec, ownerRec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(accountRec, a.ID, iogate.AuditAccountCreated); err != nil {
		return err
	}
	if err := iogate.CheckChangeRecord(ownerRec, a.ID, iogate.AuditUserCreated); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := useLink(ctx, tx, tokenHash, iogate.LinkSetup, now); err != nil {
			return err
		}
		n, err := countAccounts(ctx, tx)
		if err != nil {
			return err
		}
		if n > 0 {
			return iogate.Errorf(iogate.CodeConflict, "an account already exists; sign in instead")
		}
		if err := insertAccount(ctx, tx, a, accountRec); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, owner); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, ownerRec)
	})
}

// AcceptInvite uses the invitation link and creates the invited user with its record rec.
func (db *DB) AcceptInvite(ctx context.Context, tokenHash []byte, now time.Time, u *iogate.User, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		l, err := useLink(ctx, tx, tokenHash, iogate.LinkInvite, now)
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, l.AccountID, iogate.AuditUserCreated); err != nil {
			return err
		}
		u.AccountID, u.Email, u.Role = l.AccountID, l.Email, l.Role
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// ResetPassword uses the reset link, sets the password hash and ends the user's sessions,
// with the record rec.
func (db *DB) ResetPassword(ctx context.Context, tokenHash []byte, now time.Time, passwordHash string, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		l, err := useLink(ctx, tx, tokenHash, iogate.LinkReset, now)
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, l.AccountID, iogate.AuditUserPasswordReset); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, passwordHash, toMicros(now), l.UserID)
		if err := requireOneRow(res, err, "user"); err != nil {
			return err
		}
		// Any other reset link of the user ends with this one: a link sent earlier, perhaps
		// to a mailbox since lost, must not set the password again.
		if _, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL`,
			toMicros(now), l.UserID, iogate.LinkReset); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, l.UserID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// DeleteSpentUserLinks deletes at most limit used or expired links in one transaction.
func (db *DB) DeleteSpentUserLinks(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteSpentUserLinksQuery, limit, toMicros(now))
}

// deleteSpentUserLinksQuery finds its rows through user_links_used and
// user_links_by_expiry. It is a UNION ALL rather than an OR because SQLite searches no
// index for "used_at IS NOT NULL" inside an OR, and would scan the table. The second part
// leaves out used links, so that LIMIT counts each link once.
const deleteSpentUserLinksQuery = `DELETE FROM user_links WHERE rowid IN (
	SELECT rowid FROM user_links WHERE used_at IS NOT NULL
	UNION ALL SELECT rowid FROM user_links WHERE expires_at <= ? AND used_at IS NULL LIMIT ?)`

// ListPendingInvitations returns the account's unused invitations that are valid at now,
// without their token hashes.
func (db *DB) ListPendingInvitations(ctx context.Context, accountID string, now time.Time) ([]*iogate.UserLink, error) {
	links, err := queryUserLinks(ctx, db.reader, `SELECT `+linkColumns+` FROM user_links
		WHERE purpose = ? AND account_id = ? AND used_at IS NULL AND expires_at > ?
		AND NOT EXISTS (SELECT 1 FROM users WHERE users.email = user_links.email) ORDER BY email, created_at`,
		iogate.LinkInvite, accountID, toMicros(now))
	for _, l := range links {
		l.TokenHash = nil
	}
	return links, mapError(err)
}

// queryUserLinks returns the links that query, which selects linkColumns, finds with q.
func queryUserLinks(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, query string, args ...any) ([]*iogate.UserLink, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*iogate.UserLink
	for rows.Next() {
		l, err := scanUserLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CancelInvitation marks the account's pending invitation as used, with its record rec.
func (db *DB) CancelInvitation(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	if err := iogate.CheckInvitationCancelRecord(rec); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ?
			WHERE id = ? AND account_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?`,
			toMicros(rec.Time), id, rec.AccountID, iogate.LinkInvite, toMicros(rec.Time))
		if err := requireRow(res, err, iogate.ErrInvitationNotPending); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// cancelInvitationsBy cancels, inside tx, the invitations that the user userID created and
// that are unused and valid at cause.Time, cause being the record of the user's removal or
// demotion. Each gets the record that iogate.InvitationCancelledBy makes with reason.
func cancelInvitationsBy(ctx context.Context, tx *sql.Tx, userID string, cause *iogate.AuditRecord, reason string) error {
	links, err := queryUserLinks(ctx, tx, `SELECT `+linkColumns+` FROM user_links
		WHERE purpose = ? AND created_by_type = ? AND created_by_id = ? AND used_at IS NULL AND expires_at > ? ORDER BY email, created_at`,
		iogate.LinkInvite, iogate.ActorUser, userID, toMicros(cause.Time))
	if err != nil {
		return err
	}
	appender := newAuditAppender(tx)
	for _, l := range links {
		rec, err := iogate.InvitationCancelledBy(cause, l, reason)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ? WHERE token_hash = ?`, toMicros(cause.Time), l.TokenHash); err != nil {
			return err
		}
		if err := appender.append(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}
