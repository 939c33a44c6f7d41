package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/storetest"
)

// deletedClientIDsMigration is the version of the migration that adds deleted_client_ids.
const deletedClientIDsMigration = 14

// TestDeletedClientIDMigrationBackfill takes a database with deleted keys back to the
// schema before deleted_client_ids and opens it again. The migration must write a
// tombstone for each key.deleted record that the audit log holds.
func TestDeletedClientIDMigrationBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	var migrated *DB
	want := storetest.RunDeletedClientIDBackfill(t, db, func(t *testing.T) iogate.Store {
		migrated = reapplyMigration(t, db, path, deletedClientIDsMigration, `DROP TABLE deleted_client_ids`)
		return migrated
	})

	rows, err := migrated.reader.Query(`SELECT account_id, client_id, deleted_at FROM deleted_client_ids ORDER BY deleted_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []storetest.Tombstone
	for rows.Next() {
		var ts storetest.Tombstone
		var at int64
		if err := rows.Scan(&ts.AccountID, &ts.ClientID, &at); err != nil {
			t.Fatal(err)
		}
		ts.DeletedAt = fromMicros(at)
		got = append(got, ts)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tombstones after the migration, oldest first (-want +got):\n%s", diff)
	}
}

// reapplyMigration runs undo on db, the database at path, to take it back to the schema
// before the migration version, forgets that the migration was applied, and closes db. It
// returns the database opened again, which must have applied that migration alone.
func reapplyMigration(t *testing.T, db *DB, path string, version int, undo ...string) *DB {
	t.Helper()
	for _, stmt := range append(undo, fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, version)) {
		if _, err := db.writer.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	migrated := openTestDBAt(t, path)
	t.Cleanup(func() { migrated.Close() })
	if _, applied := migrated.Migrations(); !slices.Equal(applied, []int{version}) {
		t.Fatalf("Open applied migrations %v, want [%d]", applied, version)
	}
	return migrated
}
