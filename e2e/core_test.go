package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

func TestServeDefaults(t *testing.T) {
	f := newFixture(t, testenv.Options{})

	t.Run("data directory is private", func(t *testing.T) {
		info, err := os.Stat(f.srv.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("data directory mode = %o, want 700", perm)
		}
		info, err = os.Stat(filepath.Join(f.srv.DataDir, "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("master.key mode = %o, want 600", perm)
		}
	})

	t.Run("certificate covers loopback names", func(t *testing.T) {
		conn, err := tls.Dial("tcp", f.srv.Addr, &tls.Config{RootCAs: f.srv.RootCAs, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS handshake as localhost: %v", err)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
			if err := leaf.VerifyHostname(name); err != nil {
				t.Errorf("certificate does not cover %s: %v", name, err)
			}
		}
	})

	t.Run("TLS 1.1 is rejected", func(t *testing.T) {
		conn, err := tls.Dial("tcp", f.srv.Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded, want it rejected")
		}
	})

	t.Run("HSTS on HTTPS responses", func(t *testing.T) {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults", nil, "")
		if got := r.header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
			t.Errorf("Strict-Transport-Security = %q, want a max-age", got)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Error("X-Request-Id header missing")
		}
	})

	t.Run("plain HTTP is refused", func(t *testing.T) {
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/vaults", ""},
			{"POST", "/v1/auth/accessToken", credentialsJSON(f.clientID, "iogs_wrong")},
			{"GET", "/", ""},
		} {
			r := do(t, plain, c.method, "http://"+f.srv.HTTPAddr+c.path, map[string]string{"Content-Type": "application/json"}, c.body)
			if r.status != http.StatusForbidden {
				t.Errorf("%s %s over HTTP: status %d, want 403", c.method, c.path, r.status)
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("%s %s over HTTP: redirect to %q, want none", c.method, c.path, loc)
			}
			if code := r.json(t)["code"]; code != "https_required" {
				t.Errorf("%s %s over HTTP: code %v, want https_required", c.method, c.path, code)
			}
		}
	})

	t.Run("token claims", func(t *testing.T) {
		tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("token has %d parts, want 3", len(parts))
		}
		var header, claims map[string]any
		decodeSegment(t, parts[0], &header)
		decodeSegment(t, parts[1], &claims)
		if header["typ"] != "at+jwt" || header["alg"] != "EdDSA" || header["kid"] == "" {
			t.Errorf("token header = %v, want typ at+jwt, alg EdDSA and a kid", header)
		}
		if claims["iss"] != f.srv.Issuer {
			t.Errorf("iss = %v, want %s", claims["iss"], f.srv.Issuer)
		}
		if claims["client_id"] != f.clientID || claims["sub"] != f.clientID {
			t.Errorf("client_id = %v and sub = %v, want %s", claims["client_id"], claims["sub"], f.clientID)
		}
		if claims["scope"] != "vaults:read" {
			t.Errorf("scope = %v, want vaults:read", claims["scope"])
		}
		exp, iat := claims["exp"].(float64), claims["iat"].(float64)
		if exp-iat != 3600 {
			t.Errorf("exp - iat = %v, want 3600 (the default 1h lifetime)", exp-iat)
		}
	})
}

func decodeSegment(t *testing.T, seg string, out any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token segment is not base64url: %v", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("token segment is not JSON: %v", err)
	}
}

func TestIssuerFlag(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--issuer", "https://api.example.test", "--token-ttl", "10m"}})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	var claims map[string]any
	decodeSegment(t, strings.Split(tok, ".")[1], &claims)
	if claims["iss"] != "https://api.example.test" {
		t.Errorf("iss = %v, want https://api.example.test", claims["iss"])
	}
	if d := claims["exp"].(float64) - claims["iat"].(float64); d != 600 {
		t.Errorf("token lifetime = %vs, want 600 from --token-ttl 10m", d)
	}
	if r := getVaults(t, f.srv, tok); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults with the token: status %d, want 200", r.status)
	}
}

