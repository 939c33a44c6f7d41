package e2e

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// metrics fetches the admin listener's /metrics.
func metrics(t *testing.T, srv *testenv.Server) string {
	t.Helper()
	r := do(t, http.DefaultClient, "GET", "http://"+srv.AdminAddr+"/metrics", nil, "")
	if r.status != 200 {
		t.Fatalf("GET /metrics: status %d", r.status)
	}
	return string(r.body)
}

// metricValue returns the value of the sample named series (a metric name with its
// labels, as the text format writes them), or fails the test when there is none.
func metricValue(t *testing.T, srv *testenv.Server, series string) float64 {
	t.Helper()
	return testenv.MetricValue(t, metrics(t, srv), series)
}

func TestAdminListener(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	getVaults(t, f.srv, tok)
	getVaults(t, f.srv, "not-a-token")
	tokenRequest(t, f.srv.Client, f.srv, nil, f.clientID, "iogs_wrong")

	t.Run("health on both listeners", func(t *testing.T) {
		for _, c := range []struct {
			client *http.Client
			base   string
		}{{http.DefaultClient, "http://" + f.srv.AdminAddr}, {f.srv.Client, f.srv.URL}} {
			for path, status := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
				r := do(t, c.client, "GET", c.base+path, nil, "")
				if r.status != 200 || r.json(t)["status"] != status {
					t.Errorf("GET %s%s: status %d, body %s; want 200 and status %s", c.base, path, r.status, r.body, status)
				}
			}
		}
	})

	t.Run("metrics only on the admin listener", func(t *testing.T) {
		if r := do(t, f.srv.Client, "GET", f.srv.URL+"/metrics", nil, ""); r.status != 404 {
			t.Errorf("GET /metrics on the HTTPS listener: status %d, want 404", r.status)
		}
	})

	t.Run("metrics count what happened", func(t *testing.T) {
		// newFixture's waitForKey may have needed failed tries before the change feed
		// delivered the key, so denials are at least one, not exactly one.
		if got := metricValue(t, f.srv, "iogate_tokens_issued_total"); got < 2 {
			t.Errorf("iogate_tokens_issued_total = %v, want at least 2", got)
		}
		if got := metricValue(t, f.srv, `iogate_token_denials_total{reason="invalid_client"}`); got < 1 {
			t.Errorf("invalid_client denials = %v, want at least 1", got)
		}
		if got := metricValue(t, f.srv, `iogate_token_verification_seconds_count{result="ok"}`); got != 1 {
			t.Errorf("successful verifications = %v, want 1", got)
		}
		if got := metricValue(t, f.srv, `iogate_token_verification_seconds_count{result="invalid_token"}`); got != 1 {
			t.Errorf("failed verifications = %v, want 1", got)
		}
		if got := metricValue(t, f.srv, `iogate_token_verification_failures_total{reason="malformed"}`); got != 1 {
			t.Errorf("verifications failed as malformed = %v, want 1", got)
		}
		// Every reason has a series from the start, at zero until a token fails for it.
		if got := metricValue(t, f.srv, `iogate_token_verification_failures_total{reason="bad_signature"}`); got != 0 {
			t.Errorf("verifications failed with a bad signature = %v, want 0", got)
		}
		// The SQLite feed confirms the view at every poll, so a healthy server lags by
		// less than a second.
		if got := metricValue(t, f.srv, "iogate_change_feed_lag_seconds"); got < 0 || got >= 1 {
			t.Errorf("iogate_change_feed_lag_seconds = %v, want under 1 on a healthy server", got)
		}
		if got := metricValue(t, f.srv, `iogate_http_requests_total{code="401",listener="https"}`); got < 2 {
			t.Errorf(`iogate_http_requests_total{code="401",listener="https"} = %v, want at least 2`, got)
		}
		for _, name := range []string{`iogate_rate_limit_hits_total{limit="address"}`, "go_goroutines", "process_resident_memory_bytes"} {
			metricValue(t, f.srv, name)
		}
		// The self-signed certificate is valid for a year from its creation.
		if got := metricValue(t, f.srv, "iogate_tls_certificate_expiry_timestamp_seconds"); got < float64(time.Now().Unix()) {
			t.Errorf("iogate_tls_certificate_expiry_timestamp_seconds = %v, want a time after now", got)
		}
	})
}

