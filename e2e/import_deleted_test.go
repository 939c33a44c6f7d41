package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// importStore is a database that the CLI and a server share, with the calls that a test
// makes on it.
type importStore struct {
	dir string
	env []string
	// cliJSON runs a CLI command with --json, fails the test unless it succeeds, and
	// decodes its output into out.
	cliJSON func(t *testing.T, out any, args ...string)
	// start runs "iogate serve" with args on the database.
	start func(t *testing.T, args ...string) *testenv.Server
}

func sqliteImportStore(t *testing.T) importStore {
	dir := newDataDir(t)
	return importStore{
		dir: dir,
		cliJSON: func(t *testing.T, out any, args ...string) {
			t.Helper()
			testenv.CLIJSON(t, dir, out, args...)
		},
		start: func(t *testing.T, args ...string) *testenv.Server {
			t.Helper()
			return testenv.Start(t, dir, testenv.Options{HTTPListen: "-", Args: args})
		},
	}
}

func postgresImportStore(t *testing.T) importStore {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	return importStore{
		dir:     d.cliDir,
		env:     d.env(),
		cliJSON: d.cliJSON,
		start: func(t *testing.T, args ...string) *testenv.Server {
			t.Helper()
			return d.startNode(t, "node", args...)
		},
	}
}

// TestImportDeletedClientIDAfterRetention deletes a key and lets a server's audit
// retention prune its key.deleted record. "iogate key import" must still reject the
// deleted key's client ID in its account, and accept it in another account, on SQLite and
// on PostgreSQL.
func TestImportDeletedClientIDAfterRetention(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) importStore
	}{
		{"SQLite", sqliteImportStore},
		{"PostgreSQL", postgresImportStore},
	}
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			var account, other struct{ ID string }
			s.cliJSON(t, &account, "account", "create", "--name", "Acme Custody", "--email", "ops@acme.test")
			s.cliJSON(t, &other, "account", "create", "--name", "Other", "--email", "ops@other.test")
			var deleted createdKey
			s.cliJSON(t, &deleted, "key", "create", "--account", account.ID, "--name", "deleted")
			s.cliJSON(t, nil, "key", "delete", deleted.ClientID)

			// Retention keeps each account's newest record, so a newer one follows the
			// deletion.
			time.Sleep(2100 * time.Millisecond)
			s.cliJSON(t, nil, "key", "create", "--account", account.ID, "--name", "recent")
			srv := s.start(t, "--audit-retention", "2s")
			waitLogWithin(t, srv, "audit records pruned", 10*time.Second)
			var records struct{ Data []auditRecord }
			s.cliJSON(t, &records, "audit", "list", "--account", account.ID, "--event", "key.deleted")
			if len(records.Data) != 0 {
				t.Fatalf("key.deleted records after retention: %d, want 0", len(records.Data))
			}

			secretFile := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(secretFile, []byte("a secret from the system iogate replaces\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"key", "import", "--name", "imported", "--client-id", deleted.ClientID, "--secret-file", secretFile}
			res := testenv.RunCLI(t, s.dir, s.env, append(args, "--account", account.ID)...)
			if res.ExitCode == 0 {
				t.Fatal("key import with the deleted key's client ID succeeded after retention pruned its key.deleted record")
			}
			if !strings.Contains(res.Stderr, "belonged to a key of this account that was deleted") {
				t.Errorf("key import with the deleted key's client ID: stderr %q does not say that the client ID was deleted", res.Stderr)
			}
			var imported struct{ ClientID string }
			s.cliJSON(t, &imported, append(args, "--account", other.ID)...)
			if imported.ClientID != deleted.ClientID {
				t.Errorf("key import into another account returned client ID %q, want %s", imported.ClientID, deleted.ClientID)
			}
		})
	}
}
