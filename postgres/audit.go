package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

// AppendAuditRecords appends records to their accounts' chains in one transaction.
func (db *DB) AppendAuditRecords(ctx context.Context, records []*iogate.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	accounts := make([]string, 0, len(records))
	for _, r := range records {
		accounts = append(accounts, r.AccountID)
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := lockAccounts(ctx, tx, accounts...); err != nil {
			return err
		}
		a := newAuditAppender(tx)
		for _, r := range records {
			if err := a.append(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// lockAccounts locks the rows of the accounts whose audit chains the transaction extends,
// until it ends. Two nodes appending to one chain at once would otherwise both read the
// same head and number their records alike. The locks are taken in ID order, so that two
// batches never wait for each other in a cycle. FOR NO KEY UPDATE leaves inserts of keys
// and vaults that reference the account free to proceed.
func lockAccounts(ctx context.Context, tx pgx.Tx, ids ...string) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if !storable(id) {
			return iogate.Errorf(iogate.CodeNotFound, "account %q not found", id)
		}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return iogate.Errorf(iogate.CodeNotFound, "account %q not found", id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// auditAppender appends records inside one transaction, whose accounts lockAccounts has
// locked. It remembers the head of each account's chain, so a batch reads each head once.
type auditAppender struct {
	tx    pgx.Tx
	heads map[string]auditHead
}

type auditHead struct {
	seq  int64
	hash iogate.AuditHash
}

func newAuditAppender(tx pgx.Tx) *auditAppender {
	return &auditAppender{tx: tx, heads: make(map[string]auditHead)}
}

func (a *auditAppender) append(ctx context.Context, r *iogate.AuditRecord) error {
	head, ok := a.heads[r.AccountID]
	if !ok {
		var hash []byte
		err := a.tx.QueryRow(ctx, `SELECT seq, hash FROM audit_records WHERE account_id = $1 ORDER BY seq DESC LIMIT 1`, r.AccountID).
			Scan(&head.seq, &hash)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case len(hash) != len(head.hash):
			return fmt.Errorf("audit record %d of account %s: stored hash has %d bytes", head.seq, r.AccountID, len(hash))
		default:
			copy(head.hash[:], hash)
		}
	}
	if err := r.Seal(head.seq, head.hash); err != nil {
		return err
	}
	_, err := a.tx.Exec(ctx, `INSERT INTO audit_records (account_id, seq, id, at, event, actor_type, actor_id, actor_ip,
		client_id, token_id, reason, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.AccountID, r.Seq, r.ID, r.Time, r.Event, r.Actor.Type, r.Actor.ID, r.Actor.IP,
		r.ClientID, r.TokenID, r.Reason, string(r.Details), r.PrevHash[:], r.Hash[:])
	if err != nil {
		return err
	}
	a.heads[r.AccountID] = auditHead{seq: r.Seq, hash: r.Hash}
	return nil
}

const auditColumns = `account_id, seq, id, at, event, actor_type, actor_id, actor_ip, client_id, token_id, reason, details, prev_hash, hash`

func scanAuditRecord(row pgx.Row) (*iogate.AuditRecord, error) {
	var r iogate.AuditRecord
	var at time.Time
	var details string
	var prev, hash []byte
	if err := row.Scan(&r.AccountID, &r.Seq, &r.ID, &at, &r.Event, &r.Actor.Type, &r.Actor.ID, &r.Actor.IP,
		&r.ClientID, &r.TokenID, &r.Reason, &details, &prev, &hash); err != nil {
		return nil, err
	}
	if len(prev) != len(r.PrevHash) || len(hash) != len(r.Hash) {
		return nil, fmt.Errorf("audit record %d of account %s: stored hashes have %d and %d bytes", r.Seq, r.AccountID, len(prev), len(hash))
	}
	copy(r.PrevHash[:], prev)
	copy(r.Hash[:], hash)
	r.Time = at.UTC()
	if details != "" {
		r.Details = []byte(details)
	}
	return &r, nil
}

// ListAuditRecords returns one page of an account's records, newest first. The cursor
// encodes the sequence number of the page's last record, as the sqlite store's does.
func (db *DB) ListAuditRecords(ctx context.Context, f iogate.AuditFilter, page iogate.Page) ([]*iogate.AuditRecord, string, error) {
	limit := pageLimit(page)
	before, err := decodeAuditCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	for _, v := range []string{f.AccountID, f.ClientID, f.ActorType, f.ActorID, f.Event} {
		if !storable(v) {
			return []*iogate.AuditRecord{}, "", nil
		}
	}

	where := []string{"account_id = $1", "seq < $2"}
	args := []any{f.AccountID, before}
	for _, c := range f.Conditions() {
		args = append(args, c.Value)
		where = append(where, c.Column+" = $"+strconv.Itoa(len(args)))
	}
	args = append(args, limit+1)

	rows, err := db.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, "", mapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*iogate.AuditRecord, error) { return scanAuditRecord(r) })
	if err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[limit-1].Seq, 10)))
	}
	return out, next, nil
}

func decodeAuditCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 1 << 62, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		if seq, err := strconv.ParseInt(string(raw), 10, 64); err == nil && seq > 0 {
			return seq, nil
		}
	}
	return 0, iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
}

// AuditRecords calls fn for every record of accountID, or of every account when accountID
// is empty, ordered by account and sequence number. The rows are read in one query, so fn
// must not use the store.
func (db *DB) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	if !storable(accountID) {
		return []*iogate.AuditRecord{}, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		accountID, after, limit)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	records := []*iogate.AuditRecord{}
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return nil, mapError(err)
		}
		records = append(records, r)
	}
	return records, mapError(rows.Err())
}

func (db *DB) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	query := `SELECT ` + auditColumns + ` FROM audit_records ORDER BY account_id COLLATE "C", seq`
	var args []any
	if accountID != "" {
		if !storable(accountID) {
			return nil
		}
		query = `SELECT ` + auditColumns + ` FROM audit_records WHERE account_id = $1 ORDER BY seq`
		args = append(args, accountID)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return mapError(err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return mapError(err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return mapError(rows.Err())
}
