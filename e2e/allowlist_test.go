package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// clientFrom returns a client of srv whose connections leave from the local address ip,
// so that the server takes ip as the client's address.
func clientFrom(t *testing.T, srv *testenv.Server, ip string) *http.Client {
	t.Helper()
	local := net.ParseIP(ip)
	if local == nil {
		t.Fatalf("bad local address %q", ip)
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: srv.RootCAs},
		ForceAttemptHTTP2: true,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}).DialContext,
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: srv.OpenAPI.ValidatingTransport(t, tr)}
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// requestToken posts the credentials to /v1/auth/accessToken with c.
func requestToken(t *testing.T, c *http.Client, srv *testenv.Server, clientID, secret string) response {
	t.Helper()
	return do(t, c, "POST", srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(clientID, secret))
}

// tokenFrom gets an access token with c and fails the test otherwise.
func tokenFrom(t *testing.T, c *http.Client, srv *testenv.Server, clientID, secret string) string {
	t.Helper()
	r := requestToken(t, c, srv, clientID, secret)
	if r.status != http.StatusOK {
		t.Fatalf("POST /v1/auth/accessToken: status %d, want 200; body %s", r.status, redactBody(r.body))
	}
	tok, _ := r.json(t)["accessToken"].(string)
	return tok
}

func vaultsWith(t *testing.T, c *http.Client, srv *testenv.Server, tok string) response {
	t.Helper()
	return do(t, c, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + tok}, "")
}

// checkIPDenial checks that r is the 403 of an address outside a key's allowlist, that its
// detail names the caller's address from, and that its body reveals none of the listed
// entries.
func checkIPDenial(t *testing.T, what string, r response, from string, listed ...string) {
	t.Helper()
	if r.status != http.StatusForbidden {
		t.Errorf("%s: status %d, want 403; body %s", what, r.status, redactBody(r.body))
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	body := r.json(t)
	if code := body["code"]; code != "forbidden" {
		t.Errorf("%s: code %v, want forbidden", what, code)
	}
	if detail, _ := body["detail"].(string); !strings.Contains(detail, "requests from "+from+" are not allowed") {
		t.Errorf("%s: detail %q, want it to name the caller's address %s", what, detail, from)
	}
	for _, entry := range listed {
		if strings.Contains(string(r.body), entry) {
			t.Errorf("%s: the body reveals the allowlist entry %s: %s", what, entry, r.body)
		}
	}
}

func TestIPRestrictionsIPv4(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	from1 := clientFrom(t, f.srv, "127.0.0.1")
	from2 := clientFrom(t, f.srv, "127.0.0.2")

	// The server applies CLI changes in order, so once the last key works, all are known.
	only1 := createKey(t, dir, f.accountID, "only-1", "--allow-ip", "127.0.0.1")
	only2 := createKey(t, dir, f.accountID, "only-2", "--allow-ip", "127.0.0.2")
	both := createKey(t, dir, f.accountID, "loopback", "--allow-ip", "127.0.0.0/8")
	waitForKeyFrom(t, from2, f.srv, both.ClientID, both.ClientSecret)

	t.Run("key for 127.0.0.1 used from 127.0.0.2", func(t *testing.T) {
		tok := tokenFrom(t, from1, f.srv, only1.ClientID, only1.ClientSecret)
		if r := vaultsWith(t, from1, f.srv, tok); r.status != http.StatusOK {
			t.Errorf("GET /v1/vaults from 127.0.0.1: status %d, want 200", r.status)
		}
		checkIPDenial(t, "token request from 127.0.0.2", requestToken(t, from2, f.srv, only1.ClientID, only1.ClientSecret), "127.0.0.2", "127.0.0.1")
		checkIPDenial(t, "GET /v1/vaults from 127.0.0.2", vaultsWith(t, from2, f.srv, tok), "127.0.0.2", "127.0.0.1")
	})

	t.Run("key for 127.0.0.2 used from 127.0.0.1", func(t *testing.T) {
		tok := tokenFrom(t, from2, f.srv, only2.ClientID, only2.ClientSecret)
		if r := vaultsWith(t, from2, f.srv, tok); r.status != http.StatusOK {
			t.Errorf("GET /v1/vaults from 127.0.0.2: status %d, want 200", r.status)
		}
		checkIPDenial(t, "token request from 127.0.0.1", requestToken(t, from1, f.srv, only2.ClientID, only2.ClientSecret), "127.0.0.1", "127.0.0.2")
		checkIPDenial(t, "GET /v1/vaults from 127.0.0.1", vaultsWith(t, from1, f.srv, tok), "127.0.0.1", "127.0.0.2")
	})

	t.Run("prefix covers both", func(t *testing.T) {
		for _, c := range []*http.Client{from1, from2} {
			tok := tokenFrom(t, c, f.srv, both.ClientID, both.ClientSecret)
			if r := vaultsWith(t, c, f.srv, tok); r.status != http.StatusOK {
				t.Errorf("GET /v1/vaults: status %d, want 200", r.status)
			}
		}
	})

	t.Run("wrong secret from outside the list is 401", func(t *testing.T) {
		// The list is checked only after the secret verified, so a stranger learns nothing.
		r := requestToken(t, from2, f.srv, only1.ClientID, only2.ClientSecret)
		if r.status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", r.status)
		}
	})

	t.Run("curl from 127.0.0.2", func(t *testing.T) {
		curl := testenv.RequireTool(t, "curl")
		out, err := exec.Command(curl, "--silent", "--show-error", "--cacert", f.srv.CACert, "--interface", "127.0.0.2",
			"--write-out", "\n%{http_code}", "--header", "content-type: application/json",
			"--data", credentialsJSON(only1.ClientID, only1.ClientSecret), f.srv.URL+"/v1/auth/accessToken").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		text := strings.TrimSpace(string(out))
		cut := strings.LastIndex(text, "\n")
		body, status := text[:max(cut, 0)], text[cut+1:]
		if status != "403" || !strings.Contains(body, `"code":"forbidden"`) || !strings.Contains(body, "requests from 127.0.0.2") || strings.Contains(body, "127.0.0.1") {
			t.Errorf("curl: status %s, body %s; want 403 with code forbidden, naming the address 127.0.0.2 and no allowlist entry", status, body)
		}
	})
}

