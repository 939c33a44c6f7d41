package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
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
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	want := storetest.RunDeletedClientIDBackfill(t, db, func(t *testing.T) iogate.Store {
		return reapplyMigrations(t, db, url, []int{deletedClientIDsMigration, deletedSecretHashesMigration},
			`DROP TABLE deleted_client_ids`)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := pgtest.Connect(t, url).Query(ctx, `SELECT account_id, client_id, deleted_at FROM deleted_client_ids ORDER BY deleted_at`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storetest.Tombstone, error) {
		var ts storetest.Tombstone
		err := r.Scan(&ts.AccountID, &ts.ClientID, &ts.DeletedAt)
		ts.DeletedAt = ts.DeletedAt.UTC()
		return ts, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tombstones after the migration, oldest first (-want +got):\n%s", diff)
	}
}

// reapplyMigration closes db, runs undo to take the database at url back to the schema
// before migration version, deletes its row from schema_migrations and opens the
// database again, which applies the migration. It returns the reopened store.
func reapplyMigration(t *testing.T, db *postgres.DB, url string, version int, undo ...string) *postgres.DB {
	t.Helper()
	return reapplyMigrations(t, db, url, []int{version}, undo...)
}

// reapplyMigrations is reapplyMigration for several migrations, given in ascending order,
// which undo must all take back.
func reapplyMigrations(t *testing.T, db *postgres.DB, url string, versions []int, undo ...string) *postgres.DB {
	t.Helper()
	db.Close()
	for _, stmt := range undo {
		pgtest.Exec(t, url, stmt)
	}
	for _, version := range versions {
		pgtest.Exec(t, url, `DELETE FROM schema_migrations WHERE version = $1`, version)
	}
	migrated := open(t, url)
	if _, applied := migrated.Migrations(); !slices.Equal(applied, versions) {
		t.Fatalf("Open applied migrations %v, want %v", applied, versions)
	}
	return migrated
}
