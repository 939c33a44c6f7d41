package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const userColumns = `id, account_id, email, role, password_hash, totp_seed_sealed, totp_enabled, created_at, updated_at`

func scanUser(row pgx.Row) (*iogate.User, error) {
	var u iogate.User
	var role string
	var created, updated time.Time
	if err := row.Scan(&u.ID, &u.AccountID, &u.Email, &role, &u.PasswordHash, &u.TOTPSeedSealed, &u.TOTPEnabled, &created, &updated); err != nil {
		return nil, err
	}
	u.Role = iogate.Role(role)
	u.CreatedAt, u.UpdatedAt = created.UTC(), updated.UTC()
	return &u, nil
}

var errUserNotFound = iogate.Errorf(iogate.CodeNotFound, "user not found")

// CreateUser inserts a user, or returns CodeConflict when the email is taken.
func (db *DB) CreateUser(ctx context.Context, u *iogate.User) error {
	return db.write(ctx, func(tx pgx.Tx) error { return insertUser(ctx, tx, u) })
}

func insertUser(ctx context.Context, tx pgx.Tx, u *iogate.User) error {
	_, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.AccountID, u.Email, string(u.Role), u.PasswordHash, u.TOTPSeedSealed, u.TOTPEnabled, u.CreatedAt, u.UpdatedAt)
	return err
}

// FindUserByID returns the user, or CodeNotFound.
func (db *DB) FindUserByID(ctx context.Context, id string) (*iogate.User, error) {
	if !storable(id) {
		return nil, errUserNotFound
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, mapError(err)
}

// FindUserByEmail returns the user with the lower-case email, or CodeNotFound.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*iogate.User, error) {
	if !storable(email) {
		return nil, errUserNotFound
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	return u, mapError(err)
}

// ListUsers returns an account's users ordered by email.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*iogate.User, error) {
	if !storable(accountID) {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = $1 ORDER BY email`, accountID)
	if err != nil {
		return nil, mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.User, error) { return scanUser(r) })
	return out, mapError(err)
}

// SetUserRole stores the user's role, or returns CodeNotFound. A role that may not manage
// users cancels the user's pending invitations.
func (db *DB) SetUserRole(ctx context.Context, userID string, role iogate.Role, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUserCancelling(ctx, userID, iogate.AuditUserRoleChanged, rec, iogate.RoleChangeCancelReason(role), func(tx pgx.Tx, _ *iogate.User) error {
		_, err := tx.Exec(ctx, `UPDATE users SET role = $1, updated_at = $2 WHERE id = $3`, string(role), at, userID)
		return err
	})
}

// SetUserTOTPSeed stores the seed of a TOTP enrolment while TOTP is off.
func (db *DB) SetUserTOTPSeed(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	return db.updateUser(ctx, userID, `totp_seed_sealed = $1, updated_at = $2`, []any{sealed, at}, `NOT totp_enabled`)
}

// EnableUserTOTP turns TOTP on and stores the recovery codes, if sealed is still the seed
// of the enrolment in progress.
func (db *DB) EnableUserTOTP(ctx context.Context, userID string, sealed []byte, hashes [][]byte, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserTOTPEnabled, rec, func(tx pgx.Tx, u *iogate.User) error {
		if !u.EnrollingWith(sealed) {
			return iogate.ErrUserChanged
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_enabled = TRUE, updated_at = $1 WHERE id = $2`, at, userID); err != nil {
			return err
		}
		return storeRecoveryCodes(ctx, tx, userID, hashes)
	})
}

// DisableUserTOTP turns TOTP off and deletes the seed and the recovery codes.
func (db *DB) DisableUserTOTP(ctx context.Context, userID string, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserTOTPDisabled, rec, func(tx pgx.Tx, _ *iogate.User) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_enabled = FALSE, totp_seed_sealed = NULL, updated_at = $1 WHERE id = $2`, at, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
		return err
	})
}

// updateUser sets, in one statement, only the columns that set names, so that it cannot
// undo a change that another request made to other columns meanwhile. set numbers its
// parameters from $1, the user ID is the next one, and cond's parameters follow it. cond,
// when not empty, is an extra condition on the row. A user that exists but does not meet
// it is iogate.ErrUserChanged, and an unknown user CodeNotFound.
func (db *DB) updateUser(ctx context.Context, userID, set string, setArgs []any, cond string, condArgs ...any) error {
	if !storable(userID) {
		return errUserNotFound
	}
	query := `UPDATE users SET ` + set + ` WHERE id = $` + strconv.Itoa(len(setArgs)+1)
	if cond != "" {
		query += ` AND ` + cond
	}
	args := append(append(setArgs, userID), condArgs...)
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		err = requireOneRow(tag, err, "user")
		if iogate.ErrorCodeOf(err) != iogate.CodeNotFound || cond == "" {
			return err
		}
		var exists int
		switch err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1`, userID).Scan(&exists); {
		case errors.Is(err, pgx.ErrNoRows):
			return errUserNotFound
		case err != nil:
			return err
		}
		return iogate.ErrUserChanged
	})
}