func TestAccessTokenFailures(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	deleted := createKey(t, dir, f.accountID, "deleted")
	testenv.CLIJSON(t, dir, nil, "key", "delete", deleted.ClientID)
	expiring := createKey(t, dir, f.accountID, "expiring", "--expires-in", "1s")
	time.Sleep(1500 * time.Millisecond)

	// Every authentication failure must look the same, so that nobody learns whether a
	// client ID exists. Only the request ID may differ.
	unauthorized := []struct{ name, clientID, secret string }{
		{"wrong secret", f.clientID, otherLastChar(f.clientSecret)},
		{"wrong secret with valid checksum shape", f.clientID, deleted.ClientSecret},
		{"imported-shape secret", f.clientID, "not-a-generated-secret"},
		{"unknown client", "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", f.clientSecret},
		{"deleted client", deleted.ClientID, deleted.ClientSecret},
		{"expired key", expiring.ClientID, expiring.ClientSecret},
		{"client ID that is not a UUID", "acme", f.clientSecret},
	}
	var first map[string]any
	for _, c := range unauthorized {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(c.clientID, c.secret))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", r.status, redactBody(r.body))
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
			}
			if got := r.header.Get("WWW-Authenticate"); got != `ClientSecretJSON realm="iogate"` {
				t.Errorf("WWW-Authenticate = %q, want the ClientSecretJSON challenge of the JSON body credentials", got)
			}
			body := r.json(t)
			delete(body, "requestId")
			if first == nil {
				first = body
			} else if !equalJSON(body, first) {
				t.Errorf("body %v differs from the first failure's body %v", body, first)
			}
		})
	}

	// The endpoint reads credentials from the JSON body only, so valid Basic credentials
	// neither rescue a wrong secret in the body nor stand in for a body without one.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.clientID+":"+f.clientSecret))
	t.Run("Basic credentials ignored", func(t *testing.T) {
		header := map[string]string{"Content-Type": "application/json", "Authorization": basic}
		r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", header, credentialsJSON(f.clientID, otherLastChar(f.clientSecret)))
		if r.status != http.StatusUnauthorized {
			t.Errorf("valid Basic with a wrong secret in the body: status %d, want 401", r.status)
		}
		r = do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", header, `{}`)
		if r.status != http.StatusBadRequest {
			t.Errorf("valid Basic with an empty JSON object: status %d, want 400", r.status)
		}
		if got := r.header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("400 for a missing field: WWW-Authenticate = %q, want none", got)
		}
	})

	bad := []struct {
		name, contentType, body string
		status                  int
	}{
		{"malformed JSON", "application/json", `{"clientId":`, 400},
		{"not an object", "application/json", `["a","b"]`, 400},
		{"wrong content type", "text/plain", credentialsJSON(f.clientID, f.clientSecret), 400},
		{"form content type", "application/x-www-form-urlencoded", "clientId=a&clientSecret=b", 400},
		{"missing content type", "", credentialsJSON(f.clientID, f.clientSecret), 400},
		{"missing secret", "application/json", `{"clientId":"` + f.clientID + `"}`, 400},
		{"empty secret", "application/json", `{"clientId":"` + f.clientID + `","clientSecret":""}`, 400},
		{"missing client ID", "application/json", `{"clientSecret":"x"}`, 400},
		{"empty body", "application/json", "", 400},
		{"duplicate field", "application/json", `{"clientId":"a","clientId":"b","clientSecret":"c"}`, 400},
		{"field in other case", "application/json", `{"clientid":"a","clientSecret":"c"}`, 400},
		{"number value", "application/json", `{"clientId":1,"clientSecret":"c"}`, 400},
		{"trailing data", "application/json", credentialsJSON(f.clientID, f.clientSecret) + `{}`, 400},
		{"oversized body", "application/json", `{"clientId":"` + strings.Repeat("a", 70_000) + `","clientSecret":"x"}`, 413},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.contentType != "" {
				h["Content-Type"] = c.contentType
			}
			r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", h, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, redactBody(r.body))
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			body := r.json(t)
			if body["detail"] == "" || body["code"] == "" || body["requestId"] != r.header.Get("X-Request-Id") {
				t.Errorf("error body %v lacks detail, code or the request ID", body)
			}
		})
	}

	t.Run("content type with parameters and upper case", func(t *testing.T) {
		r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "Application/JSON; charset=utf-8"}, credentialsJSON(f.clientID, f.clientSecret))
		if r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
	})

	t.Run("GET is not allowed", func(t *testing.T) {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/auth/accessToken", nil, "")
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", r.status)
		}
	})

	if logs := f.srv.SyncedLogs(t); strings.Contains(logs, f.clientSecret) || strings.Contains(logs, deleted.ClientSecret) {
		t.Error("a client secret appears in the server log")
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestVaultAPI(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	for _, name := range []string{"Cold", "Warm"} {
		testenv.CLIJSON(t, dir, nil, "vault", "create", "--account", f.accountID, "--name", name, "--threshold", "3")
	}
	other := createAccount(t, dir, "Other", "ops@other.test")
	var otherVault struct{ ID string }
	testenv.CLIJSON(t, dir, &otherVault, "vault", "create", "--account", other, "--name", "Theirs", "--threshold", "1")
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	auth := map[string]string{"Authorization": "Bearer " + tok}

	t.Run("list pages with a cursor", func(t *testing.T) {
		var names []string
		url := f.srv.URL + "/v1/vaults?limit=2"
		pages := 0
		for url != "" && pages < 5 {
			pages++
			r := do(t, f.srv.Client, "GET", url, auth, "")
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: status %d", url, r.status)
			}
			var page struct {
				Data []struct {
					ID, Name, Status string
					Threshold        int
					CreatedAt        time.Time
				}
				NextCursor *string
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Data {
				names = append(names, v.Name)
				if v.ID == "" || v.Status != "active" || v.Threshold < 1 || v.CreatedAt.IsZero() {
					t.Errorf("vault %+v lacks a field", v)
				}
			}
			url = ""
			if page.NextCursor != nil {
				url = f.srv.URL + "/v1/vaults?limit=2&cursor=" + *page.NextCursor
			}
		}
		if got := strings.Join(names, ","); got != "Treasury,Cold,Warm" {
			t.Errorf("vaults over all pages = %s, want Treasury,Cold,Warm (this account's only, oldest first)", got)
		}
		if pages != 2 {
			t.Errorf("pages = %d, want 2", pages)
		}
	})

	t.Run("get one", func(t *testing.T) {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults/"+f.vaultID, auth, "")
		if r.status != http.StatusOK || r.json(t)["name"] != "Treasury" {
			t.Errorf("GET own vault: status %d, body %s", r.status, r.body)
		}
	})

	notFound := []string{otherVault.ID, "01a2c3d4-0000-7000-8000-000000000000", "not-a-uuid"}
	for _, id := range notFound {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults/"+id, auth, "")
		if r.status != http.StatusNotFound {
			t.Errorf("GET /v1/vaults/%s: status %d, want 404", id, r.status)
		}
	}

	badLimits := []string{"0", "201", "x", "-1"}
	for _, l := range badLimits {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults?limit="+l, auth, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("limit=%s: status %d, want 400", l, r.status)
		}
	}
	if r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults?cursor=%%%", auth, ""); r.status != http.StatusBadRequest {
		t.Errorf("malformed query: status %d, want 400", r.status)
	}

	// A parameter sent twice is rejected on every /v1 GET, not read as its first value.
	repeated := []struct{ path, param string }{
		{"/v1/vaults?limit=1&limit=500", "limit"},
		{"/v1/vaults?cursor=" + f.vaultID + "&cursor=" + f.vaultID, "cursor"},
		{"/v1/vaults/" + f.vaultID + "?fields=a&fields=b", "fields"},
	}
	for _, c := range repeated {
		r := do(t, f.srv.Client, "GET", f.srv.URL+c.path, auth, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", c.path, r.status)
			continue
		}
		body := r.json(t)
		if body["code"] != "invalid_request" {
			t.Errorf("GET %s: code %v, want invalid_request", c.path, body["code"])
		}
		if detail, _ := body["detail"].(string); !strings.Contains(detail, `"`+c.param+`"`) {
			t.Errorf("GET %s: detail %q does not name the parameter %s", c.path, detail, c.param)
		}
	}

	// code is the problem's code: missing_token when no token reached the server, so that
	// a client acting on it does not take a missing token for a rejected one.
	unauthenticated := []struct {
		name   string
		header map[string]string
		error  string
		code   string
	}{
		{"no header", nil, "", "missing_token"},
		{"basic scheme", map[string]string{"Authorization": "Basic YTpi"}, "", "missing_token"},
		{"malformed token", map[string]string{"Authorization": "Bearer not.a.jwt"}, "invalid_token", "invalid_token"},
		{"tampered token", map[string]string{"Authorization": "Bearer " + tok[:len(tok)-4] + "AAAA"}, "invalid_token", "invalid_token"},
	}
	for _, c := range unauthenticated {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults", c.header, "")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
			got := r.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			if c.error != "" && !strings.Contains(got, `error="`+c.error+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error=%q", got, c.error)
			}
			if c.error == "" && strings.Contains(got, "error=") {
				t.Errorf("WWW-Authenticate = %q, want no error parameter for a request without a token", got)
			}
			if code := r.json(t)["code"]; code != c.code {
				t.Errorf("problem code %v, want %s", code, c.code)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		k := createKey(t, dir, f.accountID, "short", "--expires-in", "2s")
		waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
		short := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
		if r := getVaults(t, f.srv, short); r.status != http.StatusOK {
			t.Fatalf("fresh token: status %d, want 200", r.status)
		}
		time.Sleep(2500 * time.Millisecond)
		if r := getVaults(t, f.srv, short); r.status != http.StatusUnauthorized {
			t.Errorf("token past its expiry: status %d, want 401", r.status)
		}
	})
}

