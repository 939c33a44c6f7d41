package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// TestPostgresNodeRole runs a node as a role that does not own the schema. The role cannot
// open the database before the owner migrated it. After "iogate migrate --node-role" as the
// owner, the node records its public URL for the CLI's links, issues tokens, serves
// vaults, revokes deleted keys and verifies the audit log. The role can neither change the
// schema nor edit, truncate or unprotect the audit log.
func TestPostgresNodeRole(t *testing.T) {
	ownerURL := pgtest.NewDatabase(t)
	nodeURL := pgtest.AsNodeRole(t, ownerURL)
	role := os.Getenv(pgtest.NodeRoleVariable)
	node := newPGDeployment(t, nodeURL)
	owner := &pgDeployment{dbURL: ownerURL, masterKey: node.masterKey, cliDir: node.cliDir}

	res := testenv.RunCLI(t, node.cliDir, node.env(), "account", "list")
	if res.ExitCode == 0 {
		t.Fatal("account list as the node role on an empty database: exit 0, want a failure")
	}
	if want := `run "iogate migrate --node-role ` + role + `" as the role that owns the schema`; !strings.Contains(res.Stderr, want) {
		t.Errorf("account list as the node role on an empty database: standard error lacks %q: %s", want, res.Stderr)
	}

	var migrated struct {
		NodeRole      string `json:"nodeRole"`
		GrantedTables int    `json:"grantedTables"`
	}
	owner.cliJSON(t, &migrated, "migrate", "--node-role", role)
	if migrated.NodeRole != role || migrated.GrantedTables == 0 {
		t.Errorf("migrate --node-role: nodeRole %q and grantedTables %d, want %q and more than 0", migrated.NodeRole, migrated.GrantedTables, role)
	}

	srv := node.startNode(t, "a", "--public-url", "https://iogate.example.test")
	accountID := node.createAccount(t)
	// The node recorded its public URL as the node role, and the CLI's links use it.
	var invite struct{ URL string }
	node.cliJSON(t, &invite, "user", "invite", "--account", accountID, "--email", "viewer@acme.test", "--role", "viewer")
	if !strings.HasPrefix(invite.URL, "https://iogate.example.test/dashboard/invite?token=") {
		t.Errorf("invite link as the node role = %q, want one under the node's --public-url https://iogate.example.test", redactLink(invite.URL))
	}
	k := node.createKey(t, accountID, "node role")
	waitForKey(t, srv, k.ClientID, k.ClientSecret)
	tok := accessToken(t, srv, k.ClientID, k.ClientSecret)
	if r := getVaults(t, srv, tok); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults as the node role: status %d, want 200", r.status)
	}
	node.deleteKey(t, k.ClientID)
	waitStatus(t, "a deleted key's token", http.StatusUnauthorized, time.Second, func() int {
		return status(srv.Client, "GET", srv.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	var verified json.RawMessage
	node.cliJSON(t, &verified, "audit", "verify", "--account", accountID)
	for _, rec := range logRecords(srv.SyncedLogs(t)) {
		if rec.str("level") == "ERROR" || strings.Contains(rec.str("error"), "permission denied") {
			t.Errorf("the node logged %s %q with error %q", rec.str("level"), rec.str("msg"), rec.str("error"))
		}
	}

	for _, stmt := range []string{
		`ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update_or_delete`,
		`DROP TRIGGER audit_records_no_update_or_delete ON audit_records`,
		`TRUNCATE audit_records`,
		`UPDATE audit_records SET event = event`,
		`CREATE TABLE node_role_probe (id INTEGER)`,
		`DROP TABLE api_keys`,
	} {
		if code := execCode(t, nodeURL, stmt); code != "42501" {
			t.Errorf("%s as the node role: SQLSTATE %q, want 42501 (insufficient privilege)", stmt, code)
		}
	}

	res = testenv.RunCLI(t, node.cliDir, node.env(), "migrate", "--node-role", role)
	if want := "this command runs as that role"; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Errorf("migrate --node-role as the node role itself: exit %d, want a failure with %q: %s", res.ExitCode, want, res.Stderr)
	}
}

// TestPostgresNodeRoleChecksPrivileges runs a node as a role that lacks privileges on
// tables that exist: the owner migrated without --node-role, or an upgrade added a table
// after the last grant. The CLI and "iogate serve" must fail when they open the database,
// naming the tables and the command that grants them, not on the first request that uses
// such a table.
func TestPostgresNodeRoleChecksPrivileges(t *testing.T) {
	ownerURL := pgtest.NewDatabase(t)
	nodeURL := pgtest.AsNodeRole(t, ownerURL)
	role := os.Getenv(pgtest.NodeRoleVariable)
	node := newPGDeployment(t, nodeURL)
	owner := &pgDeployment{dbURL: ownerURL, masterKey: node.masterKey, cliDir: node.cliDir}
	step := `run "iogate migrate --node-role ` + role + `" as the role that owns the schema`

	owner.cliJSON(t, nil, "migrate")
	res := testenv.RunCLI(t, node.cliDir, node.env(), "account", "list")
	if res.ExitCode == 0 {
		t.Fatal("account list as the node role after a plain migrate: exit 0, want a failure")
	}
	for _, want := range []string{`the role "` + role + `" lacks privileges that nodes need`, "SELECT on schema_migrations", step} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("account list as the node role after a plain migrate: standard error lacks %q: %s", want, res.Stderr)
		}
	}

	owner.cliJSON(t, nil, "migrate", "--node-role", role)
	node.cliJSON(t, nil, "account", "list")

	// An upgrade that adds a table, applied with a plain "iogate migrate".
	pgtest.Exec(t, ownerURL, `CREATE TABLE upgrade_probe (id INTEGER)`)
	res = testenv.RunCLI(t, t.TempDir(), node.env(), "serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
	if res.ExitCode == 0 {
		t.Fatal("serve as the node role after an upgrade added a table: exit 0, want a failure at start")
	}
	for _, want := range []string{"SELECT, INSERT, UPDATE, DELETE on upgrade_probe", step} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("serve as the node role after an upgrade added a table: standard error lacks %q: %s", want, res.Stderr)
		}
	}
	// The owner's own commands do not need the grant.
	owner.cliJSON(t, nil, "account", "list")
}

// execCode runs stmt on the database at dbURL and returns the SQLSTATE of its failure, or
// "" when it succeeded.
func execCode(t *testing.T, dbURL, stmt string) string {
	t.Helper()
	err := pgtest.ExecError(t, dbURL, stmt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return ""
}