// DeleteUser deletes the user; the foreign keys cascade to sessions and recovery codes. It
// cancels the user's pending invitations.
func (db *DB) DeleteUser(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	return db.changeUserCancelling(ctx, id, iogate.AuditUserRemoved, rec, iogate.InvitationInviterRemoved, func(tx pgx.Tx, _ *iogate.User) error {
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
}

// UseTOTPStep records an accepted TOTP time step unless it or a later one was used.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return iogate.Errorf(iogate.CodeConflict, "this code was already used; wait for the next one")
		}
		return nil
	})
}

// requireOneRow turns an update or delete that matched no row into CodeNotFound.
func requireOneRow(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return iogate.Errorf(iogate.CodeNotFound, "%s not found", what)
	}
	return nil
}

// SetAccountStatus sets the status, records a key change for every key of the account and
// appends rec, in one transaction.
func (db *DB) SetAccountStatus(ctx context.Context, accountID, status string, rec *iogate.AuditRecord) error {
	if err := iogate.CheckAccountStatusRecord(rec, accountID, status); err != nil {
		return err
	}
	// The reserved account of the signing-key log is not found, like a missing one.
	if accountID == iogate.SigningKeyLogID {
		return iogate.Errorf(iogate.CodeNotFound, "account not found")
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		// The lock also serialises rec's append with other appends to the account's chain.
		if err := lockAccounts(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET status = $1 WHERE id = $2`, status, accountID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT client_id FROM api_keys WHERE account_id = $1 ORDER BY client_id`, accountID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := db.recordChange(ctx, tx, id); err != nil {
				return err
			}
		}
		if status == iogate.AccountSuspended {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
				return err
			}
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// SuspendedAccounts returns the IDs of every suspended account.
func (db *DB) SuspendedAccounts(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM accounts WHERE status = $1 ORDER BY id`, iogate.AccountSuspended)
	if err != nil {
		return nil, mapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, mapError(err)
}

// AccountRequiresTOTP reports whether the account makes its users enrol in TOTP.
func (db *DB) AccountRequiresTOTP(ctx context.Context, accountID string) (bool, error) {
	if !storable(accountID) {
		return false, iogate.Errorf(iogate.CodeNotFound, "account not found")
	}
	var require bool
	err := db.pool.QueryRow(ctx, `SELECT require_totp FROM accounts WHERE id = $1`, accountID).Scan(&require)
	return require, mapError(err)
}

// SetAccountRequireTOTP changes whether the account makes its users enrol in TOTP, and
// appends rec.
func (db *DB) SetAccountRequireTOTP(ctx context.Context, accountID string, require bool, rec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(rec, accountID, iogate.AuditAccountPolicyChanged); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := lockAccounts(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET require_totp = $1 WHERE id = $2`, require, accountID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// ReplaceRecoveryCodes deletes the user's recovery codes and stores the new hashes, while
// TOTP is on with the seed sealed. The user's row lock makes a concurrent DisableUserTOTP
// wait for this transaction, whose codes it then deletes, or commit first, so that this
// one finds TOTP off.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, sealed []byte, hashes [][]byte, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserRecoveryCodesReplaced, rec, func(tx pgx.Tx, u *iogate.User) error {
		if !u.TOTPOnWith(sealed) {
			return iogate.ErrUserChanged
		}
		return storeRecoveryCodes(ctx, tx, userID, hashes)
	})
}

// UseRecoveryCode marks the user's unused code with the hash as used.
func (db *DB) UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL`,
			now, userID, hash)
		return requireOneRow(tag, err, "recovery code")
	})
}

// CountRecoveryCodes returns how many unused recovery codes the user has.
func (db *DB) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	return n, mapError(err)
}
