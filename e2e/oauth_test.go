package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/iogate/iogate/internal/testenv"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// specialSecret contains every character that section 2.3.1 of RFC 6749 makes clients
// form-encode inside a Basic header. Generated secrets never contain them, so the tests
// import a key with this secret.
const specialSecret = "imported+secret%with:colon-é/and=more"

// send performs one request with any headers, including repeated ones, and returns the
// whole exchange.
func send(t *testing.T, c *http.Client, method, target string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// formHeader returns the header of a form post. When clientID is not empty it adds Basic
// credentials, form-encoded as RFC 6749 section 2.3.1 requires.
func formHeader(clientID, secret string) http.Header {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if clientID != "" {
		h.Set("Authorization", basicAuth(clientID, secret))
	}
	return h
}

func basicAuth(clientID, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(secret)))
}

// importKey imports a key with a known secret through "iogate key import", reading the
// secret from a file so that it never appears on a command line.
func importKey(t *testing.T, dir, accountID, secret string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clientID := uuid.NewString()
	args := append([]string{"key", "import", "--account", accountID, "--name", "imported", "--client-id", clientID, "--secret-file", path}, extra...)
	var k struct{ ClientID string }
	testenv.CLIJSON(t, dir, &k, args...)
	if k.ClientID != clientID {
		t.Fatalf("key import returned client ID %q, want %s", k.ClientID, clientID)
	}
	return clientID
}

// checkNoStore checks the caching headers every token response must carry.
func checkNoStore(t *testing.T, r response) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
}

func TestClientCredentialsLibrary(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	imported := importKey(t, f.srv.DataDir, f.accountID, specialSecret)
	waitForOAuthKey(t, f.srv, imported, specialSecret)

	keys := []struct {
		name, clientID, secret string
	}{
		{"generated secret", f.clientID, f.clientSecret},
		{"imported secret with + % : é", imported, specialSecret},
	}
	styles := []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"AuthStyleInHeader", oauth2.AuthStyleInHeader},
		{"AuthStyleInParams", oauth2.AuthStyleInParams},
	}
	for _, k := range keys {
		for _, s := range styles {
			t.Run(k.name+"/"+s.name, func(t *testing.T) {
				cfg := clientcredentials.Config{
					ClientID:     k.clientID,
					ClientSecret: k.secret,
					TokenURL:     f.srv.URL + "/oauth2/token",
					AuthStyle:    s.style,
				}
				ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.srv.Client)
				tok, err := cfg.Token(ctx)
				if err != nil {
					t.Fatalf("clientcredentials Token: %v", redactError(err))
				}
				if tok.TokenType != "Bearer" || tok.AccessToken == "" || time.Until(tok.Expiry) < 59*time.Minute {
					t.Errorf("token type %q, expiry in %v; want Bearer and about 1h", tok.TokenType, time.Until(tok.Expiry).Round(time.Minute))
				}
				resp, err := cfg.Client(ctx).Get(f.srv.URL + "/v1/vaults")
				if err != nil {
					t.Fatalf("GET /v1/vaults with the library's client: %v", redactError(err))
				}
				defer resp.Body.Close()
				var list struct{ Data []struct{ ID string } }
				if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /v1/vaults: status %d, decode error %v", resp.StatusCode, err)
				}
				if len(list.Data) != 1 || list.Data[0].ID != f.vaultID {
					t.Errorf("vaults = %+v, want the one vault %s", list.Data, f.vaultID)
				}
			})
		}
	}

	t.Run("imported secret also works at /v1/auth/accessToken", func(t *testing.T) {
		if r := getVaults(t, f.srv, accessToken(t, f.srv, imported, specialSecret)); r.status != http.StatusOK {
			t.Errorf("GET /v1/vaults: status %d, want 200", r.status)
		}
	})
}

// redactError returns an error message without tokens, for test output.
func redactError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "access_token") {
		return "[error that quotes a token response]"
	}
	return msg
}

