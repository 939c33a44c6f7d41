package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/storetest"
)

// signingKeyLogMigration is the version of the migration that adds the account of the
// signing-key log.
const signingKeyLogMigration = 15

// TestSigningKeyLogMigration takes a database with audit chains back to the schema before
// the signing-key log and opens it again. The chains must verify unchanged.
func TestSigningKeyLogMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	storetest.RunSigningKeyLogUpgrade(t, db, func(t *testing.T) iogate.Store {
		return reopenWithMigration(t, db, path, signingKeyLogMigration,
			fmt.Sprintf(`DELETE FROM accounts WHERE id = '%s'`, iogate.SigningKeyLogID))
	})
}

// reopenWithMigration runs undo on db to take its database back to the schema before
// migration version, and opens the database at path again. Open must apply that migration
// alone. db is closed.
func reopenWithMigration(t *testing.T, db *DB, path string, version int, undo ...string) *DB {
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