// waitForKeyFrom is waitForKey with a client bound to an allowed address.
func waitForKeyFrom(t *testing.T, c *http.Client, srv *testenv.Server, clientID, secret string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := requestToken(t, c, srv, clientID, secret)
		if r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s created by the CLI still fails after 2s: status %d", clientID, r.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIPRestrictionsIPv6(t *testing.T) {
	f := newFixture(t, testenv.Options{Listen: "[::1]:0", HTTPListen: "-"})
	if !strings.HasPrefix(f.srv.URL, "https://[::1]:") {
		t.Fatalf("server URL %s, want one on [::1]", f.srv.URL)
	}
	dir := f.srv.DataDir
	// The server applies CLI changes in order, so once the last key works, all are known.
	elsewhere := createKey(t, dir, f.accountID, "elsewhere", "--allow-ip", "2001:db8::/32", "--allow-ip", "127.0.0.1")
	v6net := createKey(t, dir, f.accountID, "v6-net", "--allow-ip", "::/64")
	v6 := createKey(t, dir, f.accountID, "v6", "--allow-ip", "::1")
	waitForKey(t, f.srv, v6.ClientID, v6.ClientSecret)

	for _, k := range []createdKey{v6, v6net} {
		tok := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
		if r := getVaults(t, f.srv, tok); r.status != http.StatusOK {
			t.Errorf("GET /v1/vaults from ::1 with a key allowing it: status %d, want 200", r.status)
		}
	}
	checkIPDenial(t, "token request from ::1 with a key for 2001:db8::/32 and 127.0.0.1",
		requestToken(t, f.srv.Client, f.srv, elsewhere.ClientID, elsewhere.ClientSecret), "::1", "2001:db8", "127.0.0.1")

	var shown struct{ AllowedIPs []string }
	testenv.CLIJSON(t, dir, &shown, "key", "show", v6net.ClientID)
	if strings.Join(shown.AllowedIPs, " ") != "::/64" {
		t.Errorf("key show allowedIps = %v, want [::/64]", shown.AllowedIPs)
	}
}

