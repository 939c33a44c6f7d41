package e2e

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// TestPostgresNodeRoleAuditTail plays someone who holds a node's database credentials and
// tries to erase an account's newest audit records, such as the token issuances of a
// stolen key, without "iogate audit verify" noticing. The audit trigger lets the node role
// delete records that a checkpoint covers, so the attack writes a checkpoint over the
// newest record, deletes the records, and then removes its checkpoint or puts the real
// one back. Either the database must reject a step, leaving the records in place, or
// verification must fail. One account has no checkpoint; the other has the one that
// retention signed.
func TestPostgresNodeRoleAuditTail(t *testing.T) {
	node, owner := newPGNodeRoleDeployment(t)
	ownerURL, nodeURL := owner.dbURL, node.dbURL

	// The pruned account gets a signed checkpoint: its first records are older than the
	// retention when the node starts, and its second key's record is not.
	pruned := node.createAccount(t)
	node.createKey(t, pruned, "pruned")
	time.Sleep(2100 * time.Millisecond)
	prunedKey := node.createKey(t, pruned, "kept")
	plain := node.createAccount(t)
	plainKey := node.createKey(t, plain, "plain")

	// CREATE on the database lets the role create a schema of its own. The objects in that
	// schema must not change what the audit triggers do.
	pgtest.Exec(t, ownerURL, `GRANT CREATE ON DATABASE `+pgx.Identifier{databaseName(t, ownerURL)}.Sanitize()+
		` TO `+pgx.Identifier{os.Getenv(pgtest.NodeRoleVariable)}.Sanitize())

	srv := node.startNode(t, "a", "--audit-retention", "2s")
	waitLog(t, srv, "audit records pruned")
	if n := pgtest.QueryInt(t, ownerURL, `SELECT COUNT(*) FROM audit_checkpoints WHERE account_id = $1`, pruned); n != 1 {
		t.Fatalf("checkpoints of the pruned account after retention: %d, want 1", n)
	}
	waitForKey(t, srv, prunedKey.ClientID, prunedKey.ClientSecret)
	waitForKey(t, srv, plainKey.ClientID, plainKey.ClientSecret)

	for _, tc := range []struct {
		name      string
		accountID string
		key       createdKey
		attack    func(ctx context.Context, tx pgx.Tx, accountID string, keep int64) error
	}{
		{"without a checkpoint", plain, plainKey, eraseTailAndCheckpoint},
		{"with a signed checkpoint", pruned, prunedKey, eraseTailAndRestoreCheckpoint},
		{"under a temporary checkpoints table", plain, plainKey, eraseTailUnderTemporaryCheckpoints},
		{"with operators of its own", plain, plainKey, eraseTailWithOwnOperators},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := pgtest.QueryInt(t, ownerURL, `SELECT MAX(seq) FROM audit_records WHERE account_id = $1`, tc.accountID)
			for range 3 {
				accessToken(t, srv, tc.key.ClientID, tc.key.ClientSecret)
			}
			// Token records are committed in batches, shortly after the response.
			newest := waitNewestSeq(t, ownerURL, tc.accountID, keep+3)

			attackErr := runAttack(t, nodeURL, func(ctx context.Context, tx pgx.Tx) error {
				return tc.attack(ctx, tx, tc.accountID, keep)
			})
			after := pgtest.QueryInt(t, ownerURL, `SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE account_id = $1`, tc.accountID)
			res := testenv.RunCLI(t, node.cliDir, node.env(), "audit", "verify", "--account", tc.accountID)
			switch {
			case after == newest:
				t.Logf("the database rejected the attack: %v", attackErr)
			case res.ExitCode == 0:
				t.Errorf("the node role erased records %d to %d and audit verify still exits 0: %s", keep+1, newest, res.Stdout)
			}
		})
	}
}

