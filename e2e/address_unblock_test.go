package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// blockingArgs make a server block an address at its third failed authentication, for an
// hour, so that only an unblock lets it in again during a test.
var blockingArgs = []string{"--auth-failures-before-slowdown", "0", "--auth-failures-before-block", "3", "--auth-block-duration", "1h"}

// unblockTarget is a client at one loopback address and the key it requests tokens for.
type unblockTarget struct {
	ip     string
	client *http.Client
}

// tokenStatus returns the status of a token request with the key's right secret.
func (u unblockTarget) tokenStatus(srv *testenv.Server, k createdKey) int {
	return status(u.client, "POST", srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
}

// block sends wrong secrets for k from u until srv blocks the address, and checks that
// the right secret then gets 429.
func (u unblockTarget) block(t *testing.T, srv *testenv.Server, k createdKey) {
	t.Helper()
	wrong := otherLastChar(k.ClientSecret)
	for i := range 3 {
		if got := status(u.client, "POST", srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, wrong)); got != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d from %s: status %d, want 401", i+1, u.ip, got)
		}
	}
	if got := u.tokenStatus(srv, k); got != http.StatusTooManyRequests {
		t.Fatalf("right secret from %s after three wrong ones: status %d, want 429 (blocked)", u.ip, got)
	}
}

// waitUnblocked polls until the right secret from u gets a token from srv, for at most a
// second after the unblock command returned.
func (u unblockTarget) waitUnblocked(t *testing.T, srv *testenv.Server, name string, k createdKey) {
	t.Helper()
	waitStatus(t, fmt.Sprintf("token request from %s at %s after the unblock", u.ip, name), http.StatusOK, time.Second, func() int {
		return u.tokenStatus(srv, k)
	})
}

// TestAddressUnblockSQLite blocks three loopback addresses on a server, lifts the block of
// one address and then of a prefix with the CLI, and checks that each lifted address gets
// a token within a second while the others stay blocked. The server logs and counts each
// lifted block, and writes an address.unblocked record where the block wrote its
// address.blocked record.
func TestAddressUnblockSQLite(t *testing.T) {
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	k := createKey(t, dir, account, "office")
	srv := testenv.Start(t, dir, testenv.Options{Args: blockingArgs})
	single := unblockTarget{"127.0.0.2", clientFrom(t, srv, "127.0.0.2")}
	inPrefix := unblockTarget{"127.0.0.3", clientFrom(t, srv, "127.0.0.3")}
	outside := unblockTarget{"127.0.0.9", clientFrom(t, srv, "127.0.0.9")}
	for _, u := range []unblockTarget{single, inPrefix, outside} {
		u.block(t, srv, k)
	}

	res := testenv.RunCLI(t, dir, nil, "address", "unblock", "127.0.0.2")
	if res.ExitCode != 0 {
		t.Fatalf("iogate address unblock 127.0.0.2: exit %d, stderr: %s", res.ExitCode, res.Stderr)
	}
	if !strings.HasPrefix(res.Stdout, "Recorded an unblock of 127.0.0.2/32.") {
		t.Errorf("iogate address unblock 127.0.0.2: output %q, want it to name 127.0.0.2/32", res.Stdout)
	}
	single.waitUnblocked(t, srv, "the server", k)
	for _, u := range []unblockTarget{inPrefix, outside} {
		if got := u.tokenStatus(srv, k); got != http.StatusTooManyRequests {
			t.Errorf("%s after the unblock of 127.0.0.2: status %d, want 429", u.ip, got)
		}
	}

	var out struct {
		Address  string
		Recorded bool
	}
	testenv.CLIJSON(t, dir, &out, "address", "unblock", "127.0.0.0/30")
	if out.Address != "127.0.0.0/30" || !out.Recorded {
		t.Errorf("iogate address unblock 127.0.0.0/30 --json = %+v, want address 127.0.0.0/30 recorded", out)
	}
	inPrefix.waitUnblocked(t, srv, "the server", k)
	if got := outside.tokenStatus(srv, k); got != http.StatusTooManyRequests {
		t.Errorf("127.0.0.9 outside 127.0.0.0/30: status %d, want 429", got)
	}

	logs := srv.SyncedLogs(t)
	var lines []map[string]any
	for line := range strings.Lines(logs) {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "address unblocked by an operator" {
			lines = append(lines, entry)
		}
	}
	if len(lines) != 2 || lines[0]["address"] != "127.0.0.2/32" || lines[1]["address"] != "127.0.0.0/30" {
		t.Errorf("unblock log lines = %v, want one for 127.0.0.2/32 and one for 127.0.0.0/30", lines)
	}
	for _, l := range lines {
		if l["level"] != "WARN" || l["operator"] == "" || l["blocked"] != 1.0 {
			t.Errorf("unblock log line = %v, want WARN with the operator and 1 blocked address", l)
		}
	}
	if got := metricValue(t, srv, "iogate_address_unblocks_total"); got != 2 {
		t.Errorf("iogate_address_unblocks_total = %v, want 2", got)
	}

	var records []auditRecord
	deadline := time.Now().Add(5 * time.Second)
	for len(records) < 2 && time.Now().Before(deadline) {
		records = auditList(t, dir, account, "--event", "address.unblocked")
		time.Sleep(50 * time.Millisecond)
	}
	if len(records) != 2 {
		t.Fatalf("address.unblocked records = %d, want 2: one for each lifted block", len(records))
	}
	var addresses []string
	for _, r := range records {
		var details struct{ Address string }
		json.Unmarshal(r.Details, &details)
		addresses = append(addresses, details.Address)
		if r.Actor.Type != "operator" || r.Actor.ID == "" || r.ClientID != k.ClientID {
			t.Errorf("address.unblocked record = %+v, want the operator as actor and the key's client ID", r)
		}
	}
	if strings.Join(addresses, " ") != "127.0.0.3/32 127.0.0.2/32" {
		t.Errorf("address.unblocked records, newest first, name %v, want 127.0.0.3/32 and 127.0.0.2/32", addresses)
	}
}

