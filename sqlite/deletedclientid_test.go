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

// deletedClientIDsMigration is the version of the migration that adds deleted_client_ids,
// and deletedSecretHashesMigration the version of the one that adds its hash columns.
const (
	deletedClientIDsMigration    = 14
	deletedSecretHashesMigration = 19
)

// TestDeletedClientIDMigrationBackfill takes a database with deleted keys back to the
// schema before deleted_client_ids and opens it again. The migration must write a
// tombstone for each key.deleted record that the audit log holds.
func TestDeletedClientIDMigrationBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	var migrated *DB
	want := storetest.RunDeletedClientIDBackfill(t, db, func(t *testing.T) iogate.Store {
		migrated = reapplyMigrations(t, db, path, []int{deletedClientIDsMigration, deletedSecretHashesMigration},
			`DROP TABLE deleted_client_ids`)
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

// reapplyMigration runs undo on db to take the database at path back to the schema before
// migration version, deletes its row from schema_migrations, closes db and opens the
// database again, which applies the migration. It returns the reopened store.
func reapplyMigration(t *testing.T, db *DB, path string, version int, undo ...string) *DB {
	t.Helper()
	return reapplyMigrations(t, db, path, []int{version}, undo...)
}

// reapplyMigrations is reapplyMigration for several migrations, given in ascending order,
// which undo must all take back.
func reapplyMigrations(t *testing.T, db *DB, path string, versions []int, undo ...string) *DB {
	t.Helper()
	for _, version := range versions {
		undo = append(undo, fmt.Sprintf(`DELETE FROM schema_migrations WHERE version = %d`, version))
	}
	for _, stmt := range undo {
		if _, err := db.writer.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	migrated := openTestDBAt(t, path)
	t.Cleanup(func() { migrated.Close() })
	if _, applied := migrated.Migrations(); !slices.Equal(applied, versions) {
		t.Fatalf("Open applied migrations %v, want %v", applied, versions)
	}
	return migrated
}
