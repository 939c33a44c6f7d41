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

// TestMasterKeyFileHoldingKey checks that a --master-key-file value that is a base64
// master key rather than a path is rejected. Without the check the command would create
// a new key in a file named after the intended key, and echo that key in its messages.
func TestMasterKeyFileHoldingKey(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	// A 32-byte key whose base64 has no slash, so that it is also a valid file name.
	key := "TGZ5d29yTFhjWnIwTHptc1l3dStZcFJZWHQ4QnJabG0="

	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "flag", args: []string{"--master-key-file", key, "account", "create", "--name", "Acme", "--email", "ops@acme.test"}},
		{name: "environment", args: []string{"account", "create", "--name", "Acme", "--email", "ops@acme.test"}, env: map[string]string{"IOGATE_MASTER_KEY_FILE": key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, dir, tt.env, tt.args...)
			if err == nil {
				t.Fatalf("account create with the key as --master-key-file: succeeded, want an error")
			}
			if strings.Contains(err.Error()+stdout+stderr, key) {
				t.Errorf("account create with the key as --master-key-file: the output contains the key")
			}
			if !strings.Contains(err.Error(), "IOGATE_MASTER_KEY") {
				t.Errorf("account create with the key as --master-key-file: error %q, want it to name IOGATE_MASTER_KEY", err)
			}
			if _, statErr := os.Stat(key); !os.IsNotExist(statErr) {
				t.Errorf("account create with the key as --master-key-file: a file named after the key exists (stat error %v)", statErr)
			}
		})
	}
}

// TestPostgresCLIWithoutMasterKey checks that a CLI command on PostgreSQL without a master
// key fails with a message about that command, not about nodes. The key is loaded before
// the database is opened, so the URL's server is never contacted.
func TestPostgresCLIWithoutMasterKey(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCLI(t, dir, nil, "--database", "postgres://iogate@127.0.0.1:1/iogate", "account", "list")
	if err == nil {
		t.Fatal("account list on PostgreSQL without a master key succeeded, want an error")
	}
	msg := err.Error()
	for _, want := range []string{`"iogate account list" needs the master key that the servers use`, "IOGATE_MASTER_KEY", "--master-key-file",
		filepath.Join(dir, "master.key") + " does not exist", "iogate master-key generate"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "node") {
		t.Errorf("error %q speaks of nodes, but a CLI command ran", msg)
	}
}
