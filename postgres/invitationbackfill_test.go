package postgres_test

import (
	"slices"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/storetest"
)

// invitationIDsMigration is the version of the migration that gives links an ID and a
// creator.
const invitationIDsMigration = 17

// TestInvitationMigrationBackfill takes a database with invitations back to the schema
// before link IDs and creators, and opens it again. The migration must give every
// invitation an ID, and the creator that its user.invited record names.
func TestInvitationMigrationBackfill(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	storetest.RunInvitationBackfill(t, db, func(t *testing.T, legacy ...string) iogate.Store {
		db.Close()
		pgtest.Exec(t, url, `ALTER TABLE user_links DROP COLUMN id, DROP COLUMN created_by_type, DROP COLUMN created_by_id`)
		for _, stmt := range legacy {
			pgtest.Exec(t, url, stmt)
		}
		pgtest.Exec(t, url, `DELETE FROM schema_migrations WHERE version = $1`, invitationIDsMigration)
		migrated := open(t, url)
		if _, applied := migrated.Migrations(); !slices.Equal(applied, []int{invitationIDsMigration}) {
			t.Fatalf("Open applied migrations %v, want [%d]", applied, invitationIDsMigration)
		}
		return migrated
	})
}