// waitForOAuthKey polls the token endpoint until a key that the CLI just stored works.
func waitForOAuthKey(t *testing.T, srv *testenv.Server, clientID, secret string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		r := send(t, srv.Client, "POST", srv.URL+"/oauth2/token", formHeader(clientID, secret), "grant_type=client_credentials")
		if r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s stored by the CLI still fails after 2s: status %d, body %s", clientID, r.status, redactBody(r.body))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOAuthTokenEndpoint(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	fenced := createKey(t, dir, f.accountID, "fenced", "--allow-ip", "192.0.2.10")
	both := createKey(t, dir, f.accountID, "both", "--scope", "vaults:read", "--scope", "vaults:write")
	// The server applies changes in order, so once the later key works the earlier one is
	// known too. The fenced key itself only ever gets 403 from loopback.
	waitForKey(t, f.srv, both.ClientID, both.ClientSecret)

	id, secret := f.clientID, f.clientSecret
	postCreds := "client_id=" + url.QueryEscape(id) + "&client_secret=" + url.QueryEscape(secret)
	grant := "grant_type=client_credentials"
	cases := []struct {
		name      string
		method    string
		query     string
		header    http.Header
		body      string
		status    int
		error     string
		scope     string
		challenge bool
	}{
		{"client_secret_basic", "POST", "", formHeader(id, secret), grant, 200, "", "vaults:read", false},
		{"client_secret_post", "POST", "", formHeader("", ""), grant + "&" + postCreds, 200, "", "vaults:read", false},
		{"content type with charset in upper case", "POST", "", http.Header{"Content-Type": {"Application/X-WWW-Form-URLEncoded; charset=UTF-8"}, "Authorization": {basicAuth(id, secret)}}, grant, 200, "", "vaults:read", false},
		{"basic with matching client_id in body", "POST", "", formHeader(id, secret), grant + "&client_id=" + id, 200, "", "vaults:read", false},
		{"unknown parameter is ignored", "POST", "", formHeader(id, secret), grant + "&audience=x", 200, "", "vaults:read", false},
		{"scope subset", "POST", "", formHeader(both.ClientID, both.ClientSecret), grant + "&scope=vaults%3Aread", 200, "", "vaults:read", false},
		{"all scopes by default", "POST", "", formHeader(both.ClientID, both.ClientSecret), grant, 200, "", "vaults:read vaults:write", false},
		{"empty scope means all", "POST", "", formHeader(both.ClientID, both.ClientSecret), grant + "&scope=", 200, "", "vaults:read vaults:write", false},
		{"scope beyond the key", "POST", "", formHeader(id, secret), grant + "&scope=vaults%3Awrite", 400, "invalid_scope", "", false},
		{"unknown scope", "POST", "", formHeader(id, secret), grant + "&scope=admin", 400, "invalid_scope", "", false},
		{"both authentication methods", "POST", "", formHeader(id, secret), grant + "&" + postCreds, 400, "invalid_request", "", false},
		{"client_id in body differs from Basic", "POST", "", formHeader(id, secret), grant + "&client_id=" + both.ClientID, 400, "invalid_request", "", false},
		{"repeated parameter", "POST", "", formHeader(id, secret), grant + "&" + grant, 400, "invalid_request", "", false},
		{"repeated parameter with empty value", "POST", "", formHeader(id, secret), grant + "&scope=&scope=vaults%3Aread", 400, "invalid_request", "", false},
		{"secret in query string", "POST", "client_secret=" + url.QueryEscape(secret), formHeader("", ""), grant + "&client_id=" + id, 400, "invalid_request", "", false},
		{"client ID in query string", "POST", "client_id=" + id, formHeader(id, secret), grant, 400, "invalid_request", "", false},
		{"missing grant_type", "POST", "", formHeader(id, secret), "scope=vaults%3Aread", 400, "invalid_request", "", false},
		{"other grant type", "POST", "", formHeader(id, secret), "grant_type=password", 400, "unsupported_grant_type", "", false},
		{"JSON body", "POST", "", http.Header{"Content-Type": {"application/json"}, "Authorization": {basicAuth(id, secret)}}, `{"grant_type":"client_credentials"}`, 400, "invalid_request", "", false},
		{"semicolon separator", "POST", "", formHeader(id, secret), grant + ";scope=vaults%3Aread", 400, "invalid_request", "", false},
		{"two Authorization headers", "POST", "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {basicAuth(id, secret), basicAuth(id, secret)}}, grant, 400, "invalid_request", "", false},
		{"secret without client_id", "POST", "", formHeader("", ""), grant + "&client_secret=" + url.QueryEscape(secret), 400, "invalid_request", "", false},
		{"wrong secret in Basic", "POST", "", formHeader(id, secret+"x"), grant, 401, "invalid_client", "", true},
		{"wrong secret in body", "POST", "", formHeader("", ""), grant + "&client_id=" + id + "&client_secret=wrong-secret-value", 401, "invalid_client", "", true},
		{"unknown client", "POST", "", formHeader(uuid.NewString(), secret), grant, 401, "invalid_client", "", true},
		{"no credentials", "POST", "", formHeader("", ""), grant, 401, "invalid_client", "", true},
		{"client_id without secret", "POST", "", formHeader("", ""), grant + "&client_id=" + id, 401, "invalid_client", "", true},
		{"unencoded percent in Basic", "POST", "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(id+":100%"))}}, grant, 401, "invalid_client", "", true},
		{"Bearer scheme", "POST", "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Bearer abc"}}, grant, 401, "invalid_client", "", true},
		{"address outside the allowlist", "POST", "", formHeader(fenced.ClientID, fenced.ClientSecret), grant, 403, "access_denied", "", false},
		{"GET", "GET", "", http.Header{}, "", 405, "invalid_request", "", false},
		{"oversized body", "POST", "", formHeader(id, secret), grant + "&pad=" + strings.Repeat("a", 70_000), 413, "invalid_request", "", false},
	}
	var firstUnauthorized string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := f.srv.URL + "/oauth2/token"
			if c.query != "" {
				target += "?" + c.query
			}
			r := send(t, f.srv.Client, c.method, target, c.header, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, redactBody(r.body))
			}
			checkNoStore(t, r)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			body := r.json(t)
			if c.status == http.StatusOK {
				if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"] != 3600.0 {
					t.Errorf("token_type %v, expires_in %v; want Bearer and 3600 with an access_token", body["token_type"], body["expires_in"])
				}
				if body["scope"] != c.scope {
					t.Errorf("scope = %v, want %q", body["scope"], c.scope)
				}
				return
			}
			if body["error"] != c.error {
				t.Errorf("error = %v, want %s; body %s", body["error"], c.error, r.body)
			}
			if _, ok := body["requestId"]; ok {
				t.Errorf("body %s has requestId; OAuth errors carry only error and error_description", r.body)
			}
			challenge := r.header.Get("WWW-Authenticate")
			if c.challenge != strings.HasPrefix(challenge, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", challenge, c.challenge)
			}
			// A malformed Basic header gets a hint on how to encode it. Every other failed
			// authentication must look the same, whether or not the client ID exists.
			malformed := c.name == "unencoded percent in Basic" || c.name == "Bearer scheme"
			if c.status == http.StatusUnauthorized && !malformed {
				if firstUnauthorized == "" {
					firstUnauthorized = string(r.body)
				} else if string(r.body) != firstUnauthorized {
					t.Errorf("401 body %s differs from the first 401 body %s", r.body, firstUnauthorized)
				}
			}
		})
	}

	t.Run("token from /oauth2/token lists vaults", func(t *testing.T) {
		r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/token", formHeader(id, secret), grant)
		tok, _ := r.json(t)["access_token"].(string)
		if v := getVaults(t, f.srv, tok); v.status != http.StatusOK {
			t.Errorf("GET /v1/vaults: status %d, want 200", v.status)
		}
	})

	t.Run("accessToken responses are not cached either", func(t *testing.T) {
		ok := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(id, secret))
		failed := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(id, "wrong"))
		wrongMethod := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/auth/accessToken", nil, "")
		for _, r := range []response{ok, failed, wrongMethod} {
			checkNoStore(t, r)
		}
	})

	if logs := f.srv.SyncedLogs(t); strings.Contains(logs, secret) || strings.Contains(logs, both.ClientSecret) {
		t.Error("a client secret appears in the server log")
	}
}

