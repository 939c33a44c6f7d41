package postgres_test

import (
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
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
		return reapplyMigration(t, db, url, signingKeyLogMigration, `DELETE FROM accounts WHERE id = '`+iogate.SigningKeyLogID+`'`)
	})
}
