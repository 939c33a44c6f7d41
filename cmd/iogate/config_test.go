package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileModeWarning checks that a command warns when users other than its owner
// can write the configuration file, and stays quiet once only the owner can. Such users
// could point the server at another master key or make it trust their own proxy.
func TestConfigFileModeWarning(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	config := filepath.Join(t.TempDir(), "iogate.yaml")
	if err := os.WriteFile(config, []byte("data-dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IOGATE_CONFIG": config}

	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		if err := os.Chmod(config, mode); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runCLI(t, dir, env, "account", "list")
		if err != nil {
			t.Fatalf("account list with a mode-%04o config file: %v", mode, err)
		}
		for _, want := range []string{"iogate: warning: the configuration file " + config, "chmod go-w"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("account list with a mode-%04o config file: stderr %q, want it to contain %q", mode, stderr, want)
			}
		}
	}

	// Readable by others is fine: the file must not hold secrets.
	if err := os.Chmod(config, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, dir, env, "account", "list")
	if err != nil {
		t.Fatalf("account list with a mode-0644 config file: %v", err)
	}
	if stderr != "" {
		t.Errorf("account list with a mode-0644 config file: stderr %q, want none", stderr)
	}
}