// TestFreshServerErrorSeriesAtZero checks that a server that has served nothing yet
// exports its error counters at zero, one series for each store operation and for each
// server-error status of each listener. A series that appears only with its first error
// has no earlier sample, so increase() and rate() miss that error.
func TestFreshServerErrorSeriesAtZero(t *testing.T) {
	srv := testenv.Start(t, filepath.Join(t.TempDir(), "data"), testenv.Options{})
	text := metrics(t, srv)

	operations := 0
	for _, line := range strings.Split(text, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, "iogate_store_errors_total{") {
			continue
		}
		operations++
		if value != "0" {
			t.Errorf("%s = %s on a fresh server, want 0", series, value)
		}
	}
	// The store has more than 60 methods, each counted under its own operation.
	if operations < 60 {
		t.Errorf("iogate_store_errors_total has %d series on a fresh server, want one for each of the 60 and more store operations", operations)
	}
	for _, series := range []string{
		`iogate_store_errors_total{operation="append_audit_records"}`,
		`iogate_store_errors_total{operation="set_account_status"}`,
		`iogate_store_errors_total{operation="create_account_with_owner"}`,
		`iogate_token_denials_total{reason="internal"}`,
		`iogate_http_requests_total{code="500",listener="https"}`,
		`iogate_http_requests_total{code="503",listener="https"}`,
		`iogate_http_requests_total{code="503",listener="admin"}`,
		"iogate_tls_reload_failures_total",
	} {
		if got := metricValue(t, srv, series); got != 0 {
			t.Errorf("%s = %v on a fresh server, want 0", series, got)
		}
	}
}

func TestConfigFilePrecedence(t *testing.T) {
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	k := createKey(t, dir, account, "ci")
	config := filepath.Join(t.TempDir(), "iogate.yaml")
	writeFile(t, config, "token-ttl: 10m\nissuer: https://file.example.test\ntrusted-proxies:\n  - 10.0.0.0/8\n  - 192.0.2.1\n")

	lifetime := func(opts testenv.Options) (float64, string) {
		t.Helper()
		srv := testenv.Start(t, dir, opts)
		tok := accessToken(t, srv, k.ClientID, k.ClientSecret)
		srv.Stop()
		var claims map[string]any
		decodeSegment(t, strings.Split(tok, ".")[1], &claims)
		iss, _ := claims["iss"].(string)
		return claims["exp"].(float64) - claims["iat"].(float64), iss
	}
	cases := []struct {
		name     string
		opts     testenv.Options
		lifetime float64
	}{
		{"file over default", testenv.Options{Args: []string{"--config", config}}, 600},
		{"environment over file", testenv.Options{Args: []string{"--config", config}, Env: []string{"IOGATE_TOKEN_TTL=20m"}}, 1200},
		{"flag over environment", testenv.Options{Args: []string{"--config", config, "--token-ttl", "30m"}, Env: []string{"IOGATE_TOKEN_TTL=20m"}}, 1800},
		{"config file named by the environment", testenv.Options{Env: []string{"IOGATE_CONFIG=" + config}}, 600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, iss := lifetime(c.opts)
			if got != c.lifetime {
				t.Errorf("token lifetime = %vs, want %vs", got, c.lifetime)
			}
			if iss != "https://file.example.test" {
				t.Errorf("iss = %q, want the file's issuer", iss)
			}
		})
	}

	t.Run("invalid files are refused", func(t *testing.T) {
		for _, c := range []struct{ name, body, want string }{
			{"unknown key", "listen-adress: 127.0.0.1:0\n", "listen-adress"},
			{"not a mapping", "- a\n- b\n", "invalid --config file"},
			{"bad value", "token-ttl: soon\n", "token-ttl"},
			{"list for a single value", "issuer: [a, b]\n", "issuer"},
		} {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			writeFile(t, path, c.body)
			res := testenv.RunCLI(t, dir, nil, "serve", "--config", path, "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("%s: exit %d, stderr %q; want a failure mentioning %q", c.name, res.ExitCode, res.Stderr, c.want)
			}
		}
	})
}