// eraseTailAndCheckpoint deletes the account's records after keep under a checkpoint of
// its own and then deletes that checkpoint, for an account that had none.
func eraseTailAndCheckpoint(ctx context.Context, tx pgx.Tx, accountID string, keep int64) error {
	zero := make([]byte, 32)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (account_id, seq, hash, record_time, created_at, signature)
		VALUES ($1, 1000000000, $2, now(), now(), $2)`, accountID, zero); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE account_id = $1 AND seq > $2`, accountID, keep); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM audit_checkpoints WHERE account_id = $1`, accountID)
	return err
}

// eraseTailAndRestoreCheckpoint moves the account's checkpoint past its newest record,
// deletes the records after keep, and writes the signed checkpoint back.
func eraseTailAndRestoreCheckpoint(ctx context.Context, tx pgx.Tx, accountID string, keep int64) error {
	var seq int64
	var hash, signature []byte
	var recordTime, created time.Time
	if err := tx.QueryRow(ctx, `SELECT seq, hash, record_time, created_at, signature FROM audit_checkpoints WHERE account_id = $1`,
		accountID).Scan(&seq, &hash, &recordTime, &created, &signature); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_checkpoints SET seq = 1000000000 WHERE account_id = $1`, accountID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE account_id = $1 AND seq > $2`, accountID, keep); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE audit_checkpoints SET seq = $2, hash = $3, record_time = $4, created_at = $5, signature = $6
		WHERE account_id = $1`, accountID, seq, hash, recordTime, created, signature)
	return err
}

// eraseTailUnderTemporaryCheckpoints deletes the account's records after keep under a
// checkpoint in a temporary table named audit_checkpoints. PostgreSQL looks a table name
// up in the session's temporary schema first, so an audit trigger that ran with the
// session's search_path would read that table instead of the real one.
func eraseTailUnderTemporaryCheckpoints(ctx context.Context, tx pgx.Tx, accountID string, keep int64) error {
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE audit_checkpoints (account_id TEXT, seq BIGINT)`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pg_temp.audit_checkpoints VALUES ($1, 1000000000)`, accountID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE account_id = $1 AND seq > $2`, accountID, keep)
	return err
}

// eraseTailWithOwnOperators deletes the account's records after keep with "=" and ">="
// operators of its own, which always hold, placed before pg_catalog's on the search_path.
// An audit trigger that ran with the session's search_path would then find that any
// account's checkpoint covers every record. The pruned account has such a checkpoint.
func eraseTailWithOwnOperators(ctx context.Context, tx pgx.Tx, accountID string, keep int64) error {
	var schema string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	for _, stmt := range []string{
		`CREATE SCHEMA attacker`,
		`CREATE FUNCTION attacker.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
		`CREATE FUNCTION attacker.always(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
		`CREATE OPERATOR attacker.= (LEFTARG = text, RIGHTARG = text, FUNCTION = attacker.always)`,
		`CREATE OPERATOR attacker.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = attacker.always)`,
		`SET LOCAL search_path = attacker, pg_catalog, ` + pgx.Identifier{schema}.Sanitize(),
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE account_id OPERATOR(pg_catalog.=) $1 AND seq OPERATOR(pg_catalog.>) $2`, accountID, keep)
	return err
}

// databaseName returns the name of the database that dbURL names.
func databaseName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse the database URL: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// runAttack runs attack in one transaction on the database at dbURL and commits it. It
// returns the error of the statement that the database rejected, after rolling back.
func runAttack(t *testing.T, dbURL string, attack func(context.Context, pgx.Tx) error) error {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return attack(ctx, tx) })
	var pe *pgconn.PgError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("attack failed without a database error: %v", err)
	}
	return err
}

// waitNewestSeq polls until the account's newest audit record has at least sequence
// number want, and returns it.
func waitNewestSeq(t *testing.T, dbURL, accountID string, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := pgtest.QueryInt(t, dbURL, `SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE account_id = $1`, accountID)
		if got >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("newest audit record of account %s: %d after 5s, want at least %d", accountID, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
