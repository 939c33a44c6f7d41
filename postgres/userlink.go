package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// CreateUserLink stores a single-use link with its record rec. A new setup link replaces
// the unused ones.
func (db *DB) CreateUserLink(ctx context.Context, l *iogate.UserLink, rec *iogate.AuditRecord) error {
	if err := iogate.CheckNewUserLink(l, rec); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if rec != nil {
			if err := lockAccounts(ctx, tx, rec.AccountID); err != nil {
				return err
			}
		}
		if l.Purpose == iogate.LinkSetup {
			// Without the lock, two nodes that start together each replace the links
			// committed before them, miss the other's uncommitted one, and leave two
			// valid setup links.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, setupLinkLockID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, replaceSetupLinksQuery, iogate.LinkSetup, l.CreatedAt); err != nil {
				return err
			}
		}
		// The account lock above makes this check wait for a removal or role change of the
		// inviter that holds it, and see its result.
		if err := checkInviter(ctx, tx, l); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO user_links (`+linkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			nullString(l.ID), l.TokenHash, l.Purpose, nullString(l.AccountID), nullString(l.UserID), l.Email, string(l.Role),
			nullString(l.CreatedBy.Type), nullString(l.CreatedBy.ID), l.CreatedAt, l.ExpiresAt)
		if err != nil || rec == nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// stringOf returns *p, or "" for nil.
func stringOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// checkInviter returns CodeForbidden for an invitation created by a user who, inside tx,
// does not belong to the invitation's account or may not manage users.
func checkInviter(ctx context.Context, tx pgx.Tx, l *iogate.UserLink) error {
	if l.Purpose != iogate.LinkInvite || l.CreatedBy.Type != iogate.ActorUser {
		return nil
	}
	if !storable(l.CreatedBy.ID) {
		return iogate.ErrInviterNotOwner
	}
	var role string
	err := tx.QueryRow(ctx, `SELECT role FROM users WHERE id = $1 AND account_id = $2`, l.CreatedBy.ID, l.AccountID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !iogate.Role(role).CanManageUsers() {
		return iogate.ErrInviterNotOwner
	}
	return err
}

// linkColumns are the columns of user_links that scanUserLink reads, in its order.
const linkColumns = `id, token_hash, purpose, account_id, user_id, email, role, created_by_type, created_by_id, created_at, expires_at`

// scanUserLink reads a row of linkColumns.
func scanUserLink(row pgx.Row) (*iogate.UserLink, error) {
	var l iogate.UserLink
	var id, accountID, userID, creatorType, creatorID *string
	var role string
	var created, expires time.Time
	if err := row.Scan(&id, &l.TokenHash, &l.Purpose, &accountID, &userID, &l.Email, &role, &creatorType, &creatorID, &created, &expires); err != nil {
		return nil, err
	}
	l.ID, l.AccountID, l.UserID, l.Role = stringOf(id), stringOf(accountID), stringOf(userID), iogate.Role(role)
	l.CreatedBy = iogate.Actor{Type: stringOf(creatorType), ID: stringOf(creatorID)}
	l.CreatedAt, l.ExpiresAt = created.UTC(), expires.UTC()
	return &l, nil
}

// queryUserLinks returns the links that query, which selects linkColumns, finds with q.
func queryUserLinks(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, query string, args ...any) ([]*iogate.UserLink, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.UserLink, error) { return scanUserLink(r) })
}

// FindUserLink returns the unused, unexpired link with the hash and purpose.
func (db *DB) FindUserLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	return findUserLink(ctx, db.pool.QueryRow, tokenHash, purpose, now, "")
}

// setupLinkLockID is the key of the advisory lock that serialises the creation of setup
// links. It spells "iosetup" in ASCII.
const setupLinkLockID int64 = 0x696f7365747570

// replaceSetupLinksQuery makes the unused links of purpose $1 (setup) that are valid at $2
// expire at their creation time, which marks them as replaced, because a link that expires
// on its own outlives its creation.
const replaceSetupLinksQuery = `UPDATE user_links SET expires_at = created_at
	WHERE purpose = $1 AND used_at IS NULL AND expires_at > $2`

// replacedSetupLinkQuery reports whether the token hash $1 belongs to an unused link of
// purpose $2 (setup) that replaceSetupLinksQuery replaced.
const replacedSetupLinkQuery = `SELECT EXISTS (SELECT 1 FROM user_links
	WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at <= created_at)`

// findUserLink reads a valid link with queryRow; lock is "" or " FOR UPDATE". A setup link
// that a newer one replaced is ErrSetupLinkReplaced.
// A replaced link expires at its creation time, which a node whose clock is behind the
// creating node's still takes to be in the future, so the query also requires expires_at >
// created_at.
func findUserLink(ctx context.Context, queryRow func(context.Context, string, ...any) pgx.Row, tokenHash []byte, purpose string, now time.Time, lock string) (*iogate.UserLink, error) {
	l, err := scanUserLink(queryRow(ctx, `SELECT `+linkColumns+` FROM user_links
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 AND expires_at > created_at`+lock, tokenHash, purpose, now))
	if errors.Is(err, pgx.ErrNoRows) && purpose == iogate.LinkSetup {
		var replaced bool
		if err := queryRow(ctx, replacedSetupLinkQuery, tokenHash, iogate.LinkSetup).Scan(&replaced); err != nil {
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
// The row lock makes a second transaction with the same link wait, then find it used.
func useLink(ctx context.Context, tx pgx.Tx, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	l, err := findUserLink(ctx, tx.QueryRow, tokenHash, purpose, now, " FOR UPDATE")
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE user_links SET used_at = $1 WHERE token_hash = $2`, now, tokenHash); err != nil {
		return nil, err
	}
	return l, nil
}

