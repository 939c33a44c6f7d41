package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/storetest"
)

// exposedGenerationMigration is the version of the migration that adds
// api_keys.exposed_generation.
const exposedGenerationMigration = 16

// TestExposedGenerationMigrationBackfill takes a database with exposed keys back to the
// schema before api_keys.exposed_generation and opens it again. The migration must fill
// in the generation from the key.exposed audit records.
func TestExposedGenerationMigrationBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iogate.db")
	db := openTestDBAt(t, path)
	t.Cleanup(func() { db.Close() })
	storetest.RunExposedGenerationBackfill(t, db, func(t *testing.T) iogate.Store {
		return reapplyMigration(t, db, path, exposedGenerationMigration, `ALTER TABLE api_keys DROP COLUMN exposed_generation`)
	})
}
