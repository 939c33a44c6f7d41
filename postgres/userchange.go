package postgres

import (
	"context"
	"errors"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// changeUser runs change on the user userID and appends rec, the change's record of event,
// in one transaction. change gets the user's ID, account and TOTP fields. It returns
// CodeNotFound for an unknown user and CodeInternal, before change runs, when rec is not a
// record of event for the user's account.
//
// It locks the account before the user, as ResetPassword does, so that two changes cannot
// wait for each other in a cycle. The account lock serialises the append with the other
// appends to the account's chain. The user's row lock makes concurrent changes of one
// user, such as turning TOTP off while codes are replaced, run one after the other. Being
// FOR NO KEY UPDATE, it lets sessions that reference the user be inserted meanwhile.
func (db *DB) changeUser(ctx context.Context, userID, event string, rec *iogate.AuditRecord, change func(tx pgx.Tx, u *iogate.User) error) error {
	return db.changeUserCancelling(ctx, userID, event, rec, "", change)
}

// changeUserCancelling does what changeUser does. When reason is not empty, the same
// transaction then cancels the user's pending invitations (cancelInvitationsBy), with
// records appended after rec. It locks those invitations before the account, as
// lockInvitationsBy explains.
func (db *DB) changeUserCancelling(ctx context.Context, userID, event string, rec *iogate.AuditRecord, reason string,
	change func(tx pgx.Tx, u *iogate.User) error) error {
	if !storable(userID) {
		return errUserNotFound
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		// A user's account never changes, so it can be read before the locks are taken.
		var accountID string
		err := tx.QueryRow(ctx, `SELECT account_id FROM users WHERE id = $1`, userID).Scan(&accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errUserNotFound
		}
		if err != nil {
			return err
		}
		if err := iogate.CheckChangeRecord(rec, accountID, event); err != nil {
			return err
		}
		if reason != "" {
			if err := lockInvitationsBy(ctx, tx, userID, rec.Time); err != nil {
				return err
			}
		}
		if err := lockAccounts(ctx, tx, accountID); err != nil {
			return err
		}
		u := &iogate.User{ID: userID, AccountID: accountID}
		err = tx.QueryRow(ctx, `SELECT totp_enabled, totp_seed_sealed FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).
			Scan(&u.TOTPEnabled, &u.TOTPSeedSealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return errUserNotFound
		}
		if err != nil {
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
func storeRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}
