package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMasterKeyModeWarning checks that a command warns when the master key file can be
// read by users other than its owner, and stays quiet once the file is mode 0600.
func TestMasterKeyModeWarning(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	keyFile := filepath.Join(dir, "master.key")

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, dir, nil, "account", "list")
	if err != nil {
		t.Fatalf("account list with a mode-0644 key file: %v", err)
	}
	for _, want := range []string{"iogate: warning: the master key file", "(mode 0644)", "chmod 600"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("account list with a mode-0644 key file: stderr %q, want it to contain %q", stderr, want)
		}
	}

	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runCLI(t, dir, nil, "account", "list")
	if err != nil {
		t.Fatalf("account list with a mode-0600 key file: %v", err)
	}
	if stderr != "" {
		t.Errorf("account list with a mode-0600 key file: stderr %q, want none", stderr)
	}
}
