package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// CreateAPIKey inserts a new key, records a key change and appends the audit record rec
// in the same transaction.
func (db *DB) CreateAPIKey(ctx context.Context, k *iogate.APIKey, rec *iogate.AuditRecord) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := useFormTokenOf(ctx, tx); err != nil {
			return err
		}
		if err := checkClientIDNotDeleted(ctx, tx, k.AccountID, k.ClientID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (client_id, account_id, name, description, scopes, allowed_ips,
			created_at, updated_at, expires_at, secret_hash, secret_generation, secret_created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ClientID, k.AccountID, k.Name, k.Description, strings.Join(k.Scopes, " "), formatPrefixes(k.AllowedIPs),
			toMicros(k.CreatedAt), toMicros(k.UpdatedAt), nullMicros(k.ExpiresAt), k.SecretHash[:], k.SecretGeneration, toMicros(k.SecretCreatedAt))
		if err != nil {
			return err
		}
		if err := db.recordChange(ctx, tx, k.ClientID); err != nil {
			return err
		}
		return newAuditAppender(tx).append(ctx, rec)
	})
}

func (db *DB) recordChange(ctx context.Context, tx *sql.Tx, clientID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO key_changes (client_id, changed_at) VALUES (?, ?)`, clientID, toMicros(db.now()))
	return err
}

// recordSigningKeysChange announces a change of the signing keys on the change feed.
func (db *DB) recordSigningKeysChange(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO key_changes (client_id, kind, changed_at) VALUES ('', ?, ?)`,
		iogate.ChangeSigningKeys, toMicros(db.now()))
	return err
}

const apiKeyColumns = `client_id, account_id, name, description, scopes, allowed_ips, created_at, updated_at, expires_at,
	secret_hash, secret_generation, secret_created_at, prev_secret_hash, prev_generation, prev_rotated_at, prev_expires_at,
	prev_last_used_at, last_used_at, last_used_ip, exposed, exposed_at, exposed_generation`

func scanAPIKey(row interface{ Scan(...any) error }) (*iogate.APIKey, error) {
	var k iogate.APIKey
	var scopes, allowed string
	var created, updated, secretCreated int64
	var expires, prevRotated, prevExpires, prevUsed, lastUsed, exposedAt sql.NullInt64
	var hash, prevHash []byte
	var prevGen sql.NullInt64
	var lastIP sql.NullString
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
	k.CreatedAt, k.UpdatedAt, k.SecretCreatedAt = fromMicros(created), fromMicros(updated), fromMicros(secretCreated)
	k.ExpiresAt = fromNullMicros(expires)
	k.LastUsedAt, k.LastUsedIP = fromNullMicros(lastUsed), lastIP.String
	k.ExposedAt = fromNullMicros(exposedAt)
	if prevGen.Valid && len(prevHash) == len(k.SecretHash) {
		p := &iogate.PreviousSecret{
			Generation: int(prevGen.Int64),
			RotatedAt:  fromNullMicros(prevRotated),
			ExpiresAt:  fromNullMicros(prevExpires),
			LastUsedAt: fromNullMicros(prevUsed),
		}
		copy(p.Hash[:], prevHash)
		k.Previous = p
	}
	return &k, nil
}

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
	k, err := scanAPIKey(db.reader.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE client_id = ?`, clientID))
	if err != nil {
		return nil, mapError(err)
	}
	return k, nil
}

// ListAPIKeys returns one page of an account's keys, oldest first. The cursor encodes the
// creation time and client ID of the page's last key.
func (db *DB) ListAPIKeys(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.APIKey, string, error) {
	limit := pageLimit(page)
	afterTime, afterID, err := decodeKeyCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE account_id = ? AND (created_at > ? OR (created_at = ? AND client_id > ?))
		ORDER BY created_at, client_id LIMIT ?`, accountID, afterTime, afterTime, afterID, limit+1)
	if err != nil {
		return nil, "", mapError(err)
	}
	defer rows.Close()
	var out []*iogate.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, "", mapError(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeKeyCursor(toMicros(last.CreatedAt), last.ClientID)
	}
	return out, next, nil
}

func encodeKeyCursor(created int64, clientID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "/" + clientID))
}

func decodeKeyCursor(cursor string) (int64, string, error) {
	if cursor == "" {
		return -1 << 62, "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		if t, id, ok := strings.Cut(string(raw), "/"); ok {
			if created, err := strconv.ParseInt(t, 10, 64); err == nil {
				return created, id, nil
			}
		}
	}
	return 0, "", iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
}

