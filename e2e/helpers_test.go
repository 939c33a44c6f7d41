// Package e2e runs iogate as its users do: the real binary on loopback over real TLS, with
// real SQLite, driven by the CLI, Go's HTTP client, curl and Node.js.
package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// fixture is an account with one key and one vault in a running server's data directory.
type fixture struct {
	srv          *testenv.Server
	accountID    string
	clientID     string
	clientSecret string
	vaultID      string
}

type createdKey struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	Scopes       []string `json:"scopes"`
}

func newFixture(t *testing.T, opts testenv.Options) *fixture {
	t.Helper()
	// A data directory that does not exist yet, so that the server creates it.
	dir := filepath.Join(t.TempDir(), "data")
	srv := testenv.Start(t, dir, opts)
	f := &fixture{srv: srv}
	f.accountID = createAccount(t, dir, "Acme Custody", "ops@acme.test")
	k := createKey(t, dir, f.accountID, "ci")
	f.clientID, f.clientSecret = k.ClientID, k.ClientSecret
	waitForKey(t, srv, f.clientID, f.clientSecret)
	var v struct{ ID string }
	testenv.CLIJSON(t, dir, &v, "vault", "create", "--account", f.accountID, "--name", "Treasury", "--threshold", "2")
	f.vaultID = v.ID
	return f
}

// newDataDir returns a new data directory that "iogate migrate" created, for tests that
// create accounts before a server starts. "account create" rejects a data directory that
// does not exist, so an operator without a running server migrates first too.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	testenv.CLIJSON(t, dir, nil, "migrate")
	return dir
}

func createAccount(t *testing.T, dir, name, email string) string {
	t.Helper()
	var a struct{ ID string }
	testenv.CLIJSON(t, dir, &a, "account", "create", "--name", name, "--email", email)
	if a.ID == "" {
		t.Fatal("account create returned no id")
	}
	return a.ID
}

func createKey(t *testing.T, dir, accountID, name string, extra ...string) createdKey {
	t.Helper()
	var k createdKey
	testenv.CLIJSON(t, dir, &k, append([]string{"key", "create", "--account", accountID, "--name", name}, extra...)...)
	if k.ClientID == "" || k.ClientSecret == "" {
		t.Fatal("key create returned no clientId or clientSecret")
	}
	return k
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v", err)
	}
	return m
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string, body string) response {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return send(t, c, method, url, h, body)
}

func credentialsJSON(clientID, secret string) string {
	b, _ := json.Marshal(map[string]string{"clientId": clientID, "clientSecret": secret})
	return string(b)
}

// accessToken gets a token through POST /v1/auth/accessToken and fails the test otherwise.
func accessToken(t *testing.T, srv *testenv.Server, clientID, secret string) string {
	t.Helper()
	r := do(t, srv.Client, "POST", srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(clientID, secret))
	if r.status != http.StatusOK {
		t.Fatalf("POST /v1/auth/accessToken: status %d, want 200; body %s", r.status, redactBody(r.body))
	}
	tok, _ := r.json(t)["accessToken"].(string)
	if tok == "" {
		t.Fatal("POST /v1/auth/accessToken: no accessToken in the response")
	}
	return tok
}

// redactBody returns an error body for a failure message. Error bodies never hold secrets,
// but a success body might, so anything with a token is cut.
func redactBody(b []byte) string {
	if bytes.Contains(b, []byte("accessToken")) {
		return "[body with an access token]"
	}
	return string(b)
}

func getVaults(t *testing.T, srv *testenv.Server, tok string) response {
	t.Helper()
	return do(t, srv.Client, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + tok}, "")
}

// waitForKey polls the token endpoint until the key that the CLI just created works. The
// running server learns of CLI changes through its change feed, which polls every 25 ms.
func waitForKey(t *testing.T, srv *testenv.Server, clientID, secret string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := do(t, srv.Client, "POST", srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(clientID, secret))
		if r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s created by the CLI still fails after 2s: status %d", clientID, r.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
