package postgres

import (
	"context"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// SealedSecret returns a server secret encrypted under the master key, or CodeNotFound.
func (db *DB) SealedSecret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := db.pool.QueryRow(ctx, `SELECT sealed FROM sealed_secrets WHERE name = $1`, name).Scan(&sealed)
	return sealed, mapError(err)
}

// PutSealedSecretIfAbsent stores a server secret unless one exists, and returns the stored
// one. Nodes that start together on an empty database all get the first one stored.
func (db *DB) PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	var stored []byte
	err := db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sealed_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
			name, sealed, db.now()); err != nil {
			return err
		}
		// In READ COMMITTED this statement sees the row that a concurrent transaction
		// committed, which made the INSERT above do nothing.
		return tx.QueryRow(ctx, `SELECT sealed FROM sealed_secrets WHERE name = $1`, name).Scan(&stored)
	})
	return stored, err
}

// SigningKeys returns every signing key, oldest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	return querySigningKeys(ctx, db.pool)
}

// SigningKeyLogCreatedAt returns the creation time of the reserved account of the
// signing-key log, or CodeNotFound when the account row is missing.
func (db *DB) SigningKeyLogCreatedAt(ctx context.Context) (time.Time, error) {
	var created time.Time
	err := db.pool.QueryRow(ctx, `SELECT created_at FROM accounts WHERE id = $1`, iogate.SigningKeyLogID).Scan(&created)
	if err != nil {
		return time.Time{}, mapError(err)
	}
	return created.UTC(), nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func querySigningKeys(ctx context.Context, q querier) ([]*iogate.SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT kid, algorithm, private_key_sealed, public_jwk, created_at, active_at, retired_at
		FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.SigningKey, error) {
		var k iogate.SigningKey
		var jwk string
		var created, active time.Time
		var retired *time.Time
		if err := r.Scan(&k.KID, &k.Algorithm, &k.PrivateKeyEncrypted, &jwk, &created, &active, &retired); err != nil {
			return nil, err
		}
		k.PublicJWK = []byte(jwk)
		k.CreatedAt, k.ActiveAt, k.RetiredAt = created.UTC(), active.UTC(), fromNullTime(retired)
		return &k, nil
	})
	return out, mapError(err)
}

// CreateSigningKey inserts a new signing key, announces the change on the change feed and
// appends the key's signing_key.created records, all in one transaction.
func (db *DB) CreateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		return db.recordSigningKeyChange(ctx, tx, record, iogate.SigningKeyChange{Event: iogate.AuditSigningKeyCreated, Key: k})
	})
}

// RotateSigningKey inserts k and, in the same transaction, retires at k.ActiveAt every key
// of k's algorithm not yet retired by then, announces the change on the change feed and
// appends the rotation's audit records. Keys of other algorithms keep signing for the
// servers configured with them. It fails as iogate.CheckRotationGap does, checked against
// the keys inside the transaction.
func (db *DB) RotateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		// The lock makes retirements and revocations on other nodes wait, so that a
		// retirement cannot commit between the check below and the update.
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		if err := iogate.CheckRotationGap(keys, k.Algorithm, k.CreatedAt, k.ActiveAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE algorithm = $2 AND (retired_at IS NULL OR retired_at > $1)`,
			k.ActiveAt, k.Algorithm); err != nil {
			return err
		}
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		change := iogate.SigningKeyChange{Event: iogate.AuditSigningKeyRotated, Key: k, Retired: iogate.RetiringSigningKeys(keys, k.Algorithm, k.ActiveAt)}
		return db.recordSigningKeyChange(ctx, tx, record, change)
	})
}

// RetireSigningKeys retires at at every key of alg that could still sign then, announces
// the change on the change feed, appends the retirement's audit records and returns the
// retired keys, all in one transaction. It fails as iogate.SelectSigningKeysToRetire does.
func (db *DB) RetireSigningKeys(ctx context.Context, alg string, at time.Time, record iogate.SigningKeyRecorder) ([]*iogate.SigningKey, error) {
	var retired []*iogate.SigningKey
	err := db.write(ctx, func(tx pgx.Tx) error {
		// The lock makes rotations and retirements on other nodes wait, so that two
		// retirements of different algorithms cannot each count on the other's keys.
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		retired, err = iogate.SelectSigningKeysToRetire(keys, alg, at)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE algorithm = $2 AND (retired_at IS NULL OR retired_at > $1)`,
			at, alg); err != nil {
			return err
		}
		return db.recordSigningKeyChange(ctx, tx, record, iogate.SigningKeyChange{Event: iogate.AuditSigningKeyRetired, Retired: retired})
	})
	if err != nil {
		return nil, err
	}
	return retired, nil
}

// RevokeSigningKey deletes the signing key kid, inserts its replacement when it could still
// sign, announces the change on the change feed and appends the revocation's audit record,
// all in one transaction. It fails as iogate.PlanSigningKeyRevocation does.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, at time.Time, replacement *iogate.SigningKey,
	record iogate.SigningKeyRecorder) (revoked, inserted *iogate.SigningKey, err error) {
	err = db.write(ctx, func(tx pgx.Tx) error {
		// The lock makes rotations, retirements and revocations on other nodes wait, so that
		// the plan below holds when the transaction commits: a rotation that retired the
		// key meanwhile would otherwise be copied into a replacement that signs too long.
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		revoked, inserted, err = iogate.PlanSigningKeyRevocation(keys, kid, at, replacement)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid); err != nil {
			return err
		}
		if inserted != nil {
			if err := insertSigningKey(ctx, tx, inserted); err != nil {
				return err
			}
		}
		change := iogate.SigningKeyChange{Event: iogate.AuditSigningKeyRevoked, Key: revoked, Replacement: inserted}
		return db.recordSigningKeyChange(ctx, tx, record, change)
	})
	if err != nil {
		return nil, nil, err
	}
	return revoked, inserted, nil
}

// recordSigningKeyChange announces a signing-keys change on the change feed and appends the
// audit records that record returns for change to the signing-key log, inside tx. It locks
// the log's account row last, after the transaction's locks on signing_keys. The other
// transactions that lock that row, the appends of exports and retention's pruning, take no
// lock on signing_keys, so no two transactions wait for each other in a cycle.
func (db *DB) recordSigningKeyChange(ctx context.Context, tx pgx.Tx, record iogate.SigningKeyRecorder, change iogate.SigningKeyChange) error {
	records, err := iogate.RecordSigningKeyChange(record, change)
	if err != nil {
		return err
	}
	if err := lockAccounts(ctx, tx, iogate.SigningKeyLogID); err != nil {
		return err
	}
	a := newAuditAppender(tx)
	for _, r := range records {
		if err := a.append(ctx, r); err != nil {
			return err
		}
	}
	return db.recordSigningKeysChange(ctx, tx)
}

func insertSigningKey(ctx context.Context, tx pgx.Tx, k *iogate.SigningKey) error {
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key_sealed, public_jwk, created_at, active_at, retired_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.KID, k.Algorithm, k.PrivateKeyEncrypted, string(k.PublicJWK), k.CreatedAt, k.ActiveAt, nullTime(k.RetiredAt))
	return err
}
