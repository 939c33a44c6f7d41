package pgtest

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// PGBinVariable names the environment variable that holds the directory of the cluster's
// programs, pg_dump and pg_restore among them.
const PGBinVariable = "IOGATE_TEST_PGBIN"

// Dump writes the database at dbURL to a new file in pg_dump's custom format and returns
// its path.
func Dump(t testing.TB, dbURL string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "iogate.dump")
	runClient(t, dbURL, "pg_dump", "--format=custom", "--file="+file)
	return file
}

// Restore replaces the database at dbURL with the dump, as an operator restores a backup
// with pg_restore: every object is dropped and created again, in one transaction.
func Restore(t testing.TB, dbURL, dump string) {
	t.Helper()
	runClient(t, dbURL, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", dump)
}

// runClient runs one of the cluster's client programs on the database at dbURL. The
// password goes in PGPASSWORD, so that it is neither in the process list nor in an error.
func runClient(t testing.TB, dbURL, program string, args ...string) {
	t.Helper()
	bin := clusterVariable(t, PGBinVariable, "set it")
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("%s does not parse as a URL", URLVariable)
	}
	password, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, program), append([]string{"--dbname=" + u.String()}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", program, err, out)
	}
}
