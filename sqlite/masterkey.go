package sqlite

import (
	"context"
	"database/sql"

	"github.com/iogate/iogate"
)

// ResealSecrets replaces every sealed secret, signing private key and TOTP seed with what
// reseal returns, in one immediate transaction, so that a failure leaves every value as it
// was.
func (db *DB) ResealSecrets(ctx context.Context, reseal func(iogate.SealedValue) ([]byte, error)) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		values, err := sealedValues(ctx, tx)
		if err != nil {
			return err
		}
		for _, v := range values {
			sealed, err := reseal(v)
			if err != nil {
				return err
			}
			query := `UPDATE sealed_secrets SET sealed = ? WHERE name = ?`
			if v.Kind == iogate.SealedKindSigningKey {
				query = `UPDATE signing_keys SET private_key_sealed = ? WHERE kid = ?`
			}
			if v.Kind == iogate.SealedKindTOTPSeed {
				query = `UPDATE users SET totp_seed_sealed = ? WHERE id = ?`
			}
			if _, err := tx.ExecContext(ctx, query, sealed, v.Name); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// sealedValues reads every sealed value inside tx, secrets first.
func sealedValues(ctx context.Context, tx *sql.Tx) ([]iogate.SealedValue, error) {
	var out []iogate.SealedValue
	for _, q := range []struct{ kind, query string }{
		{iogate.SealedKindSecret, `SELECT name, sealed FROM sealed_secrets ORDER BY name`},
		{iogate.SealedKindSigningKey, `SELECT kid, private_key_sealed FROM signing_keys ORDER BY kid`},
		{iogate.SealedKindTOTPSeed, `SELECT id, totp_seed_sealed FROM users WHERE totp_seed_sealed IS NOT NULL ORDER BY id`},
	} {
		rows, err := tx.QueryContext(ctx, q.query)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			v := iogate.SealedValue{Kind: q.kind}
			if err := rows.Scan(&v.Name, &v.Sealed); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, v)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
