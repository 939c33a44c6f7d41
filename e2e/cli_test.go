package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

func TestCLIErrors(t *testing.T) {
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	missing := filepath.Join(t.TempDir(), "absent", "copy.db")

	cases := []struct {
		name string
		args []string
		want string
		code string
	}{
		{"missing required flag", []string{"key", "create", "--account", account}, `"name"`, "invalid_request"},
		{"unknown flag", []string{"key", "list", "--account", account, "--bogus"}, "--bogus", "invalid_request"},
		{"unknown account", []string{"key", "create", "--account", "0000", "--name", "x"}, "account", "not_found"},
		{"unknown scope", []string{"key", "create", "--account", account, "--name", "x", "--scope", "vaults:admin"}, "vaults:admin", "invalid_scope"},
		{"bad expiry", []string{"key", "create", "--account", account, "--name", "x", "--expires-in", "soon"}, "soon", "invalid_request"},
		{"bad email", []string{"account", "create", "--name", "x", "--email", "not-an-email"}, "not-an-email", "invalid_request"},
		{"threshold zero", []string{"vault", "create", "--account", account, "--name", "v", "--threshold", "0"}, "threshold", "invalid_request"},
		{"unknown key", []string{"key", "show", "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"}, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", "not_found"},
		{"delete unknown key", []string{"key", "delete", "nope"}, "nope", "not_found"},
		{"backup into a missing directory", []string{"backup", "--to", missing}, "backup file", "failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := testenv.RunCLI(t, dir, nil, c.args...)
			if res.ExitCode == 0 {
				t.Fatalf("exit code 0, want non-zero; stdout %s", res.Stdout)
			}
			if res.Stdout != "" {
				t.Errorf("stdout = %q, want nothing on failure", res.Stdout)
			}
			if !strings.Contains(res.Stderr, c.want) {
				t.Errorf("stderr = %q, want it to mention %s", res.Stderr, c.want)
			}

			res = testenv.RunCLI(t, dir, nil, append(c.args, "--json")...)
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(res.Stderr), &body); err != nil || body.Error.Message == "" {
				t.Errorf("--json stderr = %q, want {\"error\":{\"code\",\"message\"}}", res.Stderr)
			}
			if body.Error.Code != c.code {
				t.Errorf("--json error code = %q, want %q", body.Error.Code, c.code)
			}
		})
	}

	// A command run from the wrong directory must not create a second data directory, with
	// a database and master key that no server uses, and report success.
	t.Run("missing data directory", func(t *testing.T) {
		for _, args := range [][]string{
			{"key", "list", "--account", account},
			{"account", "create", "--name", "Acme", "--email", "ops@acme.test"},
		} {
			absent := filepath.Join(t.TempDir(), "absent")
			res := testenv.RunCLI(t, absent, nil, args...)
			want := "data directory " + absent + ` does not exist: start the server with "iogate serve" first, or pass --data-dir`
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
				t.Errorf("%s %s: exit %d, stderr %q; want a failure containing %q", args[0], args[1], res.ExitCode, res.Stderr, want)
			}
			if _, err := os.Stat(absent); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s %s created the data directory %s (stat: %v)", args[0], args[1], absent, err)
			}
		}
	})

	t.Run("environment variables set flags", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, []string{"IOGATE_JSON=true"}, "key", "list", "--account", account)
		var out struct{ Data []any }
		if res.ExitCode != 0 || json.Unmarshal([]byte(res.Stdout), &out) != nil || out.Data == nil {
			t.Errorf("IOGATE_JSON=true key list: exit %d, stdout %q; want JSON with a data array", res.ExitCode, res.Stdout)
		}
	})

	t.Run("account list", func(t *testing.T) {
		second := createAccount(t, dir, "Beta", "ops@beta.test")
		var out struct {
			Data []struct{ ID, Name, Email, Status string }
		}
		testenv.CLIJSON(t, dir, &out, "account", "list")
		if len(out.Data) != 2 || out.Data[0].ID != account || out.Data[1].ID != second {
			t.Fatalf("account list = %+v, want Acme then Beta", out.Data)
		}
		if out.Data[1].Email != "ops@beta.test" || out.Data[1].Status != "active" {
			t.Errorf("account list entry = %+v, want email ops@beta.test and status active", out.Data[1])
		}
	})

	t.Run("secret shown once", func(t *testing.T) {
		k := createKey(t, dir, account, "once", "--scope", "vaults:read", "--scope", "vaults:write", "--description", "deploy bot")
		for _, args := range [][]string{{"key", "show", k.ClientID}, {"key", "list", "--account", account}} {
			res := testenv.RunCLI(t, dir, nil, append(args, "--json")...)
			if res.ExitCode != 0 {
				t.Fatalf("%s: exit %d: %s", args[1], res.ExitCode, res.Stderr)
			}
			if strings.Contains(res.Stdout, k.ClientSecret) || strings.Contains(res.Stdout, "clientSecret") {
				t.Errorf("key %s prints the secret", args[1])
			}
		}
		var shown struct {
			Scopes      []string
			Description string
		}
		testenv.CLIJSON(t, dir, &shown, "key", "show", k.ClientID)
		if strings.Join(shown.Scopes, " ") != "vaults:read vaults:write" || shown.Description != "deploy bot" {
			t.Errorf("key show = %+v, want both scopes and the description", shown)
		}
	})
}

