package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// CreateVault inserts a new vault, records a change of its account's vaults and appends
// rec, its vault.created record, in the same transaction.
func (db *DB) CreateVault(ctx context.Context, v *iogate.Vault, rec *iogate.AuditRecord) error {
	_, _, err := db.CreateVaultOnce(ctx, v, "", rec)
	return err
}

// CreateVaultOnce creates v as CreateVault does, with idempotencyKey, unless the account
// has a vault created with that key: then it returns that vault and false.
func (db *DB) CreateVaultOnce(ctx context.Context, v *iogate.Vault, idempotencyKey string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	if err := iogate.CheckChangeRecord(rec, v.AccountID, iogate.AuditVaultCreated); err != nil {
		return nil, false, err
	}
	var key *string
	if idempotencyKey != "" {
		if err := iogate.ValidateIdempotencyKey("idempotency key", idempotencyKey); err != nil {
			return nil, false, err
		}
		key = &idempotencyKey
	}
	var existing *iogate.Vault
	err := db.write(ctx, func(tx pgx.Tx) error {
		// The lock serializes the append with other writers of the account's chain, and
		// reports an unknown account as CodeNotFound before the insert. It also orders
		// creations with one key: at READ COMMITTED, the lookup below finds a vault that a
		// creation committed while this one waited for the lock.
		if err := lockAccounts(ctx, tx, v.AccountID); err != nil {
			return err
		}
		if key != nil {
			found, err := scanVault(tx.QueryRow(ctx, vaultByKeyQuery, v.AccountID, key))
			if err == nil {
				existing = found
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO vaults (id, account_id, name, threshold, status, created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			v.ID, v.AccountID, v.Name, v.Threshold, v.Status, v.CreatedAt, key)
		if err != nil {
			return err
		}
		if err := db.recordChangeOfKind(ctx, tx, iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: v.AccountID}); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
	if key != nil && iogate.ErrorCodeOf(err) == iogate.CodeConflict {
		// A database whose default isolation is REPEATABLE READ reads from a snapshot
		// taken before the lock was granted, so the lookup can miss a creation that
		// committed meanwhile. Then the unique index rejects the insert, and the vault that
		// holds the key is read here, after the transaction. SERIALIZABLE reports the clash
		// as a serialization failure instead, which is CodeUnavailable.
		found, findErr := scanVault(db.pool.QueryRow(ctx, vaultByKeyQuery, v.AccountID, key))
		if findErr == nil {
			return found, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	if existing != nil {
		return existing, false, nil
	}
	return v, true, nil
}

// errInvalidCursor is returned for a cursor that no page returned.
var errInvalidCursor = iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")

const vaultColumns = `id, account_id, name, threshold, status, created_at`

// vaultByKeyQuery selects the vault of an account ($1) created with an idempotency key ($2).
const vaultByKeyQuery = `SELECT ` + vaultColumns + ` FROM vaults WHERE account_id = $1 AND idempotency_key = $2`

func scanVault(row pgx.Row) (*iogate.Vault, error) {
	var v iogate.Vault
	var created time.Time
	if err := row.Scan(&v.ID, &v.AccountID, &v.Name, &v.Threshold, &v.Status, &created); err != nil {
		return nil, err
	}
	v.CreatedAt = created.UTC()
	return &v, nil
}

// FindVault returns the account's vault, or CodeNotFound.
func (db *DB) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	if !storable(id) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "vault not found")
	}
	v, err := scanVault(db.pool.QueryRow(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil {
		return nil, mapError(err)
	}
	return v, nil
}

// ListVaults returns one page of an account's vaults in ID order, which is creation order
// because vault IDs are time-ordered UUIDs. The cursor is the last ID of the page.
func (db *DB) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	limit := pageLimit(page)
	if !storable(page.Cursor) {
		return nil, "", errInvalidCursor
	}
	rows, err := db.pool.Query(ctx, `SELECT `+vaultColumns+` FROM vaults WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		accountID, page.Cursor, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.Vault, error) { return scanVault(r) })
	if err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
