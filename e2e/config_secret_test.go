package e2e

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// TestCommandsHideSecretValues runs commands with secrets in every place that iogate reads
// one from: IOGATE_DATABASE, with the password in the URL or in its password option,
// PGPASSWORD, IOGATE_MASTER_KEY, misspelt variables and IOGATE_CLIENT_SECRET. Whether the
// command fails or not, no secret may appear in its output. The database is the test
// cluster with a wrong password, so that PostgreSQL rejects the login, or a closed port.
func TestCommandsHideSecretValues(t *testing.T) {
	cluster, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", pgtest.URLVariable, err)
	}
	const secret = "canary-secret-5d2b"
	masterKey := newMasterKey(t)
	variants := []struct {
		name string
		env  []string
	}{
		{"password in the URL", []string{"IOGATE_MASTER_KEY=" + masterKey,
			"IOGATE_DATABASE=postgres://iogate:" + secret + "1@" + cluster.Host + "/iogate?sslmode=disable"}},
		{"password option", []string{"IOGATE_MASTER_KEY=" + masterKey,
			"IOGATE_DATABASE=postgres://iogate@" + cluster.Host + "/iogate?sslmode=disable&password=" + secret + "2"}},
		{"PGPASSWORD", []string{"IOGATE_MASTER_KEY=" + masterKey, "PGPASSWORD=" + secret + "3",
			"IOGATE_DATABASE=postgres://iogate@" + cluster.Host + "/iogate?sslmode=disable"}},
		{"closed port", []string{"IOGATE_MASTER_KEY=" + masterKey,
			"IOGATE_DATABASE=postgres://iogate:" + secret + "4@127.0.0.1:1/iogate?connect_timeout=2"}},
		{"URL that does not parse", []string{"IOGATE_MASTER_KEY=" + masterKey,
			"IOGATE_DATABASE=postgres://iogate:" + secret + "5@127.0.0.1:port/iogate"}},
		{"invalid master key", []string{"IOGATE_MASTER_KEY=" + secret + "6",
			"IOGATE_DATABASE=postgres://iogate@127.0.0.1:1/iogate"}},
		// The closed port in IOGATE_DATABASE stops serve after it has logged its warnings.
		{"misspelt variables", []string{"IOGATE_MASTER_KEY=" + masterKey, "IOGATE_CLIENT_SECRET=" + secret + "7",
			"IOGATE_DATABSE=postgres://iogate:" + secret + "8@127.0.0.1:1/iogate", "IOGATE_MASTERKEY=" + secret + "9",
			"IOGATE_DATABASE=postgres://iogate@127.0.0.1:1/iogate"}},
	}
	commands := [][]string{
		{"account", "list"},
		{"key", "list", "--account", "00000000-0000-0000-0000-000000000000"},
		{"audit", "verify"},
		{"migrate"},
		{"backup", "--to", filepath.Join(t.TempDir(), "backup.db")},
		{"serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", ""},
	}
	for _, v := range variants {
		for _, args := range commands {
			res := testenv.RunCLI(t, t.TempDir(), v.env, args...)
			if strings.Contains(res.Stdout+res.Stderr, secret) {
				t.Errorf("%s: iogate %s printed a secret value (exit %d)", v.name, strings.Join(args, " "), res.ExitCode)
			}
		}
	}

	// On a database that works, neither the commands nor the server's log may name its
	// password.
	password, _ := cluster.User.Password()
	if password == "" {
		t.Fatalf("%s has no password", pgtest.URLVariable)
	}
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	for _, args := range [][]string{
		{"migrate"},
		{"account", "create", "--name", "Acme", "--email", "ops@acme.example"},
		{"audit", "verify"},
	} {
		res := testenv.RunCLI(t, d.cliDir, d.env(), args...)
		if res.ExitCode != 0 {
			t.Fatalf("iogate %s: exit %d: %s", strings.Join(args, " "), res.ExitCode, res.Stderr)
		}
		if strings.Contains(res.Stdout+res.Stderr, password) {
			t.Errorf("iogate %s printed the database password", strings.Join(args, " "))
		}
	}
	srv := d.startNode(t, "a")
	if strings.Contains(srv.SyncedLogs(t), password) {
		t.Error("serve logged the database password")
	}
}

// TestServeConfigRejections checks settings that serve must reject before it listens. A
// listen address of ":" would listen on every interface. A --config file that is not a
// mapping may be a password file named by mistake. A database password in the --config
// file is shared with the file even when the environment overrides it. No error may
// repeat the secret.
func TestServeConfigRejections(t *testing.T) {
	const secret = "Pw7canary"
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "db-password")
	writeFile(t, passwordFile, secret+"\n")
	withPassword := filepath.Join(dir, "iogate.yaml")
	writeFile(t, withPassword, "database: postgres://iogate:"+secret+"@127.0.0.1:1/iogate\n")
	quiet := []string{"--http-listen", "", "--admin-listen", ""}

	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"colon as --listen", []string{"IOGATE_LISTEN=:"}, quiet,
			`invalid --listen ":": it names neither a host nor a port`},
		{"colon as --admin-listen", nil, []string{"--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", ":"},
			`invalid --admin-listen ":"`},
		{"colon as --http-listen", []string{"IOGATE_HTTP_LISTEN= :"}, []string{"--listen", "127.0.0.1:0", "--admin-listen", ""},
			`invalid --http-listen " :": it names neither a host nor a port`},
		{"password file as --config", nil, append([]string{"--config", passwordFile, "--listen", "127.0.0.1:0"}, quiet...),
			"expected a YAML mapping of flag names to values"},
		{"password in an overridden --config key", []string{"IOGATE_DATABASE=postgres://iogate@127.0.0.1:1/iogate"},
			append([]string{"--config", withPassword, "--listen", "127.0.0.1:0"}, quiet...),
			`the --config file must not contain a database password, because configuration files are often shared or kept in version control: put the URL with its password in IOGATE_DATABASE, or the password in PGPASSWORD or ~/.pgpass (in key "database" of the --config file ` + withPassword + `, which IOGATE_DATABASE overrides)`},
		{"TLS key without certificate", []string{"IOGATE_TLS_KEY=" + passwordFile}, append([]string{"--listen", "127.0.0.1:0"}, quiet...),
			"--tls-key is set but --tls-cert is not (--tls-key was set by IOGATE_TLS_KEY)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := testenv.RunCLI(t, t.TempDir(), c.env, append([]string{"serve"}, c.args...)...)
			if res.ExitCode == 0 {
				t.Fatalf("serve: exit 0, want a failure with %q", c.want)
			}
			if !strings.Contains(res.Stderr, c.want) {
				t.Errorf("serve: standard error %q lacks %q", res.Stderr, c.want)
			}
			if strings.Contains(res.Stdout+res.Stderr, secret) {
				t.Error("serve printed the secret")
			}
		})
	}
}
