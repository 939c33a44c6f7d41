package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/iogate/iogate"
)

const userColumns = `id, account_id, email, role, password_hash, totp_seed_sealed, totp_enabled, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (*iogate.User, error) {
	var u iogate.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.AccountID, &u.Email, &role, &u.PasswordHash, &u.TOTPSeedSealed, &u.TOTPEnabled, &created, &updated); err != nil {
		return nil, err
	}
	u.Role = iogate.Role(role)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// CreateUser inserts a user, or returns CodeConflict when the email is taken.
func (db *DB) CreateUser(ctx context.Context, u *iogate.User) error {
	return db.write(ctx, func(tx *sql.Tx) error { return insertUser(ctx, tx, u) })
}

func insertUser(ctx context.Context, tx *sql.Tx, u *iogate.User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, u.Email, string(u.Role), u.PasswordHash, u.TOTPSeedSealed, u.TOTPEnabled, toMicros(u.CreatedAt), toMicros(u.UpdatedAt))
	return err
}

// FindUserByID returns the user, or CodeNotFound.
func (db *DB) FindUserByID(ctx context.Context, id string) (*iogate.User, error) {
	u, err := scanUser(db.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, mapError(err)
}

// FindUserByEmail returns the user with the lower-case email, or CodeNotFound.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (*iogate.User, error) {
	u, err := scanUser(db.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, mapError(err)
}

// ListUsers returns an account's users ordered by email.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*iogate.User, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = ? ORDER BY email`, accountID)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []*iogate.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapError(err)
		}
		out = append(out, u)
	}
	return out, mapError(rows.Err())
}

// SetUserRole stores the user's role, or returns CodeNotFound. A role that may not manage
// users cancels the user's pending invitations.
func (db *DB) SetUserRole(ctx context.Context, userID string, role iogate.Role, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUserCancelling(ctx, userID, iogate.AuditUserRoleChanged, rec, iogate.RoleChangeCancelReason(role), func(tx *sql.Tx, _ *iogate.User) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(role), toMicros(at), userID)
		return err
	})
}

// SetUserTOTPSeed stores the seed of a TOTP enrolment while TOTP is off.
func (db *DB) SetUserTOTPSeed(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	return db.updateUser(ctx, userID, `totp_seed_sealed = ?, updated_at = ?`, []any{sealed, toMicros(at)}, `totp_enabled = 0`)
}

// EnableUserTOTP turns TOTP on and stores the recovery codes, if sealed is still the seed
// of the enrolment in progress.
func (db *DB) EnableUserTOTP(ctx context.Context, userID string, sealed []byte, hashes [][]byte, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserTOTPEnabled, rec, func(tx *sql.Tx, u *iogate.User) error {
		if !u.EnrollingWith(sealed) {
			return iogate.ErrUserChanged
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_enabled = 1, updated_at = ? WHERE id = ?`, toMicros(at), userID); err != nil {
			return err
		}
		return storeRecoveryCodes(ctx, tx, userID, hashes)
	})
}

// DisableUserTOTP turns TOTP off and deletes the seed and the recovery codes.
func (db *DB) DisableUserTOTP(ctx context.Context, userID string, at time.Time, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserTOTPDisabled, rec, func(tx *sql.Tx, _ *iogate.User) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_enabled = 0, totp_seed_sealed = NULL, updated_at = ? WHERE id = ?`,
			toMicros(at), userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID)
		return err
	})
}

// updateUser sets, in one statement, only the columns that set names, so that it cannot
// undo a change that another request made to other columns meanwhile. cond, when not
// empty, is an extra condition on the row. A user that exists but does not meet it is
// CodeConflict, and an unknown user CodeNotFound.
func (db *DB) updateUser(ctx context.Context, userID, set string, setArgs []any, cond string, condArgs ...any) error {
	query := `UPDATE users SET ` + set + ` WHERE id = ?`
	if cond != "" {
		query += ` AND ` + cond
	}
	args := append(append(setArgs, userID), condArgs...)
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		err = requireOneRow(res, err, "user")
		if iogate.ErrorCodeOf(err) != iogate.CodeNotFound || cond == "" {
			return err
		}
		var exists int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&exists); {
		case errors.Is(err, sql.ErrNoRows):
			return iogate.Errorf(iogate.CodeNotFound, "user not found")
		case err != nil:
			return err
		}
		return iogate.ErrUserChanged
	})
}

