package sqlite

import (
	"fmt"
	"path/filepath"
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
		return reapplyMigration(t, db, path, signingKeyLogMigration,
			fmt.Sprintf(`DELETE FROM accounts WHERE id = '%s'`, iogate.SigningKeyLogID))
	})
}
