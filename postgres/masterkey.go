package postgres

import (
	"context"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// ResealSecrets replaces every sealed secret, signing private key and TOTP seed with what
// reseal returns, in one transaction, so that a failure leaves every value as it was. The
// rows are locked while it runs, so a concurrent reseal waits rather than interleaves.
func (db *DB) ResealSecrets(ctx context.Context, reseal func(iogate.SealedValue) ([]byte, error)) (int, error) {
	n := 0
	err := db.write(ctx, func(tx pgx.Tx) error {
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
			query := `UPDATE sealed_secrets SET sealed = $1 WHERE name = $2`
			if v.Kind == iogate.SealedKindSigningKey {
				query = `UPDATE signing_keys SET private_key_sealed = $1 WHERE kid = $2`
			}
			if v.Kind == iogate.SealedKindTOTPSeed {
				query = `UPDATE users SET totp_seed_sealed = $1 WHERE id = $2`
			}
			if _, err := tx.Exec(ctx, query, sealed, v.Name); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// sealedValues reads and locks every sealed value inside tx, secrets first.
func sealedValues(ctx context.Context, tx pgx.Tx) ([]iogate.SealedValue, error) {
	var out []iogate.SealedValue
	for _, q := range []struct{ kind, query string }{
		{iogate.SealedKindSecret, `SELECT name, sealed FROM sealed_secrets ORDER BY name FOR UPDATE`},
		{iogate.SealedKindSigningKey, `SELECT kid, private_key_sealed FROM signing_keys ORDER BY kid FOR UPDATE`},
		{iogate.SealedKindTOTPSeed, `SELECT id, totp_seed_sealed FROM users WHERE totp_seed_sealed IS NOT NULL ORDER BY id FOR UPDATE`},
	} {
		rows, err := tx.Query(ctx, q.query)
		if err != nil {
			return nil, err
		}
		values, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (iogate.SealedValue, error) {
			v := iogate.SealedValue{Kind: q.kind}
			err := r.Scan(&v.Name, &v.Sealed)
			return v, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, values...)
	}
	return out, nil
}