// curlResult is one exchange made by curl, parsed from its --include output.
type curlResult struct {
	status int
	header http.Header
	body   []byte
}

// runCurl runs curl over HTTP/1.1 with a config file that holds the credentials, so that
// no secret appears on a command line, and checks the response against /openapi.json.
func runCurl(t *testing.T, srv *testenv.Server, method, path string, config []string, args ...string) curlResult {
	t.Helper()
	curl := testenv.RequireTool(t, "curl")
	cfg := filepath.Join(t.TempDir(), "curl.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(config, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--silent", "--show-error", "--http1.1", "--include", "--cacert", srv.CACert, "--config", cfg, "--request", method}, args...)
	all = append(all, "--url", srv.URL+path)
	out, err := exec.CommandContext(ctx, curl, all...).Output()
	if err != nil {
		t.Fatalf("curl %s %s: %v", method, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("curl %s %s: output is not an HTTP response: %v", method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if err := srv.OpenAPI.CheckResponse(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("OpenAPI check: %v", err)
	}
	return curlResult{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestOAuthTokenCurl(t *testing.T) {
	testenv.RequireTool(t, "curl")
	f := newFixture(t, testenv.Options{})
	imported := importKey(t, f.srv.DataDir, f.accountID, specialSecret)
	waitForOAuthKey(t, f.srv, imported, specialSecret)

	dir := t.TempDir()
	writeSecretFile := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys := []struct{ name, clientID, secret string }{
		{"generated secret", f.clientID, f.clientSecret},
		{"imported secret", imported, specialSecret},
	}
	for i, k := range keys {
		idFile := writeSecretFile("id"+strconv.Itoa(i), k.clientID)
		secretFile := writeSecretFile("secret"+strconv.Itoa(i), k.secret)
		ways := []struct {
			name   string
			config []string
			args   []string
		}{
			// -u with the ID and secret form-encoded first, as RFC 6749 section 2.3.1 requires.
			{"user option", []string{`user = "` + url.QueryEscape(k.clientID) + ":" + url.QueryEscape(k.secret) + `"`}, []string{"--data", "grant_type=client_credentials"}},
			{"form fields", nil, []string{"--data", "grant_type=client_credentials", "--data-urlencode", "client_id@" + idFile, "--data-urlencode", "client_secret@" + secretFile}},
		}
		for _, w := range ways {
			t.Run(k.name+"/"+w.name, func(t *testing.T) {
				r := runCurl(t, f.srv, "POST", "/oauth2/token", w.config, w.args...)
				if r.status != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", r.status, redactBody(r.body))
				}
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" {
					t.Fatalf("token response without access_token: %v", err)
				}
				list := runCurl(t, f.srv, "GET", "/v1/vaults", []string{`header = "Authorization: Bearer ` + tok.AccessToken + `"`})
				if list.status != http.StatusOK || !bytes.Contains(list.body, []byte(f.vaultID)) {
					t.Errorf("GET /v1/vaults: status %d, want 200 listing vault %s", list.status, f.vaultID)
				}
			})
		}
	}

	t.Run("user option without form-encoding", func(t *testing.T) {
		// The plus sign decodes to a space, so the raw secret does not match. Clients must
		// encode it, and the 401 is the same as for any other failure.
		r := runCurl(t, f.srv, "POST", "/oauth2/token", []string{`user = "` + imported + ":" + specialSecret + `"`}, "--data", "grant_type=client_credentials")
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("status %d with WWW-Authenticate %q, want 401 with a Basic challenge", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
}
