package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iogate/iogate"
	"github.com/jackc/pgx/v5"
)

const auditCheckpointColumns = `account_id, seq, hash, record_time, created_at, signature`

// AuditCheckpoints returns the retention checkpoint of accountID, or of every account when
// accountID is empty.
func (db *DB) AuditCheckpoints(ctx context.Context, accountID string) ([]*iogate.AuditCheckpoint, error) {
	query := `SELECT ` + auditCheckpointColumns + ` FROM audit_checkpoints ORDER BY account_id COLLATE "C"`
	var args []any
	if accountID != "" {
		if !storable(accountID) {
			return nil, nil
		}
		query = `SELECT ` + auditCheckpointColumns + ` FROM audit_checkpoints WHERE account_id = $1`
		args = append(args, accountID)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapError(err)
	}
	defer rows.Close()
	var out []*iogate.AuditCheckpoint
	for rows.Next() {
		var cp iogate.AuditCheckpoint
		var hash, signature []byte
		var recordTime, created time.Time
		if err := rows.Scan(&cp.AccountID, &cp.Seq, &hash, &recordTime, &created, &signature); err != nil {
			return nil, mapError(err)
		}
		if len(hash) != len(cp.Hash) || len(signature) != len(cp.Signature) {
			return nil, fmt.Errorf("audit checkpoint of account %s: stored hash or signature has the wrong length", cp.AccountID)
		}
		copy(cp.Hash[:], hash)
		copy(cp.Signature[:], signature)
		cp.RecordTime, cp.CreatedAt = recordTime.UTC(), created.UTC()
		out = append(out, &cp)
	}
	return out, mapError(rows.Err())
}

// PruneAuditRecords stores cp and deletes the records it covers, in one transaction that
// holds the account's lock, so that no node appends to the chain meanwhile.
func (db *DB) PruneAuditRecords(ctx context.Context, cp *iogate.AuditCheckpoint) (int64, error) {
	var deleted int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		if err := lockAccounts(ctx, tx, cp.AccountID); err != nil {
			return err
		}
		var newest, stored int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE account_id = $1`, cp.AccountID).Scan(&newest); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints WHERE account_id = $1`, cp.AccountID).Scan(&stored); err != nil {
			return err
		}
		var hash []byte
		err := tx.QueryRow(ctx, `SELECT hash FROM audit_records WHERE account_id = $1 AND seq = $2`, cp.AccountID, cp.Seq).Scan(&hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := cp.CheckPrune(newest, stored, hash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (`+auditCheckpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, record_time = excluded.record_time,
			created_at = excluded.created_at, signature = excluded.signature`,
			cp.AccountID, cp.Seq, cp.Hash[:], cp.RecordTime, cp.CreatedAt, cp.Signature[:]); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE account_id = $1 AND seq <= $2`, cp.AccountID, cp.Seq)
		if err != nil {
			return err
		}
		deleted = tag.RowsAffected()
		return nil
	})
	return deleted, err
}
