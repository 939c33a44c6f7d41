package postgres_test

import (
	"slices"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/storetest"
)

// signingKeyLogMigration is the version of the migration that adds the account of the
// signing-key log.
const signingKeyLogMigration = 15

// TestSigningKeyLogMigration takes a database with audit chains back to the schema before
// the signing-key log and opens it again. The chains must verify unchanged.
func TestSigningKeyLogMigration(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	storetest.RunSigningKeyLogUpgrade(t, db, func(t *testing.T) iogate.Store {
		db.Close()
		pgtest.Exec(t, url, `DELETE FROM accounts WHERE id = $1`, iogate.SigningKeyLogID)
		return reopenWithMigration(t, url, signingKeyLogMigration)
	})
}

// reopenWithMigration deletes the record of migration version from the database at url,
// whose schema the caller took back to the one before it, and opens the database again.
// Open must apply that migration alone.
func reopenWithMigration(t *testing.T, url string, version int) *postgres.DB {
	t.Helper()
	pgtest.Exec(t, url, `DELETE FROM schema_migrations WHERE version = $1`, version)
	migrated := open(t, url)
	if _, applied := migrated.Migrations(); !slices.Equal(applied, []int{version}) {
		t.Fatalf("Open applied migrations %v, want [%d]", applied, version)
	}
	return migrated
}