// TestAddressUnblockPostgresTwoNodes blocks two loopback addresses on each of two nodes
// that share a PostgreSQL database, and lifts the blocks with the CLI, a third process on
// that database: first of one address, then of a prefix. Both nodes let each lifted
// address in within a second, and keep the other one blocked until its unblock.
func TestAddressUnblockPostgresTwoNodes(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	a := d.startNode(t, "a", append([]string{"--issuer", "https://iogate.test"}, blockingArgs...)...)
	b := d.startNode(t, "b", append([]string{"--issuer", "https://iogate.test"}, blockingArgs...)...)
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "office")
	nodes := map[string]*testenv.Server{"node A": a, "node B": b}
	targets := func(srv *testenv.Server) (unblockTarget, unblockTarget) {
		return unblockTarget{"127.0.0.2", clientFrom(t, srv, "127.0.0.2")}, unblockTarget{"127.0.0.5", clientFrom(t, srv, "127.0.0.5")}
	}
	for _, srv := range nodes {
		waitForKey(t, srv, k.ClientID, k.ClientSecret)
		single, inPrefix := targets(srv)
		single.block(t, srv, k)
		inPrefix.block(t, srv, k)
	}

	var out struct {
		Address  string
		Recorded bool
	}
	d.cliJSON(t, &out, "address", "unblock", "127.0.0.2")
	if out.Address != "127.0.0.2/32" || !out.Recorded {
		t.Errorf("iogate address unblock 127.0.0.2 --json = %+v, want address 127.0.0.2/32 recorded", out)
	}
	for name, srv := range nodes {
		single, inPrefix := targets(srv)
		single.waitUnblocked(t, srv, name, k)
		if got := inPrefix.tokenStatus(srv, k); got != http.StatusTooManyRequests {
			t.Errorf("127.0.0.5 at %s after the unblock of 127.0.0.2: status %d, want 429", name, got)
		}
	}

	d.cliJSON(t, &out, "address", "unblock", "127.0.0.4/30")
	for name, srv := range nodes {
		_, inPrefix := targets(srv)
		inPrefix.waitUnblocked(t, srv, name, k)
	}
	for name, srv := range nodes {
		waitLog(t, srv, `"address":"127.0.0.4/30"`)
		if got := metricValue(t, srv, "iogate_address_unblocks_total"); got != 2 {
			t.Errorf("iogate_address_unblocks_total at %s = %v, want 2", name, got)
		}
	}
}