// TestDurationFlagsOutOfRange checks that the error for a duration flag outside its range
// shows the value as it was typed, rather than in Go's form such as "36h0m0s".
func TestDurationFlagsOutOfRange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct{ flag, value, want string }{
		{"--log-flush-interval", "1d", "invalid --log-flush-interval 1d:"},
		{"--token-ttl", "36h", "invalid --token-ttl 36h:"},
		{"--resync-interval", "1500m", "invalid --resync-interval 1500m: it must be from 10s to 24h"},
		{"--store-timeout", "2m", "invalid --store-timeout 2m: it must be from 1s to 1m"},
		{"--store-timeout", "20s", "invalid --store-timeout 20s: it must be at most half of --write-timeout 30s"},
	} {
		res := testenv.RunCLI(t, dir, nil, "serve", c.flag, c.value, "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
		if res.ExitCode == 0 {
			t.Errorf("serve %s %s: exit 0, want a failure", c.flag, c.value)
			continue
		}
		// Standard error is not printed: a server that did start would have written its setup
		// link there.
		if !strings.Contains(res.Stderr, c.want) {
			t.Errorf("serve %s %s: standard error lacks %q", c.flag, c.value, c.want)
		}
	}
}

// TestPublicURLRejectsQueryAndFragment checks that --public-url rejects a query or a
// fragment, even an empty one, because the default issuer and every printed link would
// carry it.
func TestPublicURLRejectsQueryAndFragment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, value := range []string{"https://gate.example.test?", "https://gate.example.test#", "https://gate.example.test/?a=1"} {
		res := testenv.RunCLI(t, dir, nil, "serve", "--public-url", value, "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
		if res.ExitCode == 0 {
			t.Errorf("serve --public-url %s: exit 0, want a failure", value)
			continue
		}
		if !strings.Contains(res.Stderr, "invalid --public-url") {
			t.Errorf("serve --public-url %s: standard error lacks \"invalid --public-url\"", value)
		}
	}
}

// TestFlagErrorsNameTheirSource checks that an invalid value set through an IOGATE_*
// variable or the --config file is reported with that source, not only with the flag's name.
func TestFlagErrorsNameTheirSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	config := filepath.Join(t.TempDir(), "iogate.yaml")
	writeFile(t, config, "log-flush-interval: 1d\n")
	listeners := []string{"--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", ""}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"environment", []string{"IOGATE_TOKEN_TTL=36h"}, nil, "invalid --token-ttl 36h: it must be from 1m to 24h (--token-ttl was set by IOGATE_TOKEN_TTL)"},
		{"config file", nil, []string{"--config", config}, `(--log-flush-interval was set by key "log-flush-interval" of the --config file ` + config + ")"},
		{"command line", nil, []string{"--token-ttl", "36h"}, "invalid --token-ttl 36h: it must be from 1m to 24h\n"},
	} {
		res := testenv.RunCLI(t, dir, c.env, append(append([]string{"serve"}, c.args...), listeners...)...)
		if res.ExitCode == 0 {
			t.Errorf("%s: exit 0, want a failure", c.name)
			continue
		}
		// Standard error is not printed: a server that did start would have written its setup
		// link there.
		if !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%s: standard error lacks %q", c.name, c.want)
		}
	}
}

// TestStartupErrorsNameTheirSource checks that a listen address, a --config file or a data
// directory that cannot be used is reported with the IOGATE_* variable or --config key that
// set it, and without a source when the command line did.
func TestStartupErrorsNameTheirSource(t *testing.T) {
	base := t.TempDir()
	notDir := filepath.Join(base, "file")
	writeFile(t, notDir, "")
	config := filepath.Join(base, "iogate.yaml")
	writeFile(t, config, "admin-listen: no-port\n")
	listeners := []string{"--http-listen", "", "--admin-listen", ""}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"listen from the environment", []string{"IOGATE_LISTEN=no-port"}, listeners,
			"choose another address with --listen (--listen was set by IOGATE_LISTEN)\n"},
		{"listen from the command line", nil, append([]string{"--listen", "no-port"}, listeners...),
			"choose another address with --listen\n"},
		{"admin listener from the config file", nil, []string{"--config", config, "--listen", "127.0.0.1:0", "--http-listen", ""},
			`(--admin-listen was set by key "admin-listen" of the --config file ` + config + ")"},
		{"config file from the environment", []string{"IOGATE_CONFIG=" + filepath.Join(base, "missing.yaml")}, listeners,
			"(--config was set by IOGATE_CONFIG)"},
		{"database from the environment", []string{"IOGATE_DATABASE=postgres://iogate@127.0.0.1:1/iogate?connect_timeout=5", "IOGATE_MASTER_KEY=" + newMasterKey(t)},
			append([]string{"--listen", "127.0.0.1:0"}, listeners...), "(--database was set by IOGATE_DATABASE)"},
		{"data directory from the environment", []string{"IOGATE_DATA_DIR=" + notDir}, listeners,
			"is not a directory: choose a directory with --data-dir (--data-dir was set by IOGATE_DATA_DIR)"},
	} {
		// The binary is run directly: RunCLI passes --data-dir, which would beat
		// IOGATE_DATA_DIR.
		args := append([]string{"serve"}, c.args...)
		if !strings.HasPrefix(c.name, "data directory") {
			args = append(args, "--data-dir", filepath.Join(base, "data"))
		}
		cmd := exec.Command(testenv.Binary(t), args...)
		cmd.Env = append(os.Environ(), c.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Errorf("%s: exit 0, want a failure", c.name)
			continue
		}
		// Standard error is not printed: a server that did start would have written its setup
		// link there.
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: standard error lacks %q", c.name, c.want)
		}
	}
}

