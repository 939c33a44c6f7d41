package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/iogate/iogate"
)

// AppendAuditRecords appends records to their accounts' chains in one transaction.
func (db *DB) AppendAuditRecords(ctx context.Context, records []*iogate.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The statements run without ctx's cancellation. With a cancellable context, the
	// driver starts a goroutine per statement to watch it, and the group commit of token
	// issuance runs its statements while every request of the batch waits. An interrupt
	// could not stop a write blocked on the disk anyway, and busy_timeout bounds the wait
	// for another process's lock.
	ctx = context.WithoutCancel(ctx)
	head, err := db.prepared(ctx, auditHeadQuery)
	if err != nil {
		return err
	}
	// Each statement has a fixed cost in the driver and in SQLite's virtual machine. The
	// records are inserted several to a statement (auditInsertRows), so that the group
	// commit of token issuance does not pay that cost once per token.
	inserts := make(map[int]*sql.Stmt, len(auditInsertRows))
	for _, n := range auditInsertRows {
		if n > len(records) && n != 1 {
			continue
		}
		if inserts[n], err = db.prepared(ctx, auditInsertQueries[n]); err != nil {
			return err
		}
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		a := newAuditAppender(tx)
		// database/sql reuses the statements already prepared on the transaction's
		// connection, which is the writer pool's only one.
		a.head = tx.StmtContext(ctx, head)
		for _, r := range records {
			if err := a.seal(ctx, r); err != nil {
				return err
			}
		}
		args := make([]any, 0, auditInsertRows[0]*auditInsertColumns)
		for rest := records; len(rest) > 0; {
			n := 1
			for _, size := range auditInsertRows {
				if size <= len(rest) {
					n = size
					break
				}
			}
			args = args[:0]
			for _, r := range rest[:n] {
				args = appendAuditArgs(args, r)
			}
			if _, err := tx.StmtContext(ctx, inserts[n]).ExecContext(ctx, args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err == nil {
		db.markTokenRecords(records)
	}
	return err
}

// auditInsertRows are the sizes of the multi-row inserts of AppendAuditRecords, largest
// first. A batch is cut into statements of these sizes, so at most three statements are
// prepared however large batches get.
var auditInsertRows = []int{16, 4, 1}

// auditInsertQueries maps each size of auditInsertRows to its INSERT, built once rather than
// for every group commit.
var auditInsertQueries = func() map[int]string {
	m := make(map[int]string, len(auditInsertRows))
	for _, n := range auditInsertRows {
		m[n] = auditInsertQuery(n)
	}
	return m
}()

// auditAppender appends records inside one transaction. It remembers the head of each
// account's chain, so a batch reads each head once.
type auditAppender struct {
	tx    *sql.Tx
	heads map[string]auditHead
	// head, when set, is auditHeadQuery prepared for tx.
	head *sql.Stmt
}

const (
	auditHeadQuery     = `SELECT seq, hash FROM audit_records WHERE account_id = ? ORDER BY seq DESC LIMIT 1`
	auditInsertColumns = 14
)

// auditInsertQuery returns an INSERT of n audit records. A failed row rolls the whole
// transaction back (OR ROLLBACK), which is what AppendAuditRecords and the key changes do
// with any error anyway. With the default (OR ABORT), SQLite would keep a statement journal,
// written to a temporary file, so that a statement of several rows could be undone alone.
func auditInsertQuery(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT OR ROLLBACK INTO audit_records (account_id, seq, id, at, event, actor_type, actor_id, actor_ip,
		client_id, token_id, reason, details, prev_hash, hash) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?" + strings.Repeat(", ?", auditInsertColumns-1) + ")")
	}
	return b.String()
}

// appendAuditArgs appends the values of r's columns in the order of auditInsertQuery.
func appendAuditArgs(args []any, r *iogate.AuditRecord) []any {
	return append(args, r.AccountID, r.Seq, r.ID, toMicros(r.Time), r.Event, r.Actor.Type, r.Actor.ID, r.Actor.IP,
		r.ClientID, r.TokenID, r.Reason, string(r.Details), r.PrevHash[:], r.Hash[:])
}

type auditHead struct {
	seq  int64
	hash iogate.AuditHash
}

func newAuditAppender(tx *sql.Tx) *auditAppender {
	return &auditAppender{tx: tx, heads: make(map[string]auditHead)}
}

// seal links r to the head of its account's chain, reading the head from the store the
// first time the account comes up, and makes r the new head. The caller inserts r.
func (a *auditAppender) seal(ctx context.Context, r *iogate.AuditRecord) error {
	head, ok := a.heads[r.AccountID]
	if !ok {
		var hash []byte
		var row *sql.Row
		if a.head != nil {
			row = a.head.QueryRowContext(ctx, r.AccountID)
		} else {
			row = a.tx.QueryRowContext(ctx, auditHeadQuery, r.AccountID)
		}
		err := row.Scan(&head.seq, &hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
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
	a.heads[r.AccountID] = auditHead{seq: r.Seq, hash: r.Hash}
	return nil
}

// append seals r and inserts it.
func (a *auditAppender) append(ctx context.Context, r *iogate.AuditRecord) error {
	if err := a.seal(ctx, r); err != nil {
		return err
	}
	_, err := a.tx.ExecContext(ctx, auditInsertQueries[1], appendAuditArgs(nil, r)...)
	return err
}

const auditColumns = `account_id, seq, id, at, event, actor_type, actor_id, actor_ip, client_id, token_id, reason, details, prev_hash, hash`

func scanAuditRecord(row interface{ Scan(...any) error }) (*iogate.AuditRecord, error) {
	var r iogate.AuditRecord
	var at int64
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
	r.Time = fromMicros(at)
	if details != "" {
		r.Details = []byte(details)
	}
	return &r, nil
}

// ListAuditRecords returns one page of an account's records, newest first. The cursor
// encodes the sequence number of the page's last record.
func (db *DB) ListAuditRecords(ctx context.Context, f iogate.AuditFilter, page iogate.Page) ([]*iogate.AuditRecord, string, error) {
	limit := pageLimit(page)
	before, err := decodeAuditCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}

	query, args := auditListQuery(f, before, limit+1)
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", mapError(err)
	}
	defer rows.Close()
	var out []*iogate.AuditRecord
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return nil, "", mapError(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[limit-1].Seq, 10)))
	}
	return out, next, nil
}