// AllAPIKeys calls fn for every key, in client ID order.
func (db *DB) AllAPIKeys(ctx context.Context, fn func(*iogate.APIKey) error) error {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY client_id`)
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
	return db.write(ctx, func(tx *sql.Tx) error {
		var current, previous []byte
		err := tx.QueryRowContext(ctx, `DELETE FROM api_keys WHERE client_id = ? AND account_id = ? RETURNING `+tombstoneHashColumns,
			clientID, rec.AccountID).Scan(&current, &previous)
		if errors.Is(err, sql.ErrNoRows) {
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

const deletedAPIKeysQuery = `SELECT client_id, account_id, secret_hash, prev_secret_hash, deleted_at
	FROM deleted_client_ids
	UNION ALL
	SELECT r.client_id, r.account_id, NULL, NULL, r.at FROM accounts a CROSS JOIN audit_records r
	WHERE r.account_id = a.id AND r.event = ? AND r.` + notTokenIssued + ` AND NOT EXISTS (
		SELECT 1 FROM deleted_client_ids t WHERE t.account_id = r.account_id AND t.client_id = r.client_id)
	ORDER BY 5`

// DeletedAPIKeys calls fn for every tombstone and for every key.deleted audit record of a
// client ID without a tombstone in the record's account, oldest deletion first. CROSS
// JOIN keeps accounts as the outer loop, so that SQLite looks each account's records up
// in audit_records_by_event rather than reading the whole log. The condition on
// token.issued is the index's own, which SQLite needs to see before it uses the index.
func (db *DB) DeletedAPIKeys(ctx context.Context, fn func(k iogate.DeletedAPIKey) error) error {
	rows, err := db.reader.QueryContext(ctx, deletedAPIKeysQuery, iogate.AuditKeyDeleted)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k iogate.DeletedAPIKey
		var current, previous []byte
		var at int64
		if err := rows.Scan(&k.ClientID, &k.AccountID, &current, &previous, &at); err != nil {
			return mapError(err)
		}
		k.DeletedAt = fromMicros(at)
		if err := k.SetSecretHashes(current, previous); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}

// UpdateAPIKey reads the key inside a write transaction, lets update change it, and writes
// back every field that can change after creation, with a key change and update's audit
// record.
func (db *DB) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	var out *iogate.APIKey
	err := db.write(ctx, func(tx *sql.Tx) error {
		k, err := scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE client_id = ?`, clientID))
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
		var prevGen sql.NullInt64
		var prevRotated, prevExpires, prevUsed sql.NullInt64
		if p := k.Previous; p != nil {
			prevHash = p.Hash[:]
			prevGen = sql.NullInt64{Int64: int64(p.Generation), Valid: true}
			prevRotated, prevExpires, prevUsed = nullMicros(p.RotatedAt), nullMicros(p.ExpiresAt), nullMicros(p.LastUsedAt)
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET name = ?, description = ?, scopes = ?, allowed_ips = ?, updated_at = ?,
			expires_at = ?, secret_hash = ?, secret_generation = ?, secret_created_at = ?, prev_secret_hash = ?, prev_generation = ?,
			prev_rotated_at = ?, prev_expires_at = ?, prev_last_used_at = ?, exposed = ?, exposed_at = ?,
			exposed_generation = ? WHERE client_id = ?`,
			k.Name, k.Description, strings.Join(k.Scopes, " "), formatPrefixes(k.AllowedIPs), toMicros(k.UpdatedAt),
			nullMicros(k.ExpiresAt), k.SecretHash[:], k.SecretGeneration, toMicros(k.SecretCreatedAt), prevHash, prevGen,
			prevRotated, prevExpires, prevUsed, k.Exposed, nullMicros(k.ExposedAt), k.ExposedGeneration, clientID)
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
// its rotation also sets the previous secret's last-used time, which shows the owner
// whether clients still use it. A use from before the rotation, written by a batch that
// was flushed after it, does not count.
func (db *DB) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	update, err := db.prepared(ctx, recordKeyUseQuery)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, update)
		for _, u := range uses {
			if _, err := st.ExecContext(ctx, toMicros(u.At), u.IP, u.Generation, toMicros(u.At), toMicros(u.At), u.ClientID); err != nil {
				return err
			}
		}
		return nil
	})
}

const recordKeyUseQuery = `UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?), last_used_ip = ?,
	prev_last_used_at = CASE WHEN prev_generation = ? AND ? >= prev_rotated_at THEN MAX(COALESCE(prev_last_used_at, 0), ?)
		ELSE prev_last_used_at END
	WHERE client_id = ?`

// KeyChangesSince returns the changes after seq, in order.
func (db *DB) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT seq, client_id, kind, account_id, address, operator FROM key_changes
		WHERE seq > ? ORDER BY seq LIMIT 10000`, seq)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []iogate.KeyChange
	for rows.Next() {
		var c iogate.KeyChange
		if err := rows.Scan(&c.Seq, &c.ClientID, &c.Kind, &c.AccountID, &c.Address, &c.Operator); err != nil {
			return nil, mapError(err)
		}
		out = append(out, c)
	}
	return out, mapError(rows.Err())
}

// DeleteKeyChangesBefore deletes at most limit of the oldest key changes that were
// recorded at or before the given time, stopping at the first newer change, in one
// transaction. AUTOINCREMENT keeps the numbers of deleted changes from being used again,
// so a server's cursor stays below every later change even when no row is left.
func (db *DB) DeleteKeyChangesBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return db.deleteBatch(ctx, deleteKeyChangesBeforeQuery, limit, toMicros(before))
}

// deleteKeyChangesBeforeQuery reads the first limit changes in seq order through the
// primary key and deletes those before the first one recorded after the cutoff (all of
// them when none is newer). The changes it deletes are therefore always a prefix of the
// table, found without scanning the changes that stay.
const deleteKeyChangesBeforeQuery = `DELETE FROM key_changes WHERE seq < (
	SELECT COALESCE(MIN(CASE WHEN changed_at > ? THEN seq END), MAX(seq) + 1)
	FROM (SELECT seq, changed_at FROM key_changes ORDER BY seq LIMIT ?))`

// RecordAddressUnblock records a ChangeAddressUnblock change of prefix by operator.
func (db *DB) RecordAddressUnblock(ctx context.Context, prefix netip.Prefix, operator string) error {
	if err := iogate.CheckUnblockPrefix(prefix); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO key_changes (client_id, kind, address, operator, changed_at) VALUES ('', ?, ?, ?, ?)`,
			iogate.ChangeAddressUnblock, prefix.String(), operator, toMicros(db.now()))
		return err
	})
}

// LatestKeyChange returns the highest change sequence number ever given, or 0. The
// AUTOINCREMENT counter keeps it after the sweep deletes every change.
func (db *DB) LatestKeyChange(ctx context.Context) (int64, error) {
	var seq int64
	err := db.reader.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'key_changes'), 0)`).Scan(&seq)
	return seq, mapError(err)
}