// TestUnusedEnvironmentVariablesWarn checks that serve logs one warning with the IOGATE_*
// variables that set none of its flags, such as a misspelt one, and one with those left
// empty. Neither lists the variables that set a flag or that iogate or the docs' examples
// read. The first suggests the known variable that the misspelt one is close to.
func TestUnusedEnvironmentVariablesWarn(t *testing.T) {
	srv := testenv.Start(t, t.TempDir(), testenv.Options{Env: []string{
		"IOGATE_TRUSTED_PROXY=10.0.0.1",
		"IOGATE_PUBLIC_URL=",
		"IOGATE_LOG_LEVEL=info",
		"IOGATE_URL=https://localhost:8443",
		"IOGATE_CLIENT_ID=example",
	}})
	warnings := map[string]string{}
	suggestions := map[string]string{}
	for _, rec := range logRecords(srv.SyncedLogs(t)) {
		if rec.str("level") == "WARN" && strings.HasPrefix(rec.str("msg"), "ignoring ") {
			got, _ := json.Marshal(rec["variables"])
			warnings[rec.str("msg")] = string(got)
			if rec["suggestions"] != nil {
				got, _ := json.Marshal(rec["suggestions"])
				suggestions[rec.str("msg")] = string(got)
			}
		}
	}
	want := map[string]string{
		"ignoring environment variables that set no flag of iogate serve; IOGATE_FOO_BAR sets --foo-bar": `["IOGATE_TRUSTED_PROXY"]`,
		"ignoring empty environment variables, which count as unset; " +
			"to set a flag to an empty value, pass it on the command line or in the --config file": `["IOGATE_PUBLIC_URL"]`,
	}
	if len(warnings) != len(want) {
		t.Errorf("server logged %d warnings about environment variables, want %d: %v", len(warnings), len(want), warnings)
	}
	for msg, variables := range want {
		if warnings[msg] != variables {
			t.Errorf("warning %q lists %s, want %s", msg, warnings[msg], variables)
		}
	}
	wantSuggestions := map[string]string{
		"ignoring environment variables that set no flag of iogate serve; IOGATE_FOO_BAR sets --foo-bar": `{"IOGATE_TRUSTED_PROXY":"IOGATE_TRUSTED_PROXIES"}`,
	}
	if !maps.Equal(suggestions, wantSuggestions) {
		t.Errorf("warnings suggest %v, want %v", suggestions, wantSuggestions)
	}
}