// auditListQuery returns the query of ListAuditRecords and its arguments. It names the
// index to walk, because without statistics SQLite prefers the primary key, whose order
// matches ORDER BY seq DESC, and would then scan the account's whole log for a key or user
// with few records.
//
// audit_records_by_actor leaves out records whose actor is a client,
// and Seal requires such records to name that client as ClientID. A filter by actor ID
// alone is therefore the union of the records of other actors, found by actor, and those
// of a client, found by client ID. A filter that names the actor's type as well needs
// only the branch of that type.
//
// token.issued records are in neither audit_records_by_client nor audit_records_by_event
// (migrations 0008 and 0020). A filter on that event walks the log itself, where most
// records are token.issued. A filter on another event repeats the index's condition, the
// only form in which SQLite matches a partial index.
//
// A client's records are found in three places. Records other than token.issued are in
// audit_records_by_client. token.issued records up to the account's mark are in
// audit_token_clients. Those above the mark, which IndexTokenRecords has not reached yet,
// are in the tail of the account's log, a range of its primary key.
func auditListQuery(f iogate.AuditFilter, before int64, limit int) (string, []any) {
	// filter returns the filter's conditions on the columns of the table named prefix.
	filter := func(prefix string) ([]string, []any) {
		var where []string
		var args []any
		for _, c := range f.Conditions() {
			where = append(where, prefix+c.Column+" = ?")
			args = append(args, c.Value)
		}
		return where, args
	}
	sel := func(index string, extra []string, extraArgs ...any) (string, []any) {
		where := []string{"account_id = ?", "seq < ?"}
		args := []any{f.AccountID, before}
		fw, fa := filter("")
		where = append(append(where, fw...), extra...)
		args = append(append(args, fa...), extraArgs...)
		from := "audit_records"
		if index != "" {
			from += " INDEXED BY " + index
		}
		return `SELECT ` + auditColumns + ` FROM ` + from + ` WHERE ` + strings.Join(where, " AND "), args
	}
	// clientRecords returns the branches that find the records of client, which match
	// the conditions extra as well.
	clientRecords := func(client string, extra ...string) (string, []any) {
		byClient, args := sel("audit_records_by_client", append([]string{"client_id = ?", notTokenIssued}, extra...), client)
		// The other two branches return token.issued records only. With a filter by another
		// event they would return nothing, after walking every token record of the client.
		if f.Event != "" && f.Event != iogate.AuditTokenIssued {
			return byClient, args
		}

		// Entries above the mark may already be in audit_token_clients while
		// IndexTokenRecords runs; the tail branch returns those records.
		where := []string{"t.account_id = ?", "t.client_id = ?", "t.seq < ?",
			"t.seq <= COALESCE((SELECT m.seq FROM audit_token_marks AS m WHERE m.account_id = ?), 0)"}
		indexedArgs := []any{f.AccountID, client, before, f.AccountID}
		fw, fa := filter("r.")
		where = append(where, fw...)
		indexedArgs = append(indexedArgs, fa...)
		for _, e := range extra {
			where = append(where, "r."+e)
		}
		// The branch returns t.seq, equal to r.seq, so that the walk of the primary key of
		// audit_token_clients delivers its rows in the order of ORDER BY seq, unsorted.
		indexed := `SELECT ` + strings.Replace(auditColumnsOf("r."), "r.seq", "t.seq", 1) + ` FROM audit_token_clients AS t CROSS JOIN audit_records AS r ON r.account_id = t.account_id AND r.seq = t.seq WHERE ` +
			strings.Join(where, " AND ")

		tail, tailArgs := sel("", append([]string{"client_id = ?", "event = 'token.issued'",
			"seq > COALESCE((SELECT m.seq FROM audit_token_marks AS m WHERE m.account_id = ?), 0)"}, extra...), client, f.AccountID)

		args = append(append(args, indexedArgs...), tailArgs...)
		return byClient + ` UNION ALL ` + indexed + ` UNION ALL ` + tail, args
	}

	var query string
	var args []any
	switch {
	case f.ClientID != "":
		query, args = clientRecords(f.ClientID)
	case f.ActorType == iogate.ActorClient:
		query, args = clientRecords(f.ActorID)
	case f.ActorType != "":
		query, args = sel("audit_records_by_actor", []string{"actor_type <> 'client'"})
	case f.ActorID != "":
		others, otherArgs := sel("audit_records_by_actor", []string{"actor_type <> 'client'"})
		clients, clientArgs := clientRecords(f.ActorID, "actor_type = 'client'")
		query, args = others+` UNION ALL `+clients, append(otherArgs, clientArgs...)
	case f.Event == iogate.AuditTokenIssued:
		query, args = sel("", nil)
	case f.Event != "":
		query, args = sel("audit_records_by_event", []string{notTokenIssued})
	default:
		query, args = sel("", nil)
	}
	return query + ` ORDER BY seq DESC LIMIT ?`, append(args, limit)
}

// notTokenIssued is the condition of the partial indexes audit_records_by_client and
// audit_records_by_event (migrations 0008 and 0020). A query uses either index only when
// its WHERE clause contains this condition word for word.
const notTokenIssued = "event <> 'token.issued'"

// auditColumnsOf returns auditColumns, each prefixed with prefix, such as "r.".
func auditColumnsOf(prefix string) string {
	cols := strings.Split(auditColumns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
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
// is empty, ordered by account and sequence number.
func (db *DB) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
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
	query := `SELECT ` + auditColumns + ` FROM audit_records ORDER BY account_id, seq`
	var args []any
	if accountID != "" {
		query = `SELECT ` + auditColumns + ` FROM audit_records WHERE account_id = ? ORDER BY seq`
		args = append(args, accountID)
	}
	rows, err := db.reader.QueryContext(ctx, query, args...)
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
