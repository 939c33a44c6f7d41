package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestBackupRejectsPostgres runs "iogate backup" with a PostgreSQL database configured
// and a data directory that still holds a SQLite database, as after a first try on one
// machine. Copying that file would look like a backup of the PostgreSQL database, so the
// command must fail, say what to use instead, and write nothing.
func TestBackupRejectsPostgres(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	testenv.CLIJSON(t, dir, nil, "migrate")
	to := filepath.Join(t.TempDir(), "backup.db")

	// Nothing connects to the database: the port is closed.
	res := testenv.RunCLI(t, dir, []string{"IOGATE_DATABASE=postgres://iogate@127.0.0.1:1/iogate"}, "backup", "--to", to)
	if res.ExitCode == 0 {
		t.Errorf("backup with PostgreSQL configured: exit 0, want a failure; output %q", res.Stdout)
	}
	if !strings.Contains(res.Stderr, "pg_dump") {
		t.Errorf("backup with PostgreSQL configured: standard error %q does not name pg_dump", res.Stderr)
	}
	if _, err := os.Stat(to); err == nil {
		t.Errorf("backup with PostgreSQL configured wrote %s", to)
	}
}
