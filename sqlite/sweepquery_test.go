package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// explainQueryPlan returns the detail of each step of SQLite's query plan for query.
func explainQueryPlan(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// sweepIndexes are the indexes that migration 0010 adds for the sweep.
var sweepIndexes = []string{"sessions_by_expiry", "sessions_by_last_seen", "user_links_by_expiry", "user_links_used"}

// TestSweepQueriesUseIndexes checks that each batch of the sweep searches indexes for the
// rows it deletes, rather than scanning the table.
func TestSweepQueriesUseIndexes(t *testing.T) {
	db := openTestDB(t)
	cases := []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"sessions", deleteEndedSessionsQuery, []any{1, 2, 500}, []string{"sessions_by_expiry", "sessions_by_last_seen"}},
		{"links", deleteSpentUserLinksQuery, []any{1, 500}, []string{"user_links_used", "user_links_by_expiry"}},
		{"form tokens", deleteExpiredFormTokensQuery, []any{1, 500}, []string{"used_form_tokens_by_expiry"}},
		{"revocations", deleteExpiredRevocationsQuery, []any{1, 500}, []string{"revoked_tokens_by_expiry"}},
	}
	for _, c := range cases {
		plan := explainQueryPlan(t, db, c.query, c.args...)
		for _, index := range c.want {
			searches := slices.ContainsFunc(plan, func(step string) bool {
				return strings.HasPrefix(step, "SEARCH ") && strings.Contains(step, " INDEX "+index+" ")
			})
			if !searches {
				t.Errorf("%s: plan %q does not search %s", c.name, plan, index)
			}
		}
		if slices.ContainsFunc(plan, func(step string) bool { return strings.HasPrefix(step, "SCAN ") }) {
			t.Errorf("%s: plan %q scans a table or an index", c.name, plan)
		}
		t.Logf("%s: %q", c.name, plan)
	}
}

// TestDeleteKeyChangesQueryPlan checks that the change-feed delete finds its rows through
// the primary key. Its window of the first rows is a SCAN in rowid order that stops after
// LIMIT rows, whereas a sort of the whole table (a temporary B-tree) would read every row.
func TestDeleteKeyChangesQueryPlan(t *testing.T) {
	db := openTestDB(t)
	plan := explainQueryPlan(t, db, deleteKeyChangesBeforeQuery, 1, 500)
	if !slices.Contains(plan, "SEARCH key_changes USING INTEGER PRIMARY KEY (rowid<?)") {
		t.Errorf("plan %q does not search key_changes by its primary key", plan)
	}
	if slices.ContainsFunc(plan, func(step string) bool { return strings.Contains(step, "TEMP B-TREE") }) {
		t.Errorf("plan %q sorts key_changes", plan)
	}
	t.Logf("%q", plan)
}

// TestSweepIndexMigrationOnExistingRows applies migration 0010 to a database that holds
// sessions and links already: it adds the indexes, keeps every row, and the sweep then
// deletes the ended ones.
func TestSweepIndexMigrationOnExistingRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	// Take the schema back to version 9.
	for _, index := range sweepIndexes {
		if _, err := db.writer.Exec(`DROP INDEX ` + index); err != nil {
			t.Fatalf("drop index %s: %v", index, err)
		}
	}
	if _, err := db.writer.Exec(`DELETE FROM schema_migrations WHERE version = 10`); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	accountID := createTestAccount(t, db)
	u := &iogate.User{ID: iogate.NewID(), AccountID: accountID, Email: "owner@acme.test", Role: iogate.RoleOwner,
		PasswordHash: "$argon2id$hash", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for i, times := range [][2]time.Time{
		{now, now.Add(time.Hour)},                          // live
		{now, now.Add(-time.Minute)},                       // past its expiry
		{now.Add(-2 * time.Hour), now.Add(10 * time.Hour)}, // idle
	} {
		s := &iogate.Session{IDHash: []byte{byte(i)}, UserID: u.ID, AccountID: accountID, Stage: iogate.SessionSignedIn,
			CreatedAt: now, LastSeenAt: times[0], ExpiresAt: times[1], ConfirmedAt: now}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatalf("CreateSession %d: %v", i, err)
		}
	}
	for i, link := range []struct {
		expires time.Time
		used    any
	}{
		{now.Add(time.Hour), nil},           // pending
		{now.Add(time.Hour), toMicros(now)}, // used
		{now.Add(-time.Minute), nil},        // expired
	} {
		if _, err := db.writer.Exec(`INSERT INTO user_links (token_hash, purpose, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)`,
			[]byte{byte(i)}, iogate.LinkInvite, toMicros(now), toMicros(link.expires), link.used); err != nil {
			t.Fatalf("insert link %d: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTestDBAt(t, path)
	defer db.Close()
	if version, applied := db.Migrations(); !slices.Equal(applied, []int{10}) || version < 10 {
		t.Fatalf("reopening applied migrations %v up to version %d, want [10]", applied, version)
	}
	for _, index := range sweepIndexes {
		var n int
		if err := db.reader.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, index).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s after the migration: %d found, error %v; want it to exist", index, n, err)
		}
	}
	for table, want := range map[string]int{"sessions": 3, "user_links": 3} {
		var n int
		if err := db.reader.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != want {
			t.Errorf("%s after the migration: %d rows, error %v; want %d", table, n, err, want)
		}
	}
	if n, err := db.DeleteEndedSessions(ctx, now, now.Add(-30*time.Minute), 500); err != nil || n != 2 {
		t.Errorf("DeleteEndedSessions after the migration = %d, %v; want the expired and the idle session", n, err)
	}
	if n, err := db.DeleteSpentUserLinks(ctx, now, 500); err != nil || n != 2 {
		t.Errorf("DeleteSpentUserLinks after the migration = %d, %v; want the used and the expired link", n, err)
	}
}
