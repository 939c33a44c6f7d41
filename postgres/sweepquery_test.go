package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// sweepIndexes are the indexes that migration 0010 adds for the sweep.
var sweepIndexes = []string{"sessions_by_expiry", "sessions_by_last_seen", "user_links_by_expiry", "user_links_used"}

// seedSweepTables fills the tables that the sweep deletes from with 5,000 live rows and
// 10 ended rows of each kind, and runs ANALYZE, so that the planner chooses as it would on
// a database in use.
const seedSweepTables = `
INSERT INTO accounts (id, name, email, created_at) VALUES ('acct', 'Acme', 'ops@acme.test', now());
INSERT INTO users (id, account_id, email, role, password_hash, created_at, updated_at)
	VALUES ('user', 'acct', 'owner@acme.test', 'owner', '$argon2id$hash', now(), now());
INSERT INTO api_keys (client_id, account_id, name, scopes, created_at, updated_at, secret_hash, secret_generation, secret_created_at)
	VALUES ('key', 'acct', 'ci', 'vaults:read', now(), now(), '\x00', 1, now());

INSERT INTO sessions (id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at)
	SELECT sha256(('live' || i)::bytea), 'user', 'acct', 'signed_in', now(), now(), now() + interval '12 hours', now()
	FROM generate_series(1, 5000) AS i;
INSERT INTO sessions (id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at)
	SELECT sha256(('expired' || i)::bytea), 'user', 'acct', 'signed_in', now(), now(), now() - interval '1 minute', now()
	FROM generate_series(1, 5) AS i;
INSERT INTO sessions (id_hash, user_id, account_id, stage, created_at, last_seen_at, expires_at, confirmed_at)
	SELECT sha256(('idle' || i)::bytea), 'user', 'acct', 'signed_in', now(), now() - interval '2 hours', now() + interval '1 hour', now()
	FROM generate_series(1, 5) AS i;

INSERT INTO user_links (token_hash, purpose, account_id, created_at, expires_at)
	SELECT sha256(('pending' || i)::bytea), 'invite', 'acct', now(), now() + interval '72 hours' FROM generate_series(1, 5000) AS i;
INSERT INTO user_links (token_hash, purpose, account_id, created_at, expires_at, used_at)
	SELECT sha256(('used' || i)::bytea), 'invite', 'acct', now(), now() + interval '72 hours', now() FROM generate_series(1, 5) AS i;
INSERT INTO user_links (token_hash, purpose, account_id, created_at, expires_at)
	SELECT sha256(('expired' || i)::bytea), 'invite', 'acct', now(), now() - interval '1 minute' FROM generate_series(1, 5) AS i;

INSERT INTO used_form_tokens (token_hash, used_at, expires_at)
	SELECT sha256(('live' || i)::bytea), now(), now() + interval '13 hours' FROM generate_series(1, 5000) AS i;
INSERT INTO used_form_tokens (token_hash, used_at, expires_at)
	SELECT sha256(('expired' || i)::bytea), now(), now() - interval '1 minute' FROM generate_series(1, 10) AS i;

INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
	SELECT 'live' || i, 'key', now() + interval '1 hour', now() FROM generate_series(1, 5000) AS i;
INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
	SELECT 'expired' || i, 'key', now() - interval '1 minute', now() FROM generate_series(1, 10) AS i;

INSERT INTO key_changes (seq, client_id, changed_at)
	SELECT i, 'key', now() - interval '2 days' FROM generate_series(1, 10) AS i;
INSERT INTO key_changes (seq, client_id, changed_at)
	SELECT i, 'key', now() FROM generate_series(11, 5010) AS i;

ANALYZE sessions, user_links, used_form_tokens, revoked_tokens, key_changes;
`

// TestSweepQueriesUseIndexes checks that each batch of the sweep finds the rows it deletes
// through indexes, rather than by a sequential scan of the table, on tables whose rows are
// mostly live.
func TestSweepQueriesUseIndexes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	pgtest.Exec(t, url, seedSweepTables)

	now := time.Now()
	cases := []struct {
		name  string
		table string
		query string
		args  []any
		want  []string
	}{
		{"sessions", "sessions", deleteEndedSessionsQuery, []any{now, now.Add(-30 * time.Minute), 500},
			[]string{"sessions_by_expiry", "sessions_by_last_seen"}},
		{"links", "user_links", deleteSpentUserLinksQuery, []any{now, 500}, []string{"user_links_used", "user_links_by_expiry"}},
		{"form tokens", "used_form_tokens", deleteExpiredFormTokensQuery, []any{now, 500}, []string{"used_form_tokens_by_expiry"}},
		{"revocations", "revoked_tokens", deleteExpiredRevocationsQuery, []any{now, 500}, []string{"revoked_tokens_by_expiry"}},
		{"key changes", "key_changes", deleteKeyChangesBeforeQuery, []any{now.Add(-24 * time.Hour), 500}, []string{"key_changes_pkey"}},
	}
	for _, c := range cases {
		plan := explain(t, db, c.query, c.args...)
		for _, index := range c.want {
			if !strings.Contains(plan, " on "+index) && !strings.Contains(plan, " using "+index) {
				t.Errorf("%s: the plan does not use %s:\n%s", c.name, index, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on "+c.table) {
			t.Errorf("%s: the plan scans %s:\n%s", c.name, c.table, plan)
		}
		t.Logf("%s:\n%s", c.name, plan)
	}
}

// explain returns PostgreSQL's plan for query with args, one line per step.
func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// TestSweepIndexMigrationOnExistingRows applies migration 0010 to a database that holds
// rows in every table it indexes: it adds the indexes and keeps every row.
func TestSweepIndexMigrationOnExistingRows(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	db.Close()
	// Take the schema back to version 9, then store rows.
	pgtest.Exec(t, url, `DROP INDEX `+strings.Join(sweepIndexes, ", ")+`; DELETE FROM schema_migrations WHERE version = 10`)
	pgtest.Exec(t, url, seedSweepTables)

	db, err = Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open with migration 0010 pending: %v", err)
	}
	defer db.Close()
	if version, applied := db.Migrations(); !slices.Equal(applied, []int{10}) || version < 10 {
		t.Fatalf("reopening applied migrations %v up to version %d, want [10]", applied, version)
	}
	for _, index := range sweepIndexes {
		if n := pgtest.QueryInt(t, url, `SELECT COUNT(*) FROM pg_indexes WHERE indexname = $1`, index); n != 1 {
			t.Errorf("%d indexes named %s after the migration, want 1", n, index)
		}
	}
	for table, want := range map[string]int64{"sessions": 5010, "user_links": 5010} {
		if n := pgtest.QueryInt(t, url, `SELECT COUNT(*) FROM `+table); n != want {
			t.Errorf("%s after the migration: %d rows, want %d", table, n, want)
		}
	}
}
