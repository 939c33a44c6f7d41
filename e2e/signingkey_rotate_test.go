package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestSigningKeyRotateText checks the text that signing-key rotate prints: a warning when
// the new key activates sooner than verifiers may cache the JWKS, and what the rotation
// replaced. The first key of an algorithm replaces none; the next one replaces it.
func TestSigningKeyRotateText(t *testing.T) {
	dir := newDataDir(t)
	createAccount(t, dir, "Acme", "ops@acme.test")

	res := testenv.RunCLI(t, dir, nil, "signing-key", "rotate", "--algorithm", "ES256", "--activate-in", "5s")
	if res.ExitCode != 0 {
		t.Fatalf("rotate --algorithm ES256: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "shorter than the 5m") {
		t.Errorf("rotate --activate-in 5s: stderr %q lacks the warning about the JWKS cache", res.Stderr)
	}
	if !strings.Contains(res.Stdout, "no earlier ES256 key signs") {
		t.Errorf("first ES256 rotation: stdout %q does not say that it replaces no key", res.Stdout)
	}

	res = testenv.RunCLI(t, dir, nil, "signing-key", "rotate", "--algorithm", "ES256")
	if res.ExitCode != 0 {
		t.Fatalf("second rotate --algorithm ES256: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	if res.Stderr != "" {
		t.Errorf("rotate with the default activation delay: stderr %q, want no warning", res.Stderr)
	}
	if !strings.Contains(res.Stdout, "the current ES256 key stops signing then") {
		t.Errorf("second ES256 rotation: stdout %q does not say that the current key stops signing", res.Stdout)
	}
}

// TestSigningKeyCommandsWithoutMasterKey checks that a signing-key command on a store that
// "iogate migrate" created, before any command made the master key, names the way out.
func TestSigningKeyCommandsWithoutMasterKey(t *testing.T) {
	dir := newDataDir(t)
	res := testenv.RunCLI(t, dir, nil, "signing-key", "list")
	if res.ExitCode == 0 {
		t.Fatal("signing-key list without a master key: exit 0, want a failure")
	}
	for _, want := range []string{"no master key at", "iogate account create", "--master-key-file"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("signing-key list without a master key: stderr %q lacks %q", res.Stderr, want)
		}
	}
}

// TestRevokeScheduledKeyDueSoon checks the warning printed when a revoked scheduled key was
// due sooner than verifiers may cache the JWKS: they may reject its replacement's first
// tokens.
func TestRevokeScheduledKeyDueSoon(t *testing.T) {
	dir := newDataDir(t)
	createAccount(t, dir, "Acme", "ops@acme.test")
	res := testenv.RunCLI(t, dir, nil, "signing-key", "rotate", "--activate-in", "2m", "--json")
	if res.ExitCode != 0 {
		t.Fatalf("rotate --activate-in 2m: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	var scheduled struct{ KID string }
	if err := json.Unmarshal([]byte(res.Stdout), &scheduled); err != nil || scheduled.KID == "" {
		t.Fatalf("rotate --json output %q has no kid", res.Stdout)
	}

	res = testenv.RunCLI(t, dir, nil, "signing-key", "revoke", "--", scheduled.KID)
	if res.ExitCode != 0 {
		t.Fatalf("revoke of the scheduled key: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	for _, want := range []string{"when the revoked key was to start", "sooner than verifiers may cache the JWKS"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("revoke of a key due in 2m: stdout %q lacks %q", res.Stdout, want)
		}
	}
}
