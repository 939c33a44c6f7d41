package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestKeyUpdateExpiry checks that key update sets, replaces and removes a key's expiry
// with --expires-at, --expires-in and --no-expiry, rejects conflicting or invalid values,
// and that the running server refuses the key's tokens once the new expiry passes.
func TestKeyUpdateExpiry(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	k := createKey(t, dir, f.accountID, "expiring")
	waitForKey(t, f.srv, k.ClientID, k.ClientSecret)

	var shown struct {
		ExpiresAt *time.Time `json:"expiresAt"`
	}
	testenv.CLIJSON(t, dir, &shown, "key", "update", k.ClientID, "--expires-at", "2030-06-30T00:00:00Z")
	if want := time.Date(2030, 6, 30, 0, 0, 0, 0, time.UTC); shown.ExpiresAt == nil || !shown.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt after --expires-at = %v, want %v", shown.ExpiresAt, want)
	}

	shown.ExpiresAt = nil
	testenv.CLIJSON(t, dir, &shown, "key", "update", k.ClientID, "--no-expiry")
	if shown.ExpiresAt != nil {
		t.Errorf("expiresAt after --no-expiry = %v, want none", shown.ExpiresAt)
	}

	// A lifetime of 0 removes the expiry, as it means no expiry for "key create".
	testenv.CLIJSON(t, dir, &shown, "key", "update", k.ClientID, "--expires-in", "1h")
	shown.ExpiresAt = nil
	testenv.CLIJSON(t, dir, &shown, "key", "update", k.ClientID, "--expires-in", "0")
	if shown.ExpiresAt != nil {
		t.Errorf("expiresAt after --expires-in 0 = %v, want none", shown.ExpiresAt)
	}

	rejected := []struct {
		name    string
		args    []string
		message string
	}{
		{"two expiry flags", []string{"--expires-in", "1h", "--no-expiry"}, "cannot be used together"},
		{"negative lifetime", []string{"--expires-in=-1h"}, "must not be negative"},
		{"time without zone", []string{"--expires-at", "2030-06-30"}, "expected an RFC 3339 time"},
		{"time in the past", []string{"--expires-at", "2001-01-01T00:00:00Z"}, "must be in the future"},
	}
	for _, c := range rejected {
		res := testenv.RunCLI(t, dir, nil, append([]string{"key", "update", k.ClientID}, c.args...)...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.message) {
			t.Errorf("%s: exit %d, stderr %q; want a failure that says %q", c.name, res.ExitCode, res.Stderr, c.message)
		}
	}

	tok := tokenFrom(t, f.srv.Client, f.srv, k.ClientID, k.ClientSecret)
	if r := vaultsWith(t, f.srv.Client, f.srv, tok); r.status != http.StatusOK {
		t.Fatalf("GET /v1/vaults before the new expiry: status %d, want 200", r.status)
	}
	start := time.Now()
	testenv.CLIJSON(t, dir, nil, "key", "update", k.ClientID, "--expires-in", "2s")
	waitForStatus(t, f.srv.Client, f.srv, tok, http.StatusUnauthorized, start, 5*time.Second)
}

// TestKeyCreateExpiresAt checks that key create sets the expiry that --expires-at names and
// rejects it beside --expires-in or in the past.
func TestKeyCreateExpiresAt(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	var created struct {
		ExpiresAt *time.Time `json:"expiresAt"`
	}
	testenv.CLIJSON(t, dir, &created, "key", "create", "--account", f.accountID, "--name", "dated", "--expires-at", "2030-06-30T00:00:00Z")
	if want := time.Date(2030, 6, 30, 0, 0, 0, 0, time.UTC); created.ExpiresAt == nil || !created.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt of the created key = %v, want %v", created.ExpiresAt, want)
	}

	rejected := []struct {
		name    string
		args    []string
		message string
	}{
		{"both expiry flags", []string{"--expires-in", "1h", "--expires-at", "2030-06-30T00:00:00Z"}, "expires-at"},
		{"time without zone", []string{"--expires-at", "2030-06-30"}, "expected an RFC 3339 time"},
		{"time in the past", []string{"--expires-at", "2001-01-01T00:00:00Z"}, "must be in the future"},
	}
	for _, c := range rejected {
		args := append([]string{"key", "create", "--account", f.accountID, "--name", "rejected"}, c.args...)
		res := testenv.RunCLI(t, dir, nil, args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.message) {
			t.Errorf("%s: exit %d, stderr %q; want a failure that says %q", c.name, res.ExitCode, res.Stderr, c.message)
		}
	}
}