// CreateAccountWithOwner uses the setup link and creates the first account and its owner,
// with the account's account.created record accountRec and the owner's user.created record
// ownerRec. The table lock on accounts keeps two setup links used at once from creating
// two accounts.
func (db *DB) CreateAccountWithOwner(ctx context.Context, tokenHash []byte, now time.Time, a *iogate.Account, owner *iogate.User, accountRec, ownerRec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(accountRec, a.ID, iogate.AuditAccountCreated); err != nil {
		return err
	}
	if err := iogate.CheckChangeRecord(ownerRec, a.ID, iogate.AuditUserCreated); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if _, err := useLink(ctx, tx, tokenHash, iogate.LinkSetup, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE`); err != nil {
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
		// The account is new, so no other transaction can extend its chain: the append
		// needs no lock, as in insertAccount.
		return newAuditAppender(tx).append(ctx, ownerRec)
	})
}

// AcceptInvite uses the invitation link and creates the invited user with its record rec.
// The link is locked before the account, as the account is before the user in every user
// change.
func (db *DB) AcceptInvite(ctx context.Context, tokenHash []byte, now time.Time, u *iogate.User, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		l, err := useLink(ctx, tx, tokenHash, iogate.LinkInvite, now)
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, l.AccountID, iogate.AuditUserCreated); err != nil {
			return err
		}
		if err := lockAccounts(ctx, tx, l.AccountID); err != nil {
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
// with the record rec. It locks the link, then the account, then the user.
func (db *DB) ResetPassword(ctx context.Context, tokenHash []byte, now time.Time, passwordHash string, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		l, err := useLink(ctx, tx, tokenHash, iogate.LinkReset, now)
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, l.AccountID, iogate.AuditUserPasswordReset); err != nil {
			return err
		}
		if err := lockAccounts(ctx, tx, l.AccountID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, passwordHash, now, l.UserID)
		if err := requireOneRow(tag, err, "user"); err != nil {
			return err
		}
		// Any other reset link of the user ends with this one: a link sent earlier, perhaps
		// to a mailbox since lost, must not set the password again.
		if _, err := tx.Exec(ctx, `UPDATE user_links SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL`,
			now, l.UserID, iogate.LinkReset); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, l.UserID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// DeleteSpentUserLinks deletes at most limit used or expired links in one transaction.
func (db *DB) DeleteSpentUserLinks(ctx context.Context, now time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteSpentUserLinksQuery, limit, now)
}

// deleteSpentUserLinksQuery finds its rows through user_links_used and
// user_links_by_expiry.
const deleteSpentUserLinksQuery = `DELETE FROM user_links WHERE token_hash IN (
	SELECT token_hash FROM user_links WHERE used_at IS NOT NULL OR expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`

// ListPendingInvitations returns the account's unused invitations that are valid at now,
// without their token hashes.
func (db *DB) ListPendingInvitations(ctx context.Context, accountID string, now time.Time) ([]*iogate.UserLink, error) {
	if !storable(accountID) {
		return nil, nil
	}
	links, err := queryUserLinks(ctx, db.pool, `SELECT `+linkColumns+` FROM user_links
		WHERE purpose = $1 AND account_id = $2 AND used_at IS NULL AND expires_at > $3
		AND NOT EXISTS (SELECT 1 FROM users WHERE users.email = user_links.email) ORDER BY email, created_at`,
		iogate.LinkInvite, accountID, now)
	for _, l := range links {
		l.TokenHash = nil
	}
	return links, mapError(err)
}

// CancelInvitation marks the account's pending invitation as used, with its record rec.
// The link is locked before the account, as in AcceptInvite, so that the two wait for each
// other in one order only.
func (db *DB) CancelInvitation(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	if err := iogate.CheckInvitationCancelRecord(rec); err != nil {
		return err
	}
	if !storable(id) || !storable(rec.AccountID) {
		return iogate.ErrInvitationNotPending
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE user_links SET used_at = $1
			WHERE id = $2 AND account_id = $3 AND purpose = $4 AND used_at IS NULL AND expires_at > $1`,
			rec.Time, id, rec.AccountID, iogate.LinkInvite)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return iogate.ErrInvitationNotPending
		}
		if err := lockAccounts(ctx, tx, rec.AccountID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// pendingInvitationsByQuery selects linkColumns of the invitations that the user $3 (of
// actor type $2) created and that are unused and valid at $4.
const pendingInvitationsByQuery = `SELECT ` + linkColumns + ` FROM user_links
	WHERE purpose = $1 AND created_by_type = $2 AND created_by_id = $3 AND used_at IS NULL AND expires_at > $4
	ORDER BY email, created_at`

// lockInvitationsBy locks, inside tx, the invitations that the user userID created and that
// are unused and valid at now. A removal or demotion calls it before it locks the
// account, because AcceptInvite locks a link before its account, and the reverse order
// could deadlock with it.
func lockInvitationsBy(ctx context.Context, tx pgx.Tx, userID string, now time.Time) error {
	_, err := tx.Exec(ctx, pendingInvitationsByQuery+` FOR UPDATE`, iogate.LinkInvite, iogate.ActorUser, userID, now)
	return err
}

// cancelInvitationsBy cancels, inside tx, the invitations that the user userID created and
// that are unused and valid at cause.Time, cause being the record of the user's removal or
// demotion. Each gets the record that iogate.InvitationCancelledBy makes with reason.
func cancelInvitationsBy(ctx context.Context, tx pgx.Tx, userID string, cause *iogate.AuditRecord, reason string) error {
	links, err := queryUserLinks(ctx, tx, pendingInvitationsByQuery, iogate.LinkInvite, iogate.ActorUser, userID, cause.Time)
	if err != nil {
		return err
	}
	appender := newAuditAppender(tx)
	for _, l := range links {
		rec, err := iogate.InvitationCancelledBy(cause, l, reason)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE user_links SET used_at = $1 WHERE token_hash = $2`, cause.Time, l.TokenHash); err != nil {
			return err
		}
		if err := appender.append(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}
