package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// CreateAPIKey inserts a new key, records a key change and appends the audit record rec
// in the same transaction.
func (db *DB) CreateAPIKey(ctx context.Context, k *iogate.APIKey, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		// The key's account is locked too, in case rec names another, so that the check
		// of its tombstones cannot miss a deletion that commits meanwhile.
		if err := lockAccounts(ctx, tx, rec.AccountID, k.AccountID); err != nil {
			return err
		}
		if err := useFormTokenOf(ctx, tx); err != nil {
			return err
		}
		if err := checkClientIDNotDeleted(ctx, tx, k.AccountID, k.ClientID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (client_id, account_id, name, description, scopes, allowed_ips,
			created_at, updated_at, expires_at, secret_hash, secret_generation, secret_created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			k.ClientID, k.AccountID, k.Name, k.Description, strings.Join(k.Scopes, " "), formatPrefixes(k.AllowedIPs),
			k.CreatedAt, k.UpdatedAt, nullTime(k.ExpiresAt), k.SecretHash[:], k.SecretGeneration, k.SecretCreatedAt)
		if err != nil {
			return err
		}
		if err := db.recordChange(ctx, tx, k.ClientID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// recordChange appends a key change and announces it on NotifyChannel. PostgreSQL
// delivers the notification only when the transaction commits, and not at all when it
// rolls back, so a listener never hears of a change it cannot read.
func (db *DB) recordChange(ctx context.Context, tx pgx.Tx, clientID string) error {
	return db.recordChangeOfKind(ctx, tx, iogate.KeyChange{ClientID: clientID, Kind: iogate.ChangeAPIKey})
}

// recordSigningKeysChange announces a change of the signing keys on the change feed.
func (db *DB) recordSigningKeysChange(ctx context.Context, tx pgx.Tx) error {
	return db.recordChangeOfKind(ctx, tx, iogate.KeyChange{Kind: iogate.ChangeSigningKeys})
}

// recordChangeOfKind appends c, numbered by the counter, and announces it.
func (db *DB) recordChangeOfKind(ctx context.Context, tx pgx.Tx, c iogate.KeyChange) error {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE key_change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return fmt.Errorf("number key change: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO key_changes (seq, client_id, kind, account_id, address, operator, changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		seq, c.ClientID, c.Kind, c.AccountID, c.Address, c.Operator, db.now()); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(seq, 10))
	return err
}

const apiKeyColumns = `client_id, account_id, name, description, scopes, allowed_ips, created_at, updated_at, expires_at,
	secret_hash, secret_generation, secret_created_at, prev_secret_hash, prev_generation, prev_rotated_at, prev_expires_at,
	prev_last_used_at, last_used_at, last_used_ip, exposed, exposed_at, exposed_generation`

func scanAPIKey(row pgx.Row) (*iogate.APIKey, error) {
	var k iogate.APIKey
	var scopes, allowed string
	var created, updated, secretCreated time.Time
	var expires, prevRotated, prevExpires, prevUsed, lastUsed, exposedAt *time.Time
	var hash, prevHash []byte
	var prevGen *int
	var lastIP *string
	if err := row.Scan(&k.ClientID, &k.AccountID, &k.Name, &k.Description, &scopes, &allowed, &created, &updated, &expires,
		&hash, &k.SecretGeneration, &secretCreated, &prevHash, &prevGen, &prevRotated, &prevExpires,
		&prevUsed, &lastUsed, &lastIP, &k.Exposed, &exposedAt, &k.ExposedGeneration); err != nil {
		return nil, err
	}
	if len(hash) != len(k.SecretHash) {
		return nil, fmt.Errorf("key %s: stored secret hash has %d bytes", k.ClientID, len(hash))
	}
	copy(k.SecretHash[:], hash)
	k.Scopes = strings.Fields(scopes)
	prefixes, err := parsePrefixes(allowed)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ClientID, err)
	}
	k.AllowedIPs = prefixes
	k.CreatedAt, k.UpdatedAt, k.SecretCreatedAt = created.UTC(), updated.UTC(), secretCreated.UTC()
	k.ExpiresAt = fromNullTime(expires)
	k.LastUsedAt = fromNullTime(lastUsed)
	k.ExposedAt = fromNullTime(exposedAt)
	if lastIP != nil {
		k.LastUsedIP = *lastIP
	}
	if prevGen != nil && len(prevHash) == len(k.SecretHash) {
		p := &iogate.PreviousSecret{
			Generation: *prevGen,
			RotatedAt:  fromNullTime(prevRotated),
			ExpiresAt:  fromNullTime(prevExpires),
			LastUsedAt: fromNullTime(prevUsed),
		}
		copy(p.Hash[:], prevHash)
		k.Previous = p
	}
	return &k, nil
}

// formatPrefixes stores an allowlist as space-separated prefixes, as the sqlite store does.
func formatPrefixes(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, " ")
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	fields := strings.Fields(s)
	out := make([]netip.Prefix, 0, len(fields))
	for _, f := range fields {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("stored allowed IP %q: %w", f, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// FindAPIKey returns the key, or CodeNotFound.
func (db *DB) FindAPIKey(ctx context.Context, clientID string) (*iogate.APIKey, error) {
	if !storable(clientID) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "API key not found")
	}
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE client_id = $1`, clientID))
	if err != nil {
		return nil, mapError(err)
	}
	return k, nil
}

// ListAPIKeys returns one page of an account's keys, oldest first. The cursor encodes the
// creation time in microseconds and the client ID of the page's last key, in the same
// form as the sqlite store's.
func (db *DB) ListAPIKeys(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.APIKey, string, error) {
	limit := pageLimit(page)
	afterTime, afterID, err := decodeKeyCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE account_id = $1 AND ($2::timestamptz IS NULL OR (created_at, client_id) > ($2, $3))
		ORDER BY created_at, client_id LIMIT $4`, accountID, afterTime, afterID, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeKeyCursor(last.CreatedAt.UnixMicro(), last.ClientID)
	}
	return out, next, nil
}

// The range of cursor times, well inside PostgreSQL's timestamp range: years 1 to 9999.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro()
)