// TestKeyTextOutput checks the text form of key create and key show: key create repeats the
// allowed IPs and expiry it stored, and key show ends no line with a space, before and after
// the key's first use.
func TestKeyTextOutput(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	linesOf := func(output string) map[string]string {
		lines := map[string]string{}
		for _, line := range strings.Split(output, "\n") {
			if label, value, ok := strings.Cut(strings.TrimLeft(line, " "), ":"); ok {
				lines[label] = value
			}
		}
		return lines
	}

	res := testenv.RunCLI(t, dir, nil, "key", "create", "--account", f.accountID, "--name", "text",
		"--allow-ip", "10.0.0.0/8", "--allow-ip", "127.0.0.1", "--expires-in", "30d")
	if res.ExitCode != 0 {
		t.Fatalf("key create: exit %d: %s", res.ExitCode, res.Stderr)
	}
	created := linesOf(res.Stdout)
	clientID := strings.TrimSpace(created["Client ID"])
	var stored struct {
		AllowedIPs []string
		ExpiresAt  time.Time
	}
	testenv.CLIJSON(t, dir, &stored, "key", "show", clientID)
	// The output contains the client secret, so failures print single lines only.
	if got, want := strings.TrimSpace(created["Allowed IPs"]), strings.Join(stored.AllowedIPs, " "); got != want || want != "10.0.0.0/8 127.0.0.1" {
		t.Errorf("key create's Allowed IPs line = %q, want %q as stored", got, want)
	}
	if got, want := strings.TrimSpace(created["Expires"]), stored.ExpiresAt.Format(time.RFC3339); got != want {
		t.Errorf("key create's Expires line = %q, want %q as stored", got, want)
	}

	checkShow := func(t *testing.T, clientID, wantLastUsed string) {
		t.Helper()
		res := testenv.RunCLI(t, dir, nil, "key", "show", clientID)
		if res.ExitCode != 0 {
			t.Fatalf("key show: exit %d: %s", res.ExitCode, res.Stderr)
		}
		for _, line := range strings.Split(strings.TrimSuffix(res.Stdout, "\n"), "\n") {
			if strings.TrimRight(line, " \t") != line {
				t.Errorf("key show line %q ends with white space", line)
			}
		}
		if got := strings.TrimSpace(linesOf(res.Stdout)["Last used"]); got != wantLastUsed {
			t.Errorf("key show's Last used line = %q, want %q", got, wantLastUsed)
		}
	}
	checkShow(t, clientID, "-")

	// The fixture's key has issued a token, and its use reaches the store within about a second.
	var used struct {
		LastUsedAt *time.Time
		LastUsedIP string
	}
	if !pollUntil(10*time.Second, func() bool {
		testenv.CLIJSON(t, dir, &used, "key", "show", f.clientID)
		return used.LastUsedAt != nil && used.LastUsedIP != ""
	}) {
		t.Fatal("the fixture's key has no last use 10s after its token was issued")
	}
	checkShow(t, f.clientID, used.LastUsedAt.Format(time.RFC3339)+" from "+used.LastUsedIP)
}
