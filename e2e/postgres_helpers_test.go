package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// pgDeployment is a set of iogate processes that share one PostgreSQL database and one
// master key, as the nodes of a cluster do. Every process gets the database URL (with its
// password) through IOGATE_DATABASE and the master key through IOGATE_MASTER_KEY.
type pgDeployment struct {
	dbURL     string
	masterKey string
	// cliDir is the data directory of CLI runs; with PostgreSQL they keep nothing there.
	cliDir string
}

func newPGDeployment(t *testing.T, dbURL string) *pgDeployment {
	t.Helper()
	return &pgDeployment{dbURL: dbURL, masterKey: newMasterKey(t), cliDir: t.TempDir()}
}

// newPGNodeRoleDeployment returns the deployment of nodes that connect as the node role to
// a new database, and that of its owner, with the same master key. The owner has applied
// the migrations and granted the node role its privileges.
func newPGNodeRoleDeployment(t *testing.T) (node, owner *pgDeployment) {
	t.Helper()
	ownerURL := pgtest.NewDatabase(t)
	node = newPGDeployment(t, pgtest.AsNodeRole(t, ownerURL))
	owner = &pgDeployment{dbURL: ownerURL, masterKey: node.masterKey, cliDir: node.cliDir}
	owner.cliJSON(t, nil, "migrate", "--node-role", os.Getenv(pgtest.NodeRoleVariable))
	return node, owner
}

func newMasterKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func (d *pgDeployment) env() []string {
	return []string{"IOGATE_DATABASE=" + d.dbURL, "IOGATE_MASTER_KEY=" + d.masterKey}
}

// startNode runs "iogate serve" on the shared database, in a data directory of its own
// for its TLS certificate.
func (d *pgDeployment) startNode(t *testing.T, name string, args ...string) *testenv.Server {
	t.Helper()
	return testenv.Start(t, filepath.Join(t.TempDir(), name), testenv.Options{Env: d.env(), Args: args})
}

// cliJSON runs a CLI command with --json on the shared database and decodes its output.
func (d *pgDeployment) cliJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	res := testenv.RunCLI(t, d.cliDir, d.env(), append(args, "--json")...)
	if res.ExitCode != 0 {
		t.Fatalf("iogate %s: exit %d, stderr: %s", strings.Join(args[:2], " "), res.ExitCode, res.Stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
			t.Fatalf("iogate %s: output is not JSON: %v", strings.Join(args[:2], " "), err)
		}
	}
}

func (d *pgDeployment) createAccount(t *testing.T) string {
	t.Helper()
	var a struct{ ID string }
	d.cliJSON(t, &a, "account", "create", "--name", "Acme Custody", "--email", "ops@acme.test")
	if a.ID == "" {
		t.Fatal("account create returned no id")
	}
	return a.ID
}

func (d *pgDeployment) createKey(t *testing.T, accountID, name string) createdKey {
	t.Helper()
	var k createdKey
	d.cliJSON(t, &k, "key", "create", "--account", accountID, "--name", name)
	if k.ClientID == "" || k.ClientSecret == "" {
		t.Fatal("key create returned no clientId or clientSecret")
	}
	return k
}

func (d *pgDeployment) deleteKey(t *testing.T, clientID string) {
	t.Helper()
	d.cliJSON(t, nil, "key", "delete", clientID)
}

// listKeyIDs returns the client IDs of the account's keys, in list order.
func (d *pgDeployment) listKeyIDs(t *testing.T, accountID string) []string {
	t.Helper()
	var out struct {
		Data []struct {
			ClientID string `json:"clientId"`
		} `json:"data"`
	}
	d.cliJSON(t, &out, "key", "list", "--account", accountID)
	ids := make([]string, len(out.Data))
	for i, k := range out.Data {
		ids[i] = k.ClientID
	}
	return ids
}

// cliCommand returns an exec.Cmd for the iogate binary on the shared database, for use
// outside the test goroutine, where RunCLI may not fail the test.
func (d *pgDeployment) cliCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append(args, "--data-dir", d.cliDir)...)
	cmd.Env = append(os.Environ(), d.env()...)
	return cmd
}

// status sends a request and returns only its status, or 0 when the request failed.
func status(c *http.Client, method, url string, header map[string]string, body string) int {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls until fn returns want, and fails the test after within. It returns how
// long it took.
func waitStatus(t *testing.T, what string, want int, within time.Duration, fn func() int) time.Duration {
	t.Helper()
	start := time.Now()
	last := 0
	for time.Since(start) < within {
		if last = fn(); last == want {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: status %d after %s, want %d", what, last, within, want)
	return 0
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// waitLog waits up to two seconds for a log message of the server, which it may write a
// moment after the response that shows the state it reports.
func waitLog(t *testing.T, srv *testenv.Server, msg string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(srv.Logs(), msg) {
		if time.Now().After(deadline) {
			t.Errorf("the server did not log %q", msg)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