func encodeKeyCursor(created int64, clientID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "/" + clientID))
}

// decodeKeyCursor returns the position after which a page starts; the empty cursor gives
// a nil time, which starts before every key.
func decodeKeyCursor(cursor string) (*time.Time, string, error) {
	if cursor == "" {
		return nil, "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		if t, id, ok := strings.Cut(string(raw), "/"); ok {
			if created, err := strconv.ParseInt(t, 10, 64); err == nil && storable(id) {
				// PostgreSQL's timestamps end in the year 294276; SQLite compares any
				// integer. Clamping keeps a far cursor meaning the same in both.
				at := time.UnixMicro(min(max(created, minCursorMicros), maxCursorMicros)).UTC()
				return &at, id, nil
			}
		}
	}
	return nil, "", iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
}

// AllAPIKeys calls fn for every key, in client ID order. The rows are read in one query,
// so fn must not use the store: the connection is busy until the query ends.
func (db *DB) AllAPIKeys(ctx context.Context, fn func(*iogate.APIKey) error) error {
	rows, err := db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY client_id`)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return mapError(err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}

// DeleteAPIKey deletes the key of rec.AccountID, stores its tombstone, records a key
// change and appends rec in the same transaction, or returns CodeNotFound.
func (db *DB) DeleteAPIKey(ctx context.Context, clientID string, rec *iogate.AuditRecord) error {
	if !storable(clientID) {
		return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q", clientID)
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := lockAccounts(ctx, tx, rec.AccountID); err != nil {
			if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
				return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", clientID)
			}
			return err
		}
		var current, previous []byte
		err := tx.QueryRow(ctx, `DELETE FROM api_keys WHERE client_id = $1 AND account_id = $2 RETURNING `+tombstoneHashColumns,
			clientID, rec.AccountID).Scan(&current, &previous)
		if errors.Is(err, pgx.ErrNoRows) {
			return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", clientID)
		}
		if err != nil {
			return err
		}
		if err := recordDeletedClientID(ctx, tx, rec.AccountID, clientID, rec.Time, current, previous); err != nil {
			return err
		}
		if err := db.recordChange(ctx, tx, clientID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

// DeletedAPIKeys calls fn for every tombstone and for every key.deleted audit record of a
// client ID without a tombstone in the record's account, oldest deletion first.
// audit_records_by_event lets the join find each account's records without reading the
// whole log; whether the planner uses it depends on its statistics.
func (db *DB) DeletedAPIKeys(ctx context.Context, fn func(k iogate.DeletedAPIKey) error) error {
	rows, err := db.pool.Query(ctx, `SELECT client_id, account_id, secret_hash, prev_secret_hash, deleted_at
		FROM deleted_client_ids
		UNION ALL
		SELECT r.client_id, r.account_id, NULL, NULL, r.at FROM accounts a
		JOIN audit_records r ON r.account_id = a.id AND r.event = $1
		WHERE NOT EXISTS (SELECT 1 FROM deleted_client_ids t WHERE t.account_id = r.account_id AND t.client_id = r.client_id)
		ORDER BY 5`, iogate.AuditKeyDeleted)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k iogate.DeletedAPIKey
		var current, previous []byte
		var at time.Time
		if err := rows.Scan(&k.ClientID, &k.AccountID, &current, &previous, &at); err != nil {
			return mapError(err)
		}
		k.DeletedAt = at.UTC()
		if err := k.SetSecretHashes(current, previous); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}

// UpdateAPIKey reads and locks the key inside a transaction, lets update change it, and
// writes back every field that can change after creation, with a key change and update's
// audit record.
func (db *DB) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	if !storable(clientID) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q", clientID)
	}
	var out *iogate.APIKey
	err := db.write(ctx, func(tx pgx.Tx) error {
		// The account is locked before the key, in the order every audited write takes
		// its locks, so that two writes never wait for each other in a cycle.
		var accountID string
		if err := tx.QueryRow(ctx, `SELECT account_id FROM api_keys WHERE client_id = $1`, clientID).Scan(&accountID); err != nil {
			return err
		}
		if err := lockAccounts(ctx, tx, accountID); err != nil {
			return err
		}
		k, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE client_id = $1 FOR UPDATE`, clientID))
		if err != nil {
			return err
		}
		rec, err := update(k)
		if err != nil || rec == nil {
			out = k
			return err
		}
		if err := useFormTokenOf(ctx, tx); err != nil {
			return err
		}
		var prevHash []byte
		var prevGen *int
		var prevRotated, prevExpires, prevUsed *time.Time
		if p := k.Previous; p != nil {
			prevHash = p.Hash[:]
			prevGen = &p.Generation
			prevRotated, prevExpires, prevUsed = nullTime(p.RotatedAt), nullTime(p.ExpiresAt), nullTime(p.LastUsedAt)
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET name = $1, description = $2, scopes = $3, allowed_ips = $4, updated_at = $5,
			expires_at = $6, secret_hash = $7, secret_generation = $8, secret_created_at = $9, prev_secret_hash = $10, prev_generation = $11,
			prev_rotated_at = $12, prev_expires_at = $13, prev_last_used_at = $14, exposed = $15, exposed_at = $16,
			exposed_generation = $17 WHERE client_id = $18`,
			k.Name, k.Description, strings.Join(k.Scopes, " "), formatPrefixes(k.AllowedIPs), k.UpdatedAt,
			nullTime(k.ExpiresAt), k.SecretHash[:], k.SecretGeneration, k.SecretCreatedAt, prevHash, prevGen,
			prevRotated, prevExpires, prevUsed, k.Exposed, nullTime(k.ExposedAt), k.ExposedGeneration, clientID)
		if err != nil {
			return err
		}
		if err := db.recordChange(ctx, tx, clientID); err != nil {
			return err
		}
		out = k
		return newAuditAppender(tx).append(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordKeyUse stores last-used times and addresses. A use of the previous secret after
// its rotation also sets the previous secret's last-used time. A use from before the
// rotation, written by a batch flushed after it, does not count. Times only move forward,
// so batches from several nodes may arrive in any order.
func (db *DB) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		for _, u := range uses {
			// GREATEST ignores NULL, so a first use sets the time.
			if _, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $1), last_used_ip = $2,
				prev_last_used_at = CASE WHEN prev_generation = $3 AND $1 >= prev_rotated_at THEN GREATEST(prev_last_used_at, $1)
					ELSE prev_last_used_at END
				WHERE client_id = $4`, u.At.UTC().Truncate(time.Microsecond), u.IP, u.Generation, u.ClientID); err != nil {
				return err
			}
		}
		return nil
	})
}

