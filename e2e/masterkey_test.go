package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestMasterKeyFileOnlyForNewStore checks that no command creates DATA_DIR/master.key for
// a store whose secrets another master key encrypted, here one from IOGATE_MASTER_KEY. A
// new key would not decrypt them, and the stray file would look like the store's key.
func TestMasterKeyFileOnlyForNewStore(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	masterKey := base64.StdEncoding.EncodeToString(raw)
	withKey := []string{"IOGATE_MASTER_KEY=" + masterKey}
	// An empty variable counts as unset, so the commands below look for the key file.
	withoutKey := []string{"IOGATE_MASTER_KEY="}

	dir := newDataDir(t)
	keyFile := filepath.Join(dir, "master.key")
	res := testenv.RunCLI(t, dir, withKey, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	if res.ExitCode != 0 {
		t.Fatalf("account create with IOGATE_MASTER_KEY: exit %d: %s", res.ExitCode, res.Stderr)
	}
	assertNoFile(t, keyFile, "account create with IOGATE_MASTER_KEY")

	rejected := []struct {
		name string
		args []string
		want string
	}{
		{"account create", []string{"account", "create", "--name", "Other", "--email", "other@acme.test"},
			"no master key at " + keyFile + ", but the database already holds secrets encrypted under a master key"},
		{"serve", []string{"serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", ""},
			"no master key at " + keyFile + ", but the database already holds secrets encrypted under a master key"},
		{"account list", []string{"account", "list"}, "no master key at " + keyFile + ":"},
	}
	for _, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			res := testenv.RunCLI(t, dir, withoutKey, c.args...)
			if res.ExitCode == 0 {
				t.Errorf("%s without the master key: exit 0, want a failure", c.name)
			}
			if !strings.Contains(res.Stderr, c.want) {
				t.Errorf("%s without the master key: stderr %q, want it to contain %q", c.name, res.Stderr, c.want)
			}
			assertNoFile(t, keyFile, c.name+" without the master key")
		})
	}

	t.Run("key in another file", func(t *testing.T) {
		otherFile := filepath.Join(t.TempDir(), "iogate-master.key")
		if err := os.WriteFile(otherFile, []byte(masterKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		res := testenv.RunCLI(t, dir, withoutKey, "account", "create", "--name", "Third", "--email", "third@acme.test", "--master-key-file", otherFile)
		if res.ExitCode != 0 {
			t.Fatalf("account create --master-key-file: exit %d: %s", res.ExitCode, res.Stderr)
		}
		assertNoFile(t, keyFile, "account create --master-key-file")
	})
}

// assertNoFile fails the test when path exists. The step names what must not have created
// it.
func assertNoFile(t *testing.T, path, step string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left %s (stat: %v), want no such file", step, path, err)
	}
}