func TestRestartKeepsState(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	addr := f.srv.Addr
	if err := f.srv.Stop(); err != nil {
		t.Fatalf("stop server: %v", err)
	}
	if !strings.Contains(f.srv.Logs(), `"msg":"stopped"`) {
		t.Errorf("server log does not show a graceful stop:\n%s", f.srv.Logs())
	}

	srv := startOn(t, f.srv.DataDir, addr)
	if r := getVaults(t, srv, tok); r.status != http.StatusOK || !strings.Contains(string(r.body), f.vaultID) {
		t.Errorf("token from before the restart: status %d, want 200 listing vault %s", r.status, f.vaultID)
	}
	accessToken(t, srv, f.clientID, f.clientSecret)
	var keys struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, f.srv.DataDir, &keys, "key", "list", "--account", f.accountID)
	if len(keys.Data) != 1 || keys.Data[0].ClientID != f.clientID {
		t.Errorf("keys after restart = %+v, want the one key", keys.Data)
	}
}

// startOn starts a server on addr, retrying briefly while the previous process's socket is
// released.
func startOn(t *testing.T, dir, addr string) *testenv.Server {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return testenv.Start(t, dir, testenv.Options{Listen: addr})
}

// TestCLIChangesReachServer checks that a change the CLI makes in the data directory of a
// running server takes effect there within one second, carried by the SQLite change feed.
func TestCLIChangesReachServer(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	from1 := clientFrom(t, f.srv, "127.0.0.1")
	cases := []struct {
		name string
		// before runs CLI commands after the token was issued that must not end it.
		before []string
		change []string
		status int
	}{
		{name: "key delete", change: []string{"key", "delete"}, status: http.StatusUnauthorized},
		{name: "key update of allowed IPs", change: []string{"key", "update", "--allow-ip", "127.0.0.2"}, status: http.StatusForbidden},
		{name: "key update of scopes", change: []string{"key", "update", "--scope", "vaults:write"}, status: http.StatusUnauthorized},
		{name: "key rotate without grace", change: []string{"key", "rotate", "--grace", "0"}, status: http.StatusUnauthorized},
		{name: "second key rotate", before: []string{"key", "rotate", "--grace", "1h"}, change: []string{"key", "rotate", "--grace", "1h"}, status: http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := createKey(t, dir, f.accountID, "change", "--allow-ip", "127.0.0.1")
			waitForKeyFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
			tok := tokenFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
			if c.before != nil {
				testenv.CLIJSON(t, dir, nil, withClientID(c.before, k.ClientID)...)
				time.Sleep(100 * time.Millisecond)
			}
			if r := vaultsWith(t, from1, f.srv, tok); r.status != http.StatusOK {
				t.Fatalf("before the change: status %d, want 200", r.status)
			}
			testenv.CLIJSON(t, dir, nil, withClientID(c.change, k.ClientID)...)
			waitForStatus(t, from1, f.srv, tok, c.status, time.Now(), time.Second)
		})
	}

	t.Run("rotation grace ends", func(t *testing.T) {
		k := createKey(t, dir, f.accountID, "grace", "--allow-ip", "127.0.0.1")
		waitForKeyFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
		tok := tokenFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
		// The grace ends 2s after the CLI read the clock, so no earlier than 2s from here.
		start := time.Now()
		testenv.CLIJSON(t, dir, nil, "key", "rotate", k.ClientID, "--grace", "2s")
		if r := vaultsWith(t, from1, f.srv, tok); r.status != http.StatusOK {
			t.Fatalf("token of the old secret during the grace period: status %d, want 200", r.status)
		}
		// The grace is set and checked by the wall clocks of two processes, while this test
		// measures with the monotonic clock. One CI run saw the refusal 3ms before 2s, and
		// nothing in the code rounds these times. A correction of the wall clock is the
		// likely cause, not confirmed. 20ms of slack absorbs such corrections, and a
		// grace cut short by whole seconds, as a truncation would, still fails.
		if rejected := waitForStatus(t, from1, f.srv, tok, http.StatusUnauthorized, start, 3*time.Second); rejected < 2*time.Second-20*time.Millisecond {
			t.Errorf("token of the old secret rejected %v after the rotation started, before its 2s grace ended", rejected)
		}
	})
}

