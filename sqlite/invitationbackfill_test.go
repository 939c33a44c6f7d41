package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/storetest"
)

// invitationIDsMigration is the version of the migration that gives links an ID and a
// creator.
const invitationIDsMigration = 17

// TestInvitationMigrationBackfill takes a database with invitations back to the schema
// before link IDs and creators, and opens it again. The migration must give every
// invitation an ID, and the creator that its user.invited record names.
func TestInvitationMigrationBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	storetest.RunInvitationBackfill(t, db, func(t *testing.T, legacy ...string) iogate.Store {
		undo := []string{
			`DROP INDEX user_links_by_id`,
			`ALTER TABLE user_links DROP COLUMN id`,
			`ALTER TABLE user_links DROP COLUMN created_by_type`,
			`ALTER TABLE user_links DROP COLUMN created_by_id`,
		}
		return reapplyMigration(t, db, path, invitationIDsMigration, append(undo, legacy...)...)
	})
}