// TestCLIWarnsOfIgnoredVariables checks that every command warns of a misspelt IOGATE_*
// variable, and suggests the known name, so that a misspelt IOGATE_DATABASE does not send
// a command to the SQLite store unnoticed. A command other than serve and migrate does not
// warn of variables that serve reads, which a shell may export for the server. The advice
// for empty variables names the --config file only to serve, the one command that has
// that flag.
func TestCLIWarnsOfIgnoredVariables(t *testing.T) {
	dir := t.TempDir()
	env := []string{"IOGATE_DATABSE=postgres://example", "IOGATE_LISTEN=127.0.0.1:1", "IOGATE_MASTER_KEY=", "IOGATE_DATA_DIR="}
	res := testenv.RunCLI(t, dir, env, "migrate")
	if res.ExitCode != 0 {
		t.Fatalf("migrate: exit %d", res.ExitCode)
	}
	for _, want := range []string{
		"iogate: ignoring environment variables that set no flag of iogate migrate: IOGATE_DATABSE (did you mean IOGATE_DATABASE?), IOGATE_LISTEN; " +
			"IOGATE_FOO_BAR sets --foo-bar\n",
		"iogate: ignoring empty environment variables, which count as unset: IOGATE_DATA_DIR, IOGATE_MASTER_KEY; " +
			"to set a flag to an empty value, pass it on the command line\n",
	} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("migrate's standard error lacks %q: %s", want, res.Stderr)
		}
	}

	res = testenv.RunCLI(t, dir, env, "account", "list")
	if want := "no flag of iogate account list: IOGATE_DATABSE (did you mean IOGATE_DATABASE?); "; !strings.Contains(res.Stderr, want) {
		t.Errorf("account list's standard error lacks %q: %s", want, res.Stderr)
	}
	if strings.Contains(res.Stderr, "IOGATE_LISTEN") {
		t.Errorf("account list warned of IOGATE_LISTEN, which serve reads: %s", res.Stderr)
	}
	if want := "count as unset: IOGATE_DATA_DIR, IOGATE_MASTER_KEY; to set a flag to an empty value, pass it on the command line\n"; !strings.Contains(res.Stderr, want) {
		t.Errorf("account list's standard error lacks %q: %s", want, res.Stderr)
	}

	res = testenv.RunCLI(t, dir, env, "account", "list", "--json")
	var warning struct {
		Warning struct {
			Message     string            `json:"message"`
			Variables   []string          `json:"variables"`
			Suggestions map[string]string `json:"suggestions"`
		} `json:"warning"`
	}
	first, _, _ := strings.Cut(res.Stderr, "\n")
	if err := json.Unmarshal([]byte(first), &warning); err != nil || !slices.Equal(warning.Warning.Variables, []string{"IOGATE_DATABSE"}) {
		t.Errorf("account list --json: first line of standard error %q, want a JSON warning that names IOGATE_DATABSE", first)
	}
	if want := map[string]string{"IOGATE_DATABSE": "IOGATE_DATABASE"}; !maps.Equal(warning.Warning.Suggestions, want) {
		t.Errorf("account list --json: the warning suggests %v, want %v", warning.Warning.Suggestions, want)
	}
}

// TestListenAndConfigChecks checks that an empty --listen, which would listen on every
// interface, is an error, and that a database password in the --config file is rejected
// as one on the command line is, without repeating it.
func TestListenAndConfigChecks(t *testing.T) {
	dir := t.TempDir()
	res := testenv.RunCLI(t, dir, nil, "serve", "--listen", "", "--http-listen", "", "--admin-listen", "")
	if want := `invalid --listen "": the HTTPS listener cannot be turned off`; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("serve --listen '': exit %d, want a failure with %q", res.ExitCode, want)
	}

	config := filepath.Join(t.TempDir(), "iogate.yaml")
	const password = "config-file-password-7c1d"
	writeFile(t, config, "database: postgres://iogate:"+password+"@127.0.0.1:1/iogate\n")
	res = testenv.RunCLI(t, dir, nil, "serve", "--config", config, "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
	if want := "the --config file must not contain a database password"; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("serve with a password in the --config file: exit %d, want a failure with %q", res.ExitCode, want)
	}
	if strings.Contains(res.Stderr, password) {
		t.Error("serve repeated the --config file's database password")
	}
}

