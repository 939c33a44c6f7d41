package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/iogate/iogate"
)

// changeUser runs change on the user userID and appends rec, the change's record of event,
// in one immediate transaction. change gets the user's ID, account and TOTP fields. It
// returns CodeNotFound for an unknown user and CodeInternal, before change runs, when rec
// is not a record of event for the user's account.
func (db *DB) changeUser(ctx context.Context, userID, event string, rec *iogate.AuditRecord, change func(tx *sql.Tx, u *iogate.User) error) error {
	return db.changeUserCancelling(ctx, userID, event, rec, "", change)
}

// changeUserCancelling does what changeUser does. When reason is not empty, the same
// transaction then cancels the user's pending invitations (cancelInvitationsBy), with
// records appended after rec.
func (db *DB) changeUserCancelling(ctx context.Context, userID, event string, rec *iogate.AuditRecord, reason string,
	change func(tx *sql.Tx, u *iogate.User) error) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		u := &iogate.User{ID: userID}
		err := tx.QueryRowContext(ctx, `SELECT account_id, totp_enabled, totp_seed_sealed FROM users WHERE id = ?`, userID).
			Scan(&u.AccountID, &u.TOTPEnabled, &u.TOTPSeedSealed)
		if errors.Is(err, sql.ErrNoRows) {
			return iogate.Errorf(iogate.CodeNotFound, "user not found")
		}
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, u.AccountID, event); err != nil {
			return err
		}
		if err := change(tx, u); err != nil {
			return err
		}
		if err := newAuditAppender(tx).append(ctx, rec); err != nil {
			return err
		}
		if reason == "" {
			return nil
		}
		return cancelInvitationsBy(ctx, tx, userID, rec, reason)
	})
}

// storeRecoveryCodes replaces the user's recovery codes with hashes inside tx.
func storeRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, hashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}
