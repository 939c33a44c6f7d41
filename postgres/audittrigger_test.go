package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
)

// TestAuditTriggersPinSearchPath checks that every function that a trigger of the schema
// runs has its search_path set to the schema with pg_temp last. Without it the function
// resolves names with the search_path of the session that fires the trigger, so a node
// role could put a temporary audit_checkpoints table or operators of its own in front of
// the real ones. CREATE OR REPLACE FUNCTION drops the setting, so a later migration that
// redefines a trigger function fails this test until it pins the path again.
func TestAuditTriggersPinSearchPath(t *testing.T) {
	url := pgtest.NewDatabase(t)
	open(t, url).Close()
	conn := pgtest.Connect(t, url)
	rows, err := conn.Query(context.Background(), `SELECT DISTINCT p.proname, COALESCE(array_to_string(p.proconfig, ';'), '')
		FROM pg_trigger tg
		JOIN pg_class c ON c.oid = tg.tgrelid
		JOIN pg_proc p ON p.oid = tg.tgfoid
		WHERE c.relnamespace = current_schema()::regnamespace AND NOT tg.tgisinternal
		ORDER BY 1`)
	if err != nil {
		t.Fatalf("list trigger functions: %v", err)
	}
	var name, config string
	var checked int
	if _, err := pgx.ForEachRow(rows, []any{&name, &config}, func() error {
		checked++
		if want := "search_path=public, pg_temp"; config != want {
			t.Errorf("trigger function %s has settings %q, want %q", name, config, want)
		}
		return nil
	}); err != nil {
		t.Fatalf("list trigger functions: %v", err)
	}
	// audit_records_append_only and audit_checkpoints_forward_only.
	if checked < 2 {
		t.Errorf("found %d trigger functions, want at least 2", checked)
	}
}

// TestNodeRoleInOtherSchema runs a node role on a schema other than public, which the
// URL's search_path selects. Opening must pass the privilege check, retention must still
// delete the records that its checkpoint covers, and the audit trigger must still reject
// a delete under a temporary audit_checkpoints table of the role's own.
func TestNodeRoleInOtherSchema(t *testing.T) {
	ctx := context.Background()
	ownerURL := withSearchPath(t, pgtest.NewDatabase(t), "iogate_app")
	pgtest.Exec(t, ownerURL, `CREATE SCHEMA iogate_app`)
	nodeURL := pgtest.AsNodeRole(t, ownerURL)
	grant(t, ownerURL, os.Getenv(pgtest.NodeRoleVariable))
	if n := pgtest.QueryInt(t, ownerURL, `SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'iogate_app'`); n == 0 {
		t.Fatal("the migrations created no table in the schema iogate_app")
	}

	node := open(t, nodeURL)
	chain, err := iogate.NewAuditChain(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: now}
	created, err := chain.NewAccountCreatedRecord(account, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := node.CreateAccount(ctx, account, created); err != nil {
		t.Fatalf("CreateAccount as the node role: %v", err)
	}
	var records []*iogate.AuditRecord
	for range 4 {
		r, err := chain.NewRecord(account.ID, iogate.AuditVaultCreated, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	if err := node.AppendAuditRecords(ctx, records); err != nil {
		t.Fatalf("AppendAuditRecords as the node role: %v", err)
	}

	// Retention prunes the account-created record and the first vault record.
	deleted, err := node.PruneAuditRecords(ctx, chain.NewCheckpoint(records[0], now))
	if err != nil {
		t.Fatalf("PruneAuditRecords as the node role: %v", err)
	}
	if deleted != 2 {
		t.Errorf("PruneAuditRecords deleted %d records, want 2", deleted)
	}

	err = deleteUnderTemporaryCheckpoints(t, nodeURL, account.ID)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "P0001" {
		t.Errorf("delete the account's records under a temporary audit_checkpoints table: error %v, want the audit trigger's exception", err)
	}
	if n := pgtest.QueryInt(t, ownerURL, `SELECT COUNT(*) FROM audit_records WHERE account_id = $1`, account.ID); n != 3 {
		t.Errorf("records of the account after the attack: %d, want 3", n)
	}
}

// deleteUnderTemporaryCheckpoints connects to dbURL, covers every record of accountID by
// a checkpoint in a temporary table named audit_checkpoints, and deletes the account's
// records. It returns the error of the delete.
func deleteUnderTemporaryCheckpoints(t *testing.T, dbURL, accountID string) error {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TEMPORARY TABLE audit_checkpoints (account_id TEXT, seq BIGINT)`); err != nil {
		t.Fatalf("create a temporary audit_checkpoints table: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO pg_temp.audit_checkpoints VALUES ($1, 1000000000)`, accountID); err != nil {
		t.Fatalf("insert into the temporary audit_checkpoints table: %v", err)
	}
	_, err := conn.Exec(ctx, `DELETE FROM audit_records WHERE account_id = $1`, accountID)
	return err
}

// withSearchPath returns dbURL with the search_path that its connections use set to schema.
func withSearchPath(t *testing.T, dbURL, schema string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse the database URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
