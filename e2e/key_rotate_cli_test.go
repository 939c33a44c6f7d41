package e2e

import (
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestKeyRotateNamesRetiredGeneration rotates a key twice within the first rotation's
// grace period. The second rotation retires the oldest secret at once, and its output
// must name that secret, not only the one that keeps working.
func TestKeyRotateNamesRetiredGeneration(t *testing.T) {
	dir := newDataDir(t)
	accountID := createAccount(t, dir, "Acme Custody", "ops@acme.test")
	k := createKey(t, dir, accountID, "rotated")

	first := testenv.RunCLI(t, dir, nil, "key", "rotate", k.ClientID, "--grace", "1h")
	if first.ExitCode != 0 {
		t.Fatalf("first key rotate: exit %d, stderr %s", first.ExitCode, first.Stderr)
	}
	if strings.Contains(first.Stdout, "stopped working now") {
		t.Errorf("first rotation names a retired secret, but none was in a grace period:\n%s", withoutSecretLine(first.Stdout))
	}

	second := testenv.RunCLI(t, dir, nil, "key", "rotate", k.ClientID)
	if second.ExitCode != 0 {
		t.Fatalf("second key rotate: exit %d, stderr %s", second.ExitCode, second.Stderr)
	}
	if !strings.Contains(second.Stdout, "Secret generation 1, whose grace period would have lasted until ") ||
		!strings.Contains(second.Stdout, "stopped working now") {
		t.Errorf("second rotation within the grace period does not say that generation 1 stopped working:\n%s", withoutSecretLine(second.Stdout))
	}
}

// withoutSecretLine returns the output of key rotate without its line that shows the new
// client secret, for a failure message.
func withoutSecretLine(out string) string {
	var kept []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "client secret:") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}