// DeleteUser deletes the user; the foreign keys cascade to sessions and recovery codes. It
// cancels the user's pending invitations.
func (db *DB) DeleteUser(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	return db.changeUserCancelling(ctx, id, iogate.AuditUserRemoved, rec, iogate.InvitationInviterRemoved, func(tx *sql.Tx, _ *iogate.User) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
}

// UseTOTPStep records an accepted TOTP time step unless it or a later one was used.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, userID, step)
		return requireRow(res, err, iogate.Errorf(iogate.CodeConflict, "this code was already used; wait for the next one"))
	})
}

// requireOneRow turns an update or delete that matched no row into CodeNotFound.
func requireOneRow(res sql.Result, err error, what string) error {
	return requireRow(res, err, iogate.Errorf(iogate.CodeNotFound, "%s not found", what))
}

// requireRow returns err, or none when the statement whose result is res changed no row.
func requireRow(res sql.Result, err, none error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// SetAccountStatus sets the status, records a key change for every key of the account and
// appends rec, in one transaction.
func (db *DB) SetAccountStatus(ctx context.Context, accountID, status string, rec *iogate.AuditRecord) error {
	if err := iogate.CheckAccountStatusRecord(rec, accountID, status); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		// The reserved account of the signing-key log is not found, like a missing one.
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET status = ? WHERE id = ? AND id <> ?`, status, accountID, iogate.SigningKeyLogID)
		if err := requireOneRow(res, err, "account"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_changes (client_id, changed_at) SELECT client_id, ? FROM api_keys WHERE account_id = ? ORDER BY client_id`,
			toMicros(db.now()), accountID); err != nil {
			return err
		}
		if status == iogate.AccountSuspended {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID); err != nil {
				return err
			}
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// SuspendedAccounts returns the IDs of every suspended account.
func (db *DB) SuspendedAccounts(ctx context.Context) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT id FROM accounts WHERE status = ? ORDER BY id`, iogate.AccountSuspended)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapError(err)
		}
		out = append(out, id)
	}
	return out, mapError(rows.Err())
}

// AccountRequiresTOTP reports whether the account makes its users enrol in TOTP.
func (db *DB) AccountRequiresTOTP(ctx context.Context, accountID string) (bool, error) {
	var require bool
	err := db.reader.QueryRowContext(ctx, `SELECT require_totp FROM accounts WHERE id = ?`, accountID).Scan(&require)
	return require, mapError(err)
}

// SetAccountRequireTOTP changes whether the account makes its users enrol in TOTP, and
// appends rec.
func (db *DB) SetAccountRequireTOTP(ctx context.Context, accountID string, require bool, rec *iogate.AuditRecord) error {
	if err := iogate.CheckChangeRecord(rec, accountID, iogate.AuditAccountPolicyChanged); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET require_totp = ? WHERE id = ?`, require, accountID)
		if err := requireOneRow(res, err, "account"); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// ReplaceRecoveryCodes deletes the user's recovery codes and stores the new hashes, while
// TOTP is on with the seed sealed. The immediate transaction keeps DisableUserTOTP from
// committing between the check and the inserts.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, sealed []byte, hashes [][]byte, rec *iogate.AuditRecord) error {
	return db.changeUser(ctx, userID, iogate.AuditUserRecoveryCodesReplaced, rec, func(tx *sql.Tx, u *iogate.User) error {
		if !u.TOTPOnWith(sealed) {
			return iogate.ErrUserChanged
		}
		return storeRecoveryCodes(ctx, tx, userID, hashes)
	})
}

// UseRecoveryCode marks the user's unused code with the hash as used.
func (db *DB) UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`,
			toMicros(now), userID, hash)
		return requireOneRow(res, err, "recovery code")
	})
}

// CountRecoveryCodes returns how many unused recovery codes the user has.
func (db *DB) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	return n, mapError(err)
}