// TestFlagParseErrors checks that a value that is not a number or a boolean gets an error
// that states what was expected, from the command line, the environment and the --config
// file alike, instead of the name of a Go function.
func TestFlagParseErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	config := filepath.Join(t.TempDir(), "iogate.yaml")
	writeFile(t, config, "rate-limit-api-per-key: x1\n")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"number on the command line", nil, []string{"--rate-limit-token-per-client", "abc"}, `invalid argument "abc" for "--rate-limit-token-per-client" flag: expected a number`},
		{"boolean in the environment", []string{"IOGATE_REVOKE_EXPOSED_CREDENTIALS=maybe"}, nil, "invalid IOGATE_REVOKE_EXPOSED_CREDENTIALS: expected true or false"},
		{"number in the config file", nil, []string{"--config", config}, `key "rate-limit-api-per-key": expected a number`},
		{"integer out of range", nil, []string{"--max-header-bytes", "99999999999999999999"}, "the value is out of range"},
	} {
		res := testenv.RunCLI(t, dir, c.env, append([]string{"serve"}, c.args...)...)
		if res.ExitCode == 0 {
			t.Errorf("%s: exit 0, want a failure", c.name)
			continue
		}
		if !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%s: standard error lacks %q", c.name, c.want)
		}
		if strings.Contains(res.Stderr, "strconv") {
			t.Errorf("%s: standard error names a Go function", c.name)
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBackupAndRestore(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	backup := filepath.Join(t.TempDir(), "iogate-backup.db")

	// The backup runs while the server serves tokens.
	accessToken(t, f.srv, f.clientID, f.clientSecret)
	var out struct {
		Backup string `json:"backup"`
		Bytes  int64  `json:"bytes"`
	}
	testenv.CLIJSON(t, f.srv.DataDir, &out, "backup", "--to", backup)
	if out.Backup != backup || out.Bytes <= 0 {
		t.Errorf("backup output = %+v, want the path and a size", out)
	}
	info, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup file mode = %o, want 600", perm)
	}
	later := createKey(t, f.srv.DataDir, f.accountID, "after-backup")

	if res := testenv.RunCLI(t, f.srv.DataDir, nil, "backup", "--to", backup); res.ExitCode == 0 || !strings.Contains(res.Stderr, "already exists") {
		t.Errorf("backup over an existing file: exit %d, stderr %q; want a refusal", res.ExitCode, res.Stderr)
	}
	dir := filepath.Dir(backup)
	if res := testenv.RunCLI(t, f.srv.DataDir, nil, "backup", "--to", dir); res.ExitCode == 0 || !strings.Contains(res.Stderr, "is a directory") {
		t.Errorf("backup to a directory: exit %d, stderr %q; want a refusal that names the directory", res.ExitCode, res.Stderr)
	}

	// Restore as docs/OPERATIONS.md describes: the copy becomes iogate.db of a data
	// directory that has the same master key.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(f.srv.DataDir, "master.key"), filepath.Join(restored, "master.key"))
	copyFile(t, backup, filepath.Join(restored, "iogate.db"))
	srv := testenv.Start(t, restored, testenv.Options{})

	tok := accessToken(t, srv, f.clientID, f.clientSecret)
	if r := getVaults(t, srv, tok); r.status != 200 || !bytes.Contains(r.body, []byte(f.vaultID)) {
		t.Errorf("GET /v1/vaults on the restored server: status %d, want 200 listing vault %s", r.status, f.vaultID)
	}
	if r := tokenRequest(t, srv.Client, srv, nil, later.ClientID, later.ClientSecret); r.status != 401 {
		t.Errorf("key created after the backup: status %d on the restored server, want 401", r.status)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAccountCreateHintRepeatsStoreFlags checks that the commands that "account create"
// suggests next repeat the command line's data directory and master key file, quoted for
// the shell, so that they work when pasted.
func TestAccountCreateHintRepeatsStoreFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir")
	keyFile := filepath.Join(t.TempDir(), "master.key")
	testenv.CLIJSON(t, dir, nil, "migrate")
	res := testenv.RunCLI(t, dir, nil, "account", "create", "--name", "Acme", "--email", "ops@acme.test", "--master-key-file", keyFile)
	if res.ExitCode != 0 {
		t.Fatalf("account create: exit %d: %s", res.ExitCode, res.Stderr)
	}
	want := " --data-dir '" + dir + "' --master-key-file " + keyFile + " --account "
	for _, next := range []string{"Next: iogate key create" + want, "iogate user invite" + want} {
		if !strings.Contains(res.Stdout, next) {
			t.Errorf("account create's output lacks %q: %s", next, res.Stdout)
		}
	}
}

// TestCLIReadsConfigFileGlobals checks that a command other than serve reads the global
// flags of the --config file that IOGATE_CONFIG names, so that it works on the server's
// store, ignores the file's serve-only keys, and names the file when its value fails.
func TestCLIReadsConfigFileGlobals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	config := filepath.Join(t.TempDir(), "iogate.yaml")
	writeFile(t, config, "data-dir: "+dir+"\nlisten: 127.0.0.1:0\nhttp-listen: \"\"\n")
	env := []string{"IOGATE_CONFIG=" + config}

	cmd := exec.Command(testenv.Binary(t), "account", "list")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("account list on a data directory that does not exist yet: exit 0, want a failure")
	}
	want := `(--data-dir was set by key "data-dir" of the --config file ` + config + " named by IOGATE_CONFIG)"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("account list's standard error lacks %q: %s", want, stderr.String())
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(testenv.Binary(t), "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("account create with IOGATE_CONFIG: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "iogate.db")); err != nil {
		t.Errorf("account create did not use the data directory of the --config file: %v", err)
	}
}
