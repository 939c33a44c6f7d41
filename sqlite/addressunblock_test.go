package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/storetest"
)

// addressUnblockMigration is the version of the migration that adds key_changes.address
// and key_changes.operator.
const addressUnblockMigration = 21

// TestAddressUnblockMigration takes a database with key changes back to the schema before
// the address and operator columns and opens it again. The changes must read back as
// before, and an unblock must record after them.
func TestAddressUnblockMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	storetest.RunAddressUnblockMigration(t, db, func(t *testing.T) iogate.Store {
		return reapplyMigration(t, db, path, addressUnblockMigration,
			`ALTER TABLE key_changes DROP COLUMN address`, `ALTER TABLE key_changes DROP COLUMN operator`)
	})
}
