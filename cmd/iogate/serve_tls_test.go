package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBadTLSPairLeavesNoDataDir checks that a first start whose --tls-cert cannot be
// loaded fails before it creates the data directory, so that no master key, database or
// signing key is left behind for a later start to trip over.
func TestServeBadTLSPairLeavesNoDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, stderr, err := runCLI(t, dir, nil, "serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "",
		"--tls-cert", missing, "--tls-key", missing)
	if err == nil {
		t.Fatal("serve with a missing --tls-cert succeeded")
	}
	if !strings.Contains(stderr, missing) {
		t.Errorf("serve with a missing --tls-cert: stderr %q, want it to name %s", stderr, missing)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve with a missing --tls-cert: stat of the data directory = %v, want it not to exist", err)
	}
}
