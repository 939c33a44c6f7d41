package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestKeyCatchAllWarning runs key create, import and update with allowlist entries that
// allow a whole address family, and checks the warning that each prints to stderr.
func TestKeyCatchAllWarning(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	const (
		ipv4Only = "the allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected. " +
			"An empty list of allowed IPs already allows any address."
		ipv6Only = "the allowed IP ::/0 allows every IPv6 address, but every IPv4 address is rejected. " +
			"An empty list of allowed IPs already allows any address."
	)

	var key struct{ ClientID string }
	stderr := runCLIJSON(t, dir, nil, &key, "key", "create", "--account", account.ID, "--name", "ci", "--allow-ip", "0.0.0.0/0")
	wantJSON := `{"warning":{"message":"` + ipv4Only + ` Leave out --allow-ip to get an empty list."}}` + "\n"
	if stderr != wantJSON {
		t.Errorf("key create --allow-ip 0.0.0.0/0 --json: stderr %q, want %q", stderr, wantJSON)
	}

	environ := map[string]string{"IOGATE_CLIENT_SECRET": strings.Repeat("s", 40)}
	cases := []struct {
		name       string
		env        map[string]string
		args       []string
		wantStderr string
	}{
		{"create with an IPv4 prefix", nil, []string{"key", "create", "--account", account.ID, "--name", "office", "--allow-ip", "10.0.0.0/8"}, ""},
		{"create with ::/0", nil, []string{"key", "create", "--account", account.ID, "--name", "v6", "--allow-ip", "::/0"},
			"iogate: warning: " + ipv6Only + " Leave out --allow-ip to get an empty list.\n"},
		{"import with 0.0.0.0/0", environ, []string{"key", "import", "--account", account.ID, "--name", "imported", "--allow-ip", "0.0.0.0/0"},
			"iogate: warning: " + ipv4Only + " Leave out --allow-ip to get an empty list.\n"},
		{"update to ::/0", nil, []string{"key", "update", key.ClientID, "--allow-ip", "::/0"},
			"iogate: warning: " + ipv6Only + " Use --clear-allow-ip to get an empty list.\n"},
		{"update of the name only", nil, []string{"key", "update", key.ClientID, "--name", "renamed"}, ""},
		{"update to both families", nil, []string{"key", "update", key.ClientID, "--allow-ip", "0.0.0.0/0", "--allow-ip", "::/0"},
			"iogate: warning: the allowed IPs 0.0.0.0/0 and ::/0 allow every IPv4 and IPv6 address. " +
				"An empty list of allowed IPs already allows any address. Use --clear-allow-ip to get an empty list.\n"},
		{"update with --clear-allow-ip", nil, []string{"key", "update", key.ClientID, "--clear-allow-ip"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, dir, c.env, c.args...)
			if err != nil {
				t.Fatalf("iogate %s: %v; stderr %s", strings.Join(c.args, " "), err, stderr)
			}
			if stderr != c.wantStderr {
				t.Errorf("iogate %s: stderr %q, want %q", strings.Join(c.args, " "), stderr, c.wantStderr)
			}
		})
	}
}

// runCLI runs the CLI with args on the data directory dir and the variables in env, and
// returns its stdout and stderr. The stdout of commands that create keys contains a client
// secret, so callers must not print it.
func runCLI(t *testing.T, dir string, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	getenv := func(name string) string { return env[name] }
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"--data-dir", dir}, args...), getenv, noEnviron, &out, &errOut)
	return out.String(), errOut.String(), err
}

// runCLIJSON runs the CLI with --json as runCLI does, decodes its stdout into v and returns
// its stderr. It fails the test unless the command succeeds.
func runCLIJSON(t *testing.T, dir string, env map[string]string, v any, args ...string) (stderr string) {
	t.Helper()
	stdout, stderr, err := runCLI(t, dir, env, append(args, "--json")...)
	if err != nil {
		t.Fatalf("iogate %s: %v; stderr %s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("iogate %s: stdout is not JSON: %v", strings.Join(args, " "), err)
	}
	return stderr
}

// TestTableCellsShowTabs checks that a tab in a key or vault name is shown as \t in the
// text tables, so that it cannot fake the columns after the name.
func TestTableCellsShowTabs(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	fake := "ci\tvaults:read vaults:write\tany"
	var created struct{ ID, ClientID string }
	runCLIJSON(t, dir, nil, &created, "key", "create", "--account", account.ID, "--name", fake)
	runCLIJSON(t, dir, nil, &created, "vault", "create", "--account", account.ID, "--name", "Ops\t100", "--threshold", "1")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "list", "--account", account.ID}, `ci\tvaults:read vaults:write\tany`},
		{[]string{"vault", "list", "--account", account.ID}, `Ops\t100`},
	} {
		stdout, _, err := runCLI(t, dir, nil, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(c.args[:2], " "), err)
		}
		if !strings.Contains(stdout, c.want) {
			t.Errorf("%s output does not show the name as %q:\n%s", strings.Join(c.args[:2], " "), c.want, stdout)
		}
	}
}

// TestKeyUpdateRevivesExpiredKey checks that key update warns when a new expiry makes an
// expired key work again, and stays quiet for a key that has not expired.
func TestKeyUpdateRevivesExpiredKey(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	var short, long struct{ ClientID string }
	runCLIJSON(t, dir, nil, &short, "key", "create", "--account", account.ID, "--name", "short", "--expires-in", "1s")
	runCLIJSON(t, dir, nil, &long, "key", "create", "--account", account.ID, "--name", "long", "--expires-in", "1h")
	time.Sleep(1100 * time.Millisecond)

	_, stderr, err := runCLI(t, dir, nil, "key", "update", short.ClientID, "--expires-in", "0")
	if err != nil {
		t.Fatalf("key update of the expired key: %v", err)
	}
	for _, want := range []string{"iogate: warning: the key had expired at", "iogate key delete " + short.ClientID} {
		if !strings.Contains(stderr, want) {
			t.Errorf("key update of the expired key: stderr %q, want it to contain %q", stderr, want)
		}
	}
	_, stderr, err = runCLI(t, dir, nil, "key", "update", long.ClientID, "--expires-in", "0")
	if err != nil {
		t.Fatalf("key update of the key that has not expired: %v", err)
	}
	if stderr != "" {
		t.Errorf("key update of the key that has not expired: stderr %q, want none", stderr)
	}
}
