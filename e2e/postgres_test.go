package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
	"github.com/iogate/iogate/postgres"
)

// TestPostgresTwoNodes runs two nodes on one database: a token from node A works on node
// B, and after a key is deleted (by the CLI, a third process on the same database) node B
// refuses its token within one second, in each of 50 trials.
func TestPostgresTwoNodes(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	// Nodes behind one load balancer share the public URL as their issuer; each node
	// rejects tokens of another issuer.
	a := d.startNode(t, "a", "--issuer", "https://iogate.test")
	b := d.startNode(t, "b", "--issuer", "https://iogate.test")
	accountID := d.createAccount(t)

	k := d.createKey(t, accountID, "shared")
	waitForKey(t, a, k.ClientID, k.ClientSecret)
	tok := accessToken(t, a, k.ClientID, k.ClientSecret)
	waitStatus(t, "node B with a token from node A", http.StatusOK, 2*time.Second, func() int {
		return status(b.Client, "GET", b.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	for _, n := range []*testenv.Server{a, b} {
		if got := status(n.Client, "GET", n.URL+"/readyz", nil, ""); got != http.StatusOK {
			t.Errorf("GET /readyz on a healthy node: status %d, want 200", got)
		}
	}

	const trials = 50
	var worst time.Duration
	for i := range trials {
		k := d.createKey(t, accountID, "trial")
		waitForKey(t, a, k.ClientID, k.ClientSecret)
		tok := accessToken(t, a, k.ClientID, k.ClientSecret)
		waitStatus(t, "node B with a new key's token", http.StatusOK, 2*time.Second, func() int {
			return status(b.Client, "GET", b.URL+"/v1/vaults", bearerHeader(tok), "")
		})

		d.deleteKey(t, k.ClientID)
		took := waitStatus(t, "node B after the deletion", http.StatusUnauthorized, time.Second, func() int {
			return status(b.Client, "GET", b.URL+"/v1/vaults", bearerHeader(tok), "")
		})
		worst = max(worst, took)
		waitStatus(t, fmt.Sprintf("trial %d: node A after the deletion", i), http.StatusUnauthorized, time.Second, func() int {
			return status(a.Client, "GET", a.URL+"/v1/vaults", bearerHeader(tok), "")
		})
	}
	t.Logf("node B refused a deleted key's token at most %s after the deletion returned (worst of %d trials)", worst, trials)
}

// TestPostgresDatabaseRestart stops and starts the database under load: while it is down,
// token requests, bearer requests and /readyz return 503 and key creation fails; once it
// is back, the node recovers by itself and the keys are exactly those whose creation
// succeeded.
func TestPostgresDatabaseRestart(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	d := newPGDeployment(t, cluster.NewDatabase(t))
	node := d.startNode(t, "node", "--max-staleness", "1s")
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "load")
	waitForKey(t, node, k.ClientID, k.ClientSecret)
	tok := accessToken(t, node, k.ClientID, k.ClientSecret)

	// Load: token and bearer requests in a loop, and key creations through the CLI, until
	// the database has been back for a while. Each loop is bounded in time.
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stop()
	var (
		mu       sync.Mutex
		stopping atomic.Bool
		statuses = map[int]int{}
		created  = []string{k.ClientID}
		failed   atomic.Int64
		wg       sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for !stopping.Load() && ctx.Err() == nil {
			s1 := status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
			s2 := status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
			mu.Lock()
			statuses[s1]++
			statuses[s2]++
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	bin := testenv.Binary(t)
	go func() {
		defer wg.Done()
		// The loop ends through stopping, not ctx: a CLI run killed mid-way could have
		// committed its key without reporting it.
		for !stopping.Load() && ctx.Err() == nil {
			out, err := d.cliCommand(ctx, bin, "key", "create", "--account", accountID, "--name", "during-restart", "--json").Output()
			if err != nil {
				failed.Add(1)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			var ck createdKey
			if json.Unmarshal(out, &ck) == nil && ck.ClientID != "" {
				mu.Lock()
				created = append(created, ck.ClientID)
				mu.Unlock()
			}
		}
	}()
	time.Sleep(time.Second)

	cluster.Stop(t)
	stoppedAt := time.Now()
	waitStatus(t, "GET /readyz with the database down", http.StatusServiceUnavailable, 10*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/readyz", nil, "")
	})
	waitStatus(t, "bearer request with the database down", http.StatusServiceUnavailable, 10*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	// Token issuance reads no database: it goes on from the node's view until the view is
	// older than --max-staleness, and only then returns 503.
	waitStatus(t, "token request with the database down", http.StatusServiceUnavailable, 10*time.Second, func() int {
		return status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
	})
	r := do(t, node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
	if r.status != http.StatusServiceUnavailable || r.json(t)["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("token request with a stale view: status %d, code %v, Retry-After %q; want 503, unavailable and a Retry-After",
			r.status, r.json(t)["code"], r.header.Get("Retry-After"))
	}
	// The whole message is matched, so that a line the redacting handler mangled fails.
	waitLog(t, node, "change feed down longer than the maximum staleness; responding 503 to token requests and API calls with access tokens until resynced")
	res := testenv.RunCLI(t, d.cliDir, d.env(), "key", "create", "--account", accountID, "--name", "down")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "unreachable") {
		t.Errorf("key create with the database down: exit %d, stderr %q; want a failure that says the database is unreachable", res.ExitCode, res.Stderr)
	}
	time.Sleep(2*time.Second - time.Since(stoppedAt))

	cluster.Start(t)
	recovered := waitStatus(t, "GET /readyz after the database restarted", http.StatusOK, 30*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/readyz", nil, "")
	})
	t.Logf("the node was ready again %s after the database started", recovered)
	waitStatus(t, "bearer request after the restart", http.StatusOK, 5*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	accessToken(t, node, k.ClientID, k.ClientSecret)
	waitLog(t, node, "change feed resynced; accepting token requests and API calls with access tokens again")
	time.Sleep(2 * time.Second)
	stopping.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("responses under load: %v; key creations that failed: %d, succeeded: %d", statuses, failed.Load(), len(created)-1)
	for s, n := range statuses {
		if s != http.StatusOK && s != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d under load; want only 200 and 503", n, s)
		}
	}
	if failed.Load() == 0 {
		t.Error("no key creation failed while the database was down")
	}
	got := d.listKeyIDs(t, accountID)
	slices.Sort(got)
	slices.Sort(created)
	if !slices.Equal(got, created) {
		t.Errorf("after the restart the account has %d keys, want exactly the %d whose creation succeeded", len(got), len(created))
	}
}

// TestPostgresFeedKilled kills the node's LISTEN connection and deletes a key at once, so
// that its notification may be lost: the node reconnects, catches up from the change log,
// and refuses the deleted key's token.
func TestPostgresFeedKilled(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	d := newPGDeployment(t, dbURL)
	node := d.startNode(t, "node")
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "victim")
	waitForKey(t, node, k.ClientID, k.ClientSecret)
	tok := accessToken(t, node, k.ClientID, k.ClientSecret)
	if got := status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), ""); got != http.StatusOK {
		t.Fatalf("bearer request before the kill: status %d, want 200", got)
	}

	feedPID := func() int64 {
		return pgtest.QueryInt(t, dbURL, `SELECT COALESCE(MAX(pid), 0) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, postgres.FeedApplicationName)
	}
	before := feedPID()
	if before == 0 {
		t.Fatal("no change feed connection in pg_stat_activity")
	}
	pgtest.Exec(t, dbURL, `SELECT pg_terminate_backend($1)`, before)
	d.deleteKey(t, k.ClientID)

	took := waitStatus(t, "bearer request after the feed was killed and the key deleted", http.StatusUnauthorized, 5*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	t.Logf("the node refused the deleted key's token %s after the deletion, across a feed reconnection", took)
	deadline := time.Now().Add(5 * time.Second)
	for after := feedPID(); after == 0 || after == before; after = feedPID() {
		if time.Now().After(deadline) {
			t.Fatalf("the change feed did not reconnect within 5s (backend %d before, %d now)", before, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLog(t, node, "change feed failed; reconnecting")
	waitStatus(t, "GET /readyz after the feed reconnected", http.StatusOK, 5*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/readyz", nil, "")
	})
}

// TestPostgresMasterKey checks that a node never creates a master key for a shared
// database, refuses to start with the wrong one, and works with a rotated one.
func TestPostgresMasterKey(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	serveOnce := func(env ...string) testenv.CLIResult {
		return testenv.RunCLI(t, t.TempDir(), env, "serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "")
	}

	res := serveOnce("IOGATE_DATABASE=" + d.dbURL)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "no master key") {
		t.Errorf("serve on PostgreSQL without a master key: exit %d, stderr %q; want a refusal that names the missing master key", res.ExitCode, res.Stderr)
	}

	// A first node creates the signing key, which the rotation must re-encrypt too.
	first := d.startNode(t, "first")
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "before-rotation")
	waitForKey(t, first, k.ClientID, k.ClientSecret)

	res = serveOnce("IOGATE_DATABASE="+d.dbURL, "IOGATE_MASTER_KEY="+newMasterKey(t))
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "do not decrypt with this master key") {
		t.Errorf("serve with the wrong master key: exit %d, stderr %q; want a refusal that says the key is wrong", res.ExitCode, res.Stderr)
	}

	newKeyFile := filepath.Join(t.TempDir(), "new.key")
	d.cliJSON(t, nil, "master-key", "generate", "--output", newKeyFile)
	var rotated struct {
		Reencrypted int `json:"reencrypted"`
	}
	d.cliJSON(t, &rotated, "master-key", "rotate", "--new-key-file", newKeyFile)
	if rotated.Reencrypted < 2 {
		t.Errorf("master-key rotate re-encrypted %d values, want at least the pepper and a signing key", rotated.Reencrypted)
	}
	newKey, err := os.ReadFile(newKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKey := d.masterKey
	d.masterKey = strings.TrimSpace(string(newKey))
	node := d.startNode(t, "rotated")
	waitForKey(t, node, k.ClientID, k.ClientSecret)
	// The first node decrypted what it needs at start, so it keeps working until restarted.
	accessToken(t, first, k.ClientID, k.ClientSecret)

	res = serveOnce("IOGATE_DATABASE="+d.dbURL, "IOGATE_MASTER_KEY="+oldKey)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "do not decrypt with this master key") {
		t.Errorf("serve with the master key from before the rotation: exit %d; want a refusal", res.ExitCode)
	}
}

// TestDatabaseFlagRejectsPassword checks that a password on the command line is refused
// before anything connects, and that the message does not repeat it.
func TestDatabaseFlagRejectsPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://iogate:s3cret-on-argv@127.0.0.1:1/iogate",
		"postgresql://iogate@127.0.0.1:1/iogate?password=s3cret-on-argv",
	} {
		res := testenv.RunCLI(t, t.TempDir(), nil, "migrate", "--database", url)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "must not contain a password") {
			t.Errorf("migrate with a password in --database: exit %d, stderr %q; want a refusal", res.ExitCode, res.Stderr)
		}
		if strings.Contains(res.Stderr+res.Stdout, "s3cret-on-argv") {
			t.Error("the refusal repeats the password")
		}
	}
}

// TestMasterKeyRotateSQLite rotates the master key of the default SQLite store: the key
// keeps working under the new master key, and the old one no longer opens the store.
func TestMasterKeyRotateSQLite(t *testing.T) {
	dir := newDataDir(t)
	accountID := createAccount(t, dir, "Acme", "ops@acme.test")
	k := createKey(t, dir, accountID, "before-rotation")
	newKeyFile := filepath.Join(t.TempDir(), "new.key")
	testenv.CLIJSON(t, dir, nil, "master-key", "generate", "--output", newKeyFile)
	testenv.CLIJSON(t, dir, nil, "master-key", "rotate", "--new-key-file", newKeyFile)

	res := testenv.RunCLI(t, dir, nil, "key", "list", "--account", accountID)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "do not decrypt") {
		t.Errorf("key list with the old master key after rotation: exit %d, stderr %q; want a refusal", res.ExitCode, res.Stderr)
	}
	srv := testenv.Start(t, dir, testenv.Options{Args: []string{"--master-key-file", newKeyFile}})
	waitForKey(t, srv, k.ClientID, k.ClientSecret)
}