// KeyChangesSince returns the changes after seq, in order, at most 10000 at a time.
func (db *DB) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, client_id, kind, account_id, address, operator FROM key_changes
		WHERE seq > $1 ORDER BY seq LIMIT 10000`, seq)
	if err != nil {
		return nil, mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (iogate.KeyChange, error) {
		var c iogate.KeyChange
		err := r.Scan(&c.Seq, &c.ClientID, &c.Kind, &c.AccountID, &c.Address, &c.Operator)
		return c, err
	})
	return out, mapError(err)
}

// DeleteKeyChangesBefore deletes at most limit of the oldest key changes that were
// recorded at or before the given time, stopping at the first newer change, in one
// transaction. It skips rows that another node's sweep has locked rather than wait for
// them. Numbers come from key_change_counter, so deleting changes never reuses one.
func (db *DB) DeleteKeyChangesBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteKeyChangesBeforeQuery, limit, before)
}

// deleteKeyChangesBeforeQuery reads the first $2 changes in seq order through the primary
// key and deletes those before the first one recorded after $1 (all of them when none is
// newer). The bound comes from that window alone: when another sweep holds the window's
// rows, SKIP LOCKED leaves nothing below the bound to delete, rather than moving on to
// changes past a newer one. So the deleted changes are always a prefix of the table. The
// outer "seq < bound" lets the planner read only that prefix of the primary key, where
// the IN list alone can make it join against a scan of the whole table.
const deleteKeyChangesBeforeQuery = `WITH bound AS (
	SELECT COALESCE(min(head.seq) FILTER (WHERE head.changed_at > $1), max(head.seq) + 1) AS seq
	FROM (SELECT seq, changed_at FROM key_changes ORDER BY seq LIMIT $2) head)
DELETE FROM key_changes WHERE seq < (SELECT seq FROM bound) AND seq IN (
	SELECT seq FROM key_changes WHERE seq < (SELECT seq FROM bound)
	ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)`

// RecordAddressUnblock records a ChangeAddressUnblock change of prefix by operator and
// announces it.
func (db *DB) RecordAddressUnblock(ctx context.Context, prefix netip.Prefix, operator string) error {
	if err := iogate.CheckUnblockPrefix(prefix); err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		return db.recordChangeOfKind(ctx, tx, iogate.KeyChange{Kind: iogate.ChangeAddressUnblock, Address: prefix.String(), Operator: operator})
	})
}

// LatestKeyChange returns the highest change sequence number, or 0.
func (db *DB) LatestKeyChange(ctx context.Context) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT seq FROM key_change_counter WHERE id = 1`).Scan(&seq)
	return seq, mapError(err)
}
