package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iogate/iogate"
)

const auditCheckpointColumns = `account_id, seq, hash, record_time, created_at, signature`

// AuditCheckpoints returns the retention checkpoint of accountID, or of every account when
// accountID is empty.
func (db *DB) AuditCheckpoints(ctx context.Context, accountID string) ([]*iogate.AuditCheckpoint, error) {
	query := `SELECT ` + auditCheckpointColumns + ` FROM audit_checkpoints ORDER BY account_id`
	var args []any
	if accountID != "" {
		query = `SELECT ` + auditCheckpointColumns + ` FROM audit_checkpoints WHERE account_id = ?`
		args = append(args, accountID)
	}
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []*iogate.AuditCheckpoint
	for rows.Next() {
		var cp iogate.AuditCheckpoint
		var hash, signature []byte
		var recordTime, created int64
		if err := rows.Scan(&cp.AccountID, &cp.Seq, &hash, &recordTime, &created, &signature); err != nil {
			return nil, mapError(err)
		}
		if len(hash) != len(cp.Hash) || len(signature) != len(cp.Signature) {
			return nil, fmt.Errorf("audit checkpoint of account %s: stored hash or signature has the wrong length", cp.AccountID)
		}
		copy(cp.Hash[:], hash)
		copy(cp.Signature[:], signature)
		cp.RecordTime, cp.CreatedAt = fromMicros(recordTime), fromMicros(created)
		out = append(out, &cp)
	}
	return out, mapError(rows.Err())
}

// PruneAuditRecords stores cp and deletes the records it covers, in one transaction.
func (db *DB) PruneAuditRecords(ctx context.Context, cp *iogate.AuditCheckpoint) (int64, error) {
	var deleted int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		var newest, stored int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE account_id = ?`, cp.AccountID).Scan(&newest); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints WHERE account_id = ?`, cp.AccountID).Scan(&stored); err != nil {
			return err
		}
		var hash []byte
		err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_records WHERE account_id = ? AND seq = ?`, cp.AccountID, cp.Seq).Scan(&hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := cp.CheckPrune(newest, stored, hash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (`+auditCheckpointColumns+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, record_time = excluded.record_time,
			created_at = excluded.created_at, signature = excluded.signature`,
			cp.AccountID, cp.Seq, cp.Hash[:], toMicros(cp.RecordTime), toMicros(cp.CreatedAt), cp.Signature[:]); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_records WHERE account_id = ? AND seq <= ?`, cp.AccountID, cp.Seq)
		if err != nil {
			return err
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_token_clients WHERE account_id = ? AND seq <= ?`, cp.AccountID, cp.Seq)
		return err
	})
	return deleted, err
}
