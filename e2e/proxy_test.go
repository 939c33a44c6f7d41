package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// tokenRequest posts client credentials to /v1/auth/accessToken with extra headers.
func tokenRequest(t *testing.T, c *http.Client, srv *testenv.Server, header map[string]string, clientID, secret string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return do(t, c, "POST", srv.URL+"/v1/auth/accessToken", h, credentialsJSON(clientID, secret))
}

// waitForKeyWith polls the token endpoint with header until the server has loaded the
// key, that is until the status is no longer 401.
func waitForKeyWith(t *testing.T, c *http.Client, srv *testenv.Server, header map[string]string, clientID, secret string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := tokenRequest(t, c, srv, header, clientID, secret)
		if r.status != http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s still unknown to the server after 2s", clientID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keyExposed(t *testing.T, dir, clientID string) bool {
	t.Helper()
	var k struct {
		Exposed   bool       `json:"exposed"`
		ExposedAt *time.Time `json:"exposedAt"`
	}
	testenv.CLIJSON(t, dir, &k, "key", "show", clientID)
	if k.Exposed != (k.ExposedAt != nil) {
		t.Errorf("key %s: exposed = %t but exposedAt = %v", clientID, k.Exposed, k.ExposedAt)
	}
	return k.Exposed
}

func TestTrustedProxies(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--trusted-proxies", "127.0.0.1/32"}})
	dir := f.srv.DataDir
	restricted := createKey(t, dir, f.accountID, "behind-proxy", "--allow-ip", "203.0.113.7")
	viaProxy := f.srv.Client
	untrusted := clientFrom(t, f.srv, "127.0.0.2")
	fromClient := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	waitForKeyWith(t, viaProxy, f.srv, fromClient, restricted.ClientID, restricted.ClientSecret)

	cases := []struct {
		name   string
		client *http.Client
		header map[string]string
		status int
	}{
		{"trusted proxy forwards the allowed client", viaProxy, fromClient, 200},
		{"trusted proxy without X-Forwarded-For is the client", viaProxy, nil, 403},
		{"client-supplied entry left of the proxy's is ignored", viaProxy,
			map[string]string{"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}, 403},
		{"trusted hop in the chain is skipped", viaProxy,
			map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}, 200},
		{"untrusted peer's X-Forwarded-For is ignored", untrusted, fromClient, 403},
		{"untrusted peer's X-Real-IP is ignored", untrusted, map[string]string{"X-Real-IP": "203.0.113.7"}, 403},
		{"untrusted peer's Forwarded is ignored", untrusted, map[string]string{"Forwarded": "for=203.0.113.7;proto=https"}, 403},
		{"trusted peer's X-Real-IP is not read either", viaProxy, map[string]string{"X-Real-IP": "203.0.113.7"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tokenRequest(t, c.client, f.srv, c.header, restricted.ClientID, restricted.ClientSecret)
			if r.status != c.status {
				t.Errorf("token request: status %d, want %d; body %s", r.status, c.status, redactBody(r.body))
			}
		})
	}

	t.Run("bearer requests use the forwarded address", func(t *testing.T) {
		r := tokenRequest(t, viaProxy, f.srv, fromClient, restricted.ClientID, restricted.ClientSecret)
		var tok struct{ AccessToken string }
		json.Unmarshal(r.body, &tok)
		auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "X-Forwarded-For": "203.0.113.7"}
		if r := do(t, viaProxy, "GET", f.srv.URL+"/v1/vaults", auth, ""); r.status != 200 {
			t.Errorf("GET /v1/vaults through the proxy: status %d, want 200", r.status)
		}
		if r := do(t, untrusted, "GET", f.srv.URL+"/v1/vaults", auth, ""); r.status != 403 {
			t.Errorf("GET /v1/vaults from an untrusted peer with X-Forwarded-For: status %d, want 403", r.status)
		}
	})

	t.Run("access log names the client and the proxy", func(t *testing.T) {
		logs := f.srv.SyncedLogs(t)
		if !strings.Contains(logs, `"remote_addr":"203.0.113.7"`) {
			t.Error("no access-log line with remote_addr 203.0.113.7")
		}
		if !strings.Contains(logs, `"peer_addr":"127.0.0.1"`) {
			t.Error("no access-log line with peer_addr 127.0.0.1")
		}
	})

	t.Run("untrusted peer's X-Forwarded-Proto is ignored", func(t *testing.T) {
		r := tokenRequest(t, untrusted, f.srv, map[string]string{"X-Forwarded-Proto": "http"}, f.clientID, f.clientSecret)
		if r.status != 200 {
			t.Errorf("status %d, want 200: the header must not be believed", r.status)
		}
		if keyExposed(t, dir, f.clientID) {
			t.Error("key marked exposed on an untrusted peer's say-so")
		}
	})

	t.Run("trusted proxy reporting plain HTTP is refused and exposes the key", func(t *testing.T) {
		r := tokenRequest(t, viaProxy, f.srv, map[string]string{"X-Forwarded-Proto": "http"}, f.clientID, f.clientSecret)
		if r.status != http.StatusForbidden || r.json(t)["code"] != "https_required" {
			t.Fatalf("status %d, body %s; want 403 https_required", r.status, redactBody(r.body))
		}
		if !keyExposed(t, dir, f.clientID) {
			t.Error("key not marked exposed after its secret crossed plain HTTP before the proxy")
		}
	})
}