// withClientID inserts clientID after the command and subcommand names of args.
func withClientID(args []string, clientID string) []string {
	return append(append(append([]string{}, args[:2]...), clientID), args[2:]...)
}

// waitForStatus polls GET /v1/vaults with tok until it returns status, and returns how
// long after start that was. It fails the test if that takes longer than limit.
func waitForStatus(t *testing.T, c *http.Client, srv *testenv.Server, tok string, status int, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		r := vaultsWith(t, c, srv, tok)
		if r.status == status {
			elapsed := time.Since(start)
			t.Logf("status %d after %v", status, elapsed.Round(time.Millisecond))
			return elapsed
		}
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200 until the change arrives and %d after", r.status, status)
		}
		if time.Since(start) > limit {
			t.Fatalf("token still accepted %v after the change, want status %d within %v", time.Since(start), status, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// otherLastChar returns secret with its last character replaced by a different one, so the
// result never equals the secret.
func otherLastChar(secret string) string {
	last := "x"
	if strings.HasSuffix(secret, "x") {
		last = "y"
	}
	return secret[:len(secret)-1] + last
}

// TestOtherLastCharDiffers checks the helper on secrets that end in the letters it
// substitutes. Replacing the last character with a fixed "x" returned the secret itself for
// about one generated secret in 62 (those that end in "x"), so a "wrong" secret got 200.
func TestOtherLastCharDiffers(t *testing.T) {
	for _, secret := range []string{"iogs_abcx", "iogs_abcy", "iogs_abc0"} {
		got := otherLastChar(secret)
		if got == secret {
			t.Errorf("otherLastChar(%q) = the secret itself, want a different secret", secret)
		}
		if len(got) != len(secret) || got[:len(got)-1] != secret[:len(secret)-1] {
			t.Errorf("otherLastChar(%q) = %q, want only the last character changed", secret, got)
		}
	}
}