func TestAllowlistEntriesRejected(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	entries := []struct{ entry, reason string }{
		{"127.0.0.01", "leading zeros"},
		{"010.0.0.0/8", "leading zeros"},
		{"fe80::1%eth0", "zones"},
		{"10.0.0.1/8", "host bits are set"},
		{"2001:db8::1/32", "host bits are set"},
		{"10.0.0.0/33", "out of range"},
		{"::/129", "out of range"},
		{"10.0.0.0/-1", "not a decimal number"},
		{"10.0.0.0/08", "leading zero"},
		{"example.com", "not an IPv4 or IPv6 address"},
	}
	for _, e := range entries {
		t.Run(e.entry, func(t *testing.T) {
			for _, args := range [][]string{
				{"key", "create", "--account", f.accountID, "--name", "bad", "--allow-ip", "127.0.0.1", "--allow-ip", e.entry},
				{"key", "update", f.clientID, "--allow-ip", "127.0.0.1", "--allow-ip", e.entry},
			} {
				res := testenv.RunCLI(t, dir, nil, args...)
				if res.ExitCode == 0 {
					t.Errorf("iogate %s %s succeeded, want it to reject %q", args[0], args[1], e.entry)
					continue
				}
				if !strings.Contains(res.Stderr, `"`+e.entry+`"`) || !strings.Contains(res.Stderr, e.reason) {
					t.Errorf("iogate %s %s: stderr %q, want it to name %q and say %q", args[0], args[1], res.Stderr, e.entry, e.reason)
				}
			}
		})
	}

	// Nothing was created or changed by the rejected commands.
	var keys struct {
		Data []struct{ AllowedIPs []string }
	}
	testenv.CLIJSON(t, dir, &keys, "key", "list", "--account", f.accountID)
	if len(keys.Data) != 1 || len(keys.Data[0].AllowedIPs) != 0 {
		t.Errorf("keys after rejected commands = %+v, want the fixture's key without restrictions", keys.Data)
	}
}

func TestNoKeyManagementWithTokens(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	k := createKey(t, f.srv.DataDir, f.accountID, "all-scopes", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
	tok := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
	auth := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	for _, path := range []string{"/v1/keys", "/v1/apiKeys", "/v1/api-keys", "/v1/keys/" + f.clientID, "/v1/apiKeys/" + f.clientID} {
		for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			r := do(t, f.srv.Client, method, f.srv.URL+path, auth, `{"name":"x"}`)
			if r.status < 400 {
				t.Errorf("%s %s with an access token: status %d, want an error", method, path, r.status)
			}
		}
	}
	if r := getVaults(t, f.srv, f.clientSecret); r.status != http.StatusUnauthorized {
		t.Errorf("client secret used as a bearer token: status %d, want 401", r.status)
	}
	// The fixture's key is still there.
	accessToken(t, f.srv, f.clientID, f.clientSecret)
}

// TestTokenFromRefusedAddressRecorded uses a valid access token from an address outside
// its key's allowlist, as a stolen token would be. The 403 must name the key: in the
// access log as client_id, and in the audit log as an access.denied record with the
// token's ID, the address and the reason ip_not_allowed.
func TestTokenFromRefusedAddressRecorded(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	from1 := clientFrom(t, f.srv, "127.0.0.1")
	from2 := clientFrom(t, f.srv, "127.0.0.2")
	k := createKey(t, dir, f.accountID, "only-1", "--allow-ip", "127.0.0.1")
	waitForKeyFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
	tok := tokenFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)

	checkIPDenial(t, "GET /v1/vaults from 127.0.0.2", vaultsWith(t, from2, f.srv, tok), "127.0.0.2", "127.0.0.1")

	var denied []auditRecord
	deadline := time.Now().Add(5 * time.Second)
	for len(denied) == 0 && time.Now().Before(deadline) {
		denied = auditList(t, dir, f.accountID, "--event", "access.denied")
		if len(denied) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(denied) != 1 {
		t.Fatalf("%d access.denied records after one refused request, want 1", len(denied))
	}
	r := denied[0]
	if r.ClientID != k.ClientID || r.Reason != "ip_not_allowed" || r.Actor.IP != "127.0.0.2" || r.TokenID == "" {
		t.Errorf("access.denied record: client %s, reason %q, address %q, token ID %q; want client %s, ip_not_allowed, 127.0.0.2 and the token's ID",
			r.ClientID, r.Reason, r.Actor.IP, r.TokenID, k.ClientID)
	}

	// Access-log lines are written in batches, so the line may take a moment to appear.
	want := `"path":"/v1/vaults","status":403,"remote_addr":"127.0.0.2"`
	found := false
	for deadline := time.Now().Add(5 * time.Second); !found && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, line := range strings.Split(f.srv.Logs(), "\n") {
			if strings.Contains(line, want) {
				found = strings.Contains(line, `"client_id":"`+k.ClientID+`"`)
			}
		}
	}
	if !found {
		t.Errorf("no access-log line with %s and the key's client_id", want)
	}
}
