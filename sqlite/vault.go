package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/iogate/iogate"
)

// CreateVault inserts a new vault, records a change of its account's vaults and appends
// rec, its vault.created record, in the same transaction.
func (db *DB) CreateVault(ctx context.Context, v *iogate.Vault, rec *iogate.AuditRecord) error {
	_, _, err := db.CreateVaultOnce(ctx, v, "", rec)
	return err
}

// CreateVaultOnce creates v as CreateVault does, with idempotencyKey, unless the account
// has a vault created with that key: then it returns that vault and false. The writer's
// immediate transactions run one at a time, across processes too, so the lookup and the
// insert see no concurrent creation in between.
func (db *DB) CreateVaultOnce(ctx context.Context, v *iogate.Vault, idempotencyKey string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	if err := iogate.CheckChangeRecord(rec, v.AccountID, iogate.AuditVaultCreated); err != nil {
		return nil, false, err
	}
	key := sql.NullString{String: idempotencyKey, Valid: idempotencyKey != ""}
	if key.Valid {
		if err := iogate.ValidateIdempotencyKey("idempotency key", idempotencyKey); err != nil {
			return nil, false, err
		}
	}
	var existing *iogate.Vault
	err := db.write(ctx, func(tx *sql.Tx) error {
		if key.Valid {
			found, err := scanVault(tx.QueryRowContext(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE account_id = ? AND idempotency_key = ?`, v.AccountID, key))
			if err == nil {
				existing = found
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO vaults (id, account_id, name, threshold, status, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.AccountID, v.Name, v.Threshold, v.Status, toMicros(v.CreatedAt), key)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO key_changes (client_id, kind, account_id, changed_at) VALUES ('', ?, ?, ?)`,
			iogate.ChangeVaults, v.AccountID, toMicros(db.now()))
		if err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
	if err != nil {
		return nil, false, err
	}
	if existing != nil {
		return existing, false, nil
	}
	return v, true, nil
}

const vaultColumns = `id, account_id, name, threshold, status, created_at`

func scanVault(row interface{ Scan(...any) error }) (*iogate.Vault, error) {
	var v iogate.Vault
	var created int64
	if err := row.Scan(&v.ID, &v.AccountID, &v.Name, &v.Threshold, &v.Status, &created); err != nil {
		return nil, err
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}

// FindVault returns the account's vault, or CodeNotFound.
func (db *DB) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	v, err := scanVault(db.reader.QueryRowContext(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE id = ? AND account_id = ?`, id, accountID))
	if err != nil {
		return nil, mapError(err)
	}
	return v, nil
}

// ListVaults returns one page of an account's vaults in ID order, which is creation order
// because vault IDs are time-ordered UUIDs. The cursor is the last ID of the page.
func (db *DB) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	limit := pageLimit(page)
	// Vault IDs are valid UTF-8 without NUL bytes, so no page returns another cursor; the
	// PostgreSQL store cannot even compare one.
	if !utf8.ValidString(page.Cursor) || strings.ContainsRune(page.Cursor, 0) {
		return nil, "", iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, page.Cursor, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	defer rows.Close()
	var out []*iogate.Vault
	for rows.Next() {
		v, err := scanVault(rows)
		if err != nil {
			return nil, "", mapError(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
