package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestDurabilitySettings checks the SQLite settings that make an acknowledged write
// survive a crash or a power cut: WAL journaling with synchronous=FULL (2) on the
// connection that writes. With synchronous=NORMAL, WAL mode may lose the last commits on a
// power cut.
func TestDurabilitySettings(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2",
		"foreign_keys": "1",
		"busy_timeout": "10000",
	}
	for name, value := range want {
		var got string
		if err := db.writer.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s on the writer: %v", name, err)
		}
		if got != value {
			t.Errorf("writer PRAGMA %s = %s, want %s", name, got, value)
		}
	}
	if got, err := db.Pragma(ctx, "journal_mode"); err != nil || got != "wal" {
		t.Errorf("reader PRAGMA journal_mode = %q, %v; want wal", got, err)
	}
	if got, err := db.Pragma(ctx, "query_only"); err != nil || got != "1" {
		t.Errorf("reader PRAGMA query_only = %q, %v; want 1, so that no write bypasses the writer", got, err)
	}
	if got := db.writer.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool size = %d, want 1", got)
	}
}

// TestOpenRefusesANewerSchema opens a database on which a newer iogate applied a migration
// this one does not know. Open must fail with an error that names it, rather than leave
// queries to fail later.
func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	if _, err := db.writer.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := Open(ctx, path)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database with an unknown migration")
	}
	if !strings.Contains(err.Error(), "migration 9999") || !strings.Contains(err.Error(), "newer iogate") {
		t.Errorf("Open error %q does not name the unknown migration and its cause", err)
	}
}
