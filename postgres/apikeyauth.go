package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// AllAPIKeyAuth calls fn for every key, in no particular order, with the columns that
// authentication reads; without an ORDER BY, PostgreSQL reads the table sequentially. Keys
// of one account share one AccountID string and keys with the same scopes one slice, so
// that a server holding a million keys does not hold a million copies of them.
func (db *DB) AllAPIKeyAuth(ctx context.Context, fn func(*iogate.APIKeyAuth) error) error {
	rows, err := db.pool.Query(ctx, `SELECT client_id, account_id, scopes, allowed_ips, expires_at, secret_hash,
		secret_generation, prev_secret_hash, prev_generation, prev_expires_at FROM api_keys`)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	accounts := map[string]string{}
	scopeLists := map[string][]string{}
	var a iogate.APIKeyAuth
	for rows.Next() {
		var accountID, scopes, allowed string
		var expires, prevExpires *time.Time
		var prevGen *int
		var hash, prevHash []byte
		if err := rows.Scan(&a.ClientID, &accountID, &scopes, &allowed, &expires, &hash, &a.SecretGeneration,
			&prevHash, &prevGen, &prevExpires); err != nil {
			return mapError(err)
		}
		if len(hash) != len(a.SecretHash) {
			return fmt.Errorf("key %s: stored secret hash has %d bytes", a.ClientID, len(hash))
		}
		copy(a.SecretHash[:], hash)
		if shared, ok := accounts[accountID]; ok {
			accountID = shared
		} else {
			accounts[accountID] = accountID
		}
		a.AccountID = accountID
		list, ok := scopeLists[scopes]
		if !ok {
			list = strings.Fields(scopes)
			scopeLists[scopes] = list
		}
		a.Scopes = list
		a.AllowedIPs = nil
		if allowed != "" {
			if a.AllowedIPs, err = parsePrefixes(allowed); err != nil {
				return fmt.Errorf("key %s: %w", a.ClientID, err)
			}
		}
		a.ExpiresAt = fromNullTime(expires)
		a.Previous = nil
		if prevGen != nil && len(prevHash) == len(a.SecretHash) {
			a.Previous = &iogate.PreviousSecret{Generation: *prevGen, ExpiresAt: fromNullTime(prevExpires)}
			copy(a.Previous.Hash[:], prevHash)
		}
		if err := fn(&a); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}
