package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/iogate/iogate"
)

// SealedSecret returns a server secret encrypted under the master key, or CodeNotFound.
func (db *DB) SealedSecret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := db.reader.QueryRowContext(ctx, `SELECT sealed FROM sealed_secrets WHERE name = ?`, name).Scan(&sealed)
	return sealed, mapError(err)
}

// PutSealedSecretIfAbsent stores a server secret unless one exists, and returns the stored one.
func (db *DB) PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	var stored []byte
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sealed_secrets (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, sealed, toMicros(db.now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT sealed FROM sealed_secrets WHERE name = ?`, name).Scan(&stored)
	})
	return stored, err
}

// SigningKeys returns every signing key, oldest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	return querySigningKeys(ctx, db.reader)
}

// SigningKeyLogCreatedAt returns the creation time of the reserved account of the
// signing-key log, or CodeNotFound when the account row is missing.
func (db *DB) SigningKeyLogCreatedAt(ctx context.Context) (time.Time, error) {
	var created int64
	err := db.reader.QueryRowContext(ctx, `SELECT created_at FROM accounts WHERE id = ?`, iogate.SigningKeyLogID).Scan(&created)
	if err != nil {
		return time.Time{}, mapError(err)
	}
	return fromMicros(created), nil
}

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func querySigningKeys(ctx context.Context, q querier) ([]*iogate.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT kid, algorithm, private_key_sealed, public_jwk, created_at, active_at, retired_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []*iogate.SigningKey
	for rows.Next() {
		var k iogate.SigningKey
		var jwk string
		var created, active int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.PrivateKeyEncrypted, &jwk, &created, &active, &retired); err != nil {
			return nil, mapError(err)
		}
		k.PublicJWK = []byte(jwk)
		k.CreatedAt, k.ActiveAt, k.RetiredAt = fromMicros(created), fromMicros(active), fromNullMicros(retired)
		out = append(out, &k)
	}
	return out, mapError(rows.Err())
}

// CreateSigningKey inserts a new signing key and records a signing-keys change and the
// key's signing_key.created records.
func (db *DB) CreateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		return db.recordSigningKeyChange(ctx, tx, record, iogate.SigningKeyChange{Event: iogate.AuditSigningKeyCreated, Key: k})
	})
}

// RotateSigningKey inserts k, retires at k.ActiveAt every key of k's algorithm that could
// still sign then, and records a signing-keys change and the rotation's audit records, all
// in one transaction. Keys of other algorithms keep signing for the servers configured
// with them. It fails as iogate.CheckRotationGap does, checked against the keys inside the
// transaction.
func (db *DB) RotateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		if err := iogate.CheckRotationGap(keys, k.Algorithm, k.CreatedAt, k.ActiveAt); err != nil {
			return err
		}
		at := toMicros(k.ActiveAt)
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE algorithm = ? AND (retired_at IS NULL OR retired_at > ?)`,
			at, k.Algorithm, at); err != nil {
			return err
		}
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		change := iogate.SigningKeyChange{Event: iogate.AuditSigningKeyRotated, Key: k, Retired: iogate.RetiringSigningKeys(keys, k.Algorithm, k.ActiveAt)}
		return db.recordSigningKeyChange(ctx, tx, record, change)
	})
}

// RetireSigningKeys retires at at every key of alg that could still sign then, records a
// signing-keys change and the retirement's audit records, and returns the retired keys,
// all in one transaction. It fails as iogate.SelectSigningKeysToRetire does.
func (db *DB) RetireSigningKeys(ctx context.Context, alg string, at time.Time, record iogate.SigningKeyRecorder) ([]*iogate.SigningKey, error) {
	var retired []*iogate.SigningKey
	err := db.write(ctx, func(tx *sql.Tx) error {
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		retired, err = iogate.SelectSigningKeysToRetire(keys, alg, at)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE algorithm = ? AND (retired_at IS NULL OR retired_at > ?)`,
			toMicros(at), alg, toMicros(at)); err != nil {
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
// sign and records a signing-keys change and the revocation's audit record, all in one
// transaction. It fails as iogate.PlanSigningKeyRevocation does.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, at time.Time, replacement *iogate.SigningKey,
	record iogate.SigningKeyRecorder) (revoked, inserted *iogate.SigningKey, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		keys, err := querySigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		revoked, inserted, err = iogate.PlanSigningKeyRevocation(keys, kid, at, replacement)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid); err != nil {
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

// recordSigningKeyChange records a signing-keys change on the change feed and appends the
// audit records that record returns for change to the signing-key log, inside tx.
func (db *DB) recordSigningKeyChange(ctx context.Context, tx *sql.Tx, record iogate.SigningKeyRecorder, change iogate.SigningKeyChange) error {
	records, err := iogate.RecordSigningKeyChange(record, change)
	if err != nil {
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

func insertSigningKey(ctx context.Context, tx *sql.Tx, k *iogate.SigningKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key_sealed, public_jwk, created_at, active_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.KID, k.Algorithm, k.PrivateKeyEncrypted, string(k.PublicJWK), toMicros(k.CreatedAt), toMicros(k.ActiveAt), nullMicros(k.RetiredAt))
	return err
}
