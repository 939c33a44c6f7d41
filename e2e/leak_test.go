package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// secretSet is every secret a test used, with a label that a failure message may show in
// place of the secret itself.
type secretSet struct {
	labels map[string]string // secret -> label
}

func (s *secretSet) add(label, secret string) {
	if secret == "" {
		return
	}
	if s.labels == nil {
		s.labels = map[string]string{}
	}
	s.labels[secret] = label
}

// encodings returns the forms in which a secret could leak: raw, base64 in its standard
// and URL alphabets with and without padding, URL query and path encoding, and JSON string
// escaping.
func encodings(secret string) map[string]string {
	jsonText, _ := json.Marshal(secret)
	return map[string]string{
		"raw":                  secret,
		"base64":               base64.StdEncoding.EncodeToString([]byte(secret)),
		"unpadded base64":      base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url":            base64.URLEncoding.EncodeToString([]byte(secret)),
		"unpadded base64url":   base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"URL query encoding":   url.QueryEscape(secret),
		"URL path encoding":    url.PathEscape(secret),
		"JSON string escaping": strings.Trim(string(jsonText), `"`),
	}
}

// artifact is something a user or operator can see: a log, a response, CLI output.
type artifact struct {
	name string
	text string
	// issues names the secret that this artifact is allowed to contain, because it is the
	// one response that hands that secret out.
	issues string
}

type leakRecorder struct {
	artifacts []artifact
	secrets   secretSet
}

func (l *leakRecorder) record(name, text string) {
	l.artifacts = append(l.artifacts, artifact{name: name, text: text})
}

func (l *leakRecorder) recordIssuing(name, text, secret string) {
	l.artifacts = append(l.artifacts, artifact{name: name, text: text, issues: secret})
}

// response records an HTTP exchange's headers and body.
func (l *leakRecorder) response(name string, r response) {
	var headers []string
	for k, vs := range r.header {
		headers = append(headers, k+": "+strings.Join(vs, ", "))
	}
	sort.Strings(headers)
	l.record(name, strings.Join(headers, "\n")+"\n\n"+string(r.body))
}

func (l *leakRecorder) cli(t *testing.T, dir string, env []string, args ...string) testenv.CLIResult {
	t.Helper()
	res := testenv.RunCLI(t, dir, env, args...)
	name := "iogate " + strings.Join(args, " ")
	l.record(name+" (stdout)", res.Stdout)
	l.record(name+" (stderr)", res.Stderr)
	return res
}

// check fails the test for every secret found, in any encoding, in an artifact that does
// not issue it. Messages name the secret's label and the encoding, never the secret.
func (l *leakRecorder) check(t *testing.T) {
	t.Helper()
	checked := 0
	for secret, label := range l.secrets.labels {
		for encoding, form := range encodings(secret) {
			for _, a := range l.artifacts {
				if a.issues == secret {
					continue
				}
				checked++
				if strings.Contains(a.text, form) {
					t.Errorf("%s (%s) appears in %s", label, encoding, a.name)
				}
			}
		}
	}
	t.Logf("checked %d secrets in %d artifacts (%d searches)", len(l.secrets.labels), len(l.artifacts), checked)
}

// TestNoSecretLeaks drives every endpoint and CLI command with debug logging, then
// searches every log, response and CLI output for every secret it used.
func TestNoSecretLeaks(t *testing.T) {
	l := &leakRecorder{}
	dir := filepath.Join(t.TempDir(), "data")
	srv := testenv.Start(t, dir, testenv.Options{Args: []string{"--log-level", "debug"}})
	masterKey, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	l.secrets.add("master key file contents", strings.TrimSpace(string(masterKey)))
	tlsKey, err := os.ReadFile(filepath.Join(dir, "tls", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	l.secrets.add("TLS private key", strings.TrimSpace(strings.Split(string(tlsKey), "\n")[1]))

	// CLI: accounts, keys, vaults.
	res := l.cli(t, dir, nil, "account", "create", "--name", "Acme", "--email", "ops@acme.test", "--json")
	var account struct{ ID string }
	json.Unmarshal([]byte(res.Stdout), &account)
	newKey := func(name string, extra ...string) createdKey {
		t.Helper()
		args := append([]string{"key", "create", "--account", account.ID, "--name", name, "--json"}, extra...)
		res := testenv.RunCLI(t, dir, nil, args...)
		var k createdKey
		if err := json.Unmarshal([]byte(res.Stdout), &k); err != nil || k.ClientSecret == "" {
			t.Fatalf("key create %s: exit %d, no key printed", name, res.ExitCode)
		}
		l.secrets.add("client secret of key "+name, k.ClientSecret)
		l.recordIssuing("key create "+name+" (stdout)", res.Stdout, k.ClientSecret)
		l.record("key create "+name+" (stderr)", res.Stderr)
		return k
	}
	main := newKey("main", "--scope", "vaults:read", "--scope", "vaults:write")
	other := newKey("other", "--allow-ip", "192.0.2.1")
	doomed := newKey("doomed")
	textKey := testenv.RunCLI(t, dir, nil, "key", "create", "--account", account.ID, "--name", "text")
	_, after, found := strings.Cut(textKey.Stdout, "Client secret:")
	textSecret, _, _ := strings.Cut(strings.TrimSpace(after), "\n")
	if !found || !strings.HasPrefix(textSecret, "iogs_") {
		t.Fatal("key create without --json printed no client secret")
	}
	l.secrets.add("client secret of key text", textSecret)
	l.recordIssuing("key create text (stdout)", textKey.Stdout, textSecret)
	l.record("key create text (stderr)", textKey.Stderr)
	l.cli(t, dir, nil, "vault", "create", "--account", account.ID, "--name", "Treasury", "--threshold", "2", "--json")
	l.cli(t, dir, nil, "vault", "list", "--account", account.ID)
	l.cli(t, dir, nil, "key", "list", "--account", account.ID)
	l.cli(t, dir, nil, "key", "list", "--account", account.ID, "--json")
	l.cli(t, dir, nil, "key", "show", main.ClientID)
	l.cli(t, dir, nil, "key", "show", main.ClientID, "--json")
	l.cli(t, dir, nil, "key", "show", "not-a-key")
	l.cli(t, dir, nil, "key", "create", "--account", account.ID, "--name", "x", "--scope", "bogus")
	l.cli(t, dir, nil, "backup", "--to", filepath.Join(t.TempDir(), "backup.db"))
	l.cli(t, dir, nil, "account", "list", "--json")
	l.cli(t, dir, nil, "key", "update", main.ClientID, "--description", "leak test", "--json")
	l.cli(t, dir, nil, "signing-key", "list", "--json")
	l.cli(t, dir, nil, "migrate", "--json")
	masterCopy := filepath.Join(t.TempDir(), "new-master.key")
	l.cli(t, dir, nil, "master-key", "generate", "--output", masterCopy)
	if generated, err := os.ReadFile(masterCopy); err == nil {
		l.secrets.add("generated master key", strings.TrimSpace(string(generated)))
	}
	importedSecret := "imported-secret+with%odd:characters"
	l.secrets.add("imported client secret", importedSecret)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(importedSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = l.cli(t, dir, nil, "key", "import", "--account", account.ID, "--name", "imported", "--secret-file", secretFile, "--json")
	var imported createdKey
	json.Unmarshal([]byte(res.Stdout), &imported)
	rotated := testenv.RunCLI(t, dir, nil, "key", "rotate", other.ClientID, "--grace", "1h", "--json")
	var rotatedKey createdKey
	if err := json.Unmarshal([]byte(rotated.Stdout), &rotatedKey); err != nil || rotatedKey.ClientSecret == "" {
		t.Fatalf("key rotate: exit %d, no secret printed", rotated.ExitCode)
	}
	l.secrets.add("rotated client secret of key other", rotatedKey.ClientSecret)
	l.recordIssuing("key rotate other (stdout)", rotated.Stdout, rotatedKey.ClientSecret)
	l.record("key rotate other (stderr)", rotated.Stderr)
	l.cli(t, dir, []string{"IOGATE_MASTER_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, "key", "list", "--account", account.ID)
	waitForKey(t, srv, main.ClientID, main.ClientSecret)
	waitForKey(t, srv, doomed.ClientID, doomed.ClientSecret)

	// HTTPS endpoints.
	jsonType := map[string]string{"Content-Type": "application/json"}
	issue := func(name string, k createdKey) string {
		t.Helper()
		r := do(t, srv.Client, "POST", srv.URL+"/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret))
		var tok struct{ AccessToken string }
		json.Unmarshal(r.body, &tok)
		if tok.AccessToken == "" {
			t.Fatalf("token for %s: status %d", name, r.status)
		}
		l.secrets.add("access token of key "+name, tok.AccessToken)
		l.recordIssuing("token response for "+name, string(r.body), tok.AccessToken)
		return tok.AccessToken
	}
	mainToken := issue("main", main)
	doomedToken := issue("doomed", doomed)
	wrongSecret := mistype(main.ClientSecret)
	l.secrets.add("mistyped client secret", wrongSecret)
	basicValue := "Basic " + base64.StdEncoding.EncodeToString([]byte(main.ClientID+":"+main.ClientSecret))
	l.secrets.add("Basic Authorization value", basicValue)
	l.secrets.add("Bearer Authorization value", "Bearer "+mainToken)

	bearer := map[string]string{"Authorization": "Bearer " + mainToken}
	requests := []struct {
		name, method, path string
		header             map[string]string
		body               string
	}{
		{"token with a wrong secret", "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(main.ClientID, wrongSecret)},
		{"token for a key from a disallowed address", "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(other.ClientID, other.ClientSecret)},
		{"token with an unknown field", "POST", "/v1/auth/accessToken", jsonType, `{"clientId":"` + main.ClientID + `","clientSecret":"` + main.ClientSecret + `","x":"y"}`},
		{"token with a duplicate field", "POST", "/v1/auth/accessToken", jsonType, `{"clientId":"a","clientSecret":"` + main.ClientSecret + `","clientSecret":"b"}`},
		{"token with a non-string secret", "POST", "/v1/auth/accessToken", jsonType, `{"clientId":"a","clientSecret":["` + main.ClientSecret + `"]}`},
		{"token as a form", "POST", "/v1/auth/accessToken", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "clientId=a&clientSecret=" + main.ClientSecret},
		{"token with Basic", "POST", "/v1/auth/accessToken", map[string]string{"Authorization": basicValue}, ""},
		{"oauth2 token", "POST", "/oauth2/token", map[string]string{"Authorization": basicValue, "Content-Type": "application/x-www-form-urlencoded"}, "grant_type=client_credentials"},
		{"vault list", "GET", "/v1/vaults", bearer, ""},
		{"vault list with a query token", "GET", "/v1/vaults?access_token=" + mainToken, nil, ""},
		{"vault list with both", "GET", "/v1/vaults?access_token=" + mainToken, bearer, ""},
		{"vault not found", "GET", "/v1/vaults/01a2c3d4-0000-7000-8000-000000000000", bearer, ""},
		{"tampered token", "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + mainToken + "x"}, ""},
		{"unknown route with a token", "GET", "/nope", bearer, ""},
		{"method not allowed", "DELETE", "/v1/vaults", bearer, ""},
		{"healthz", "GET", "/healthz", bearer, ""},
		{"readyz", "GET", "/readyz", bearer, ""},
	}
	for _, rq := range requests {
		l.response("HTTPS "+rq.name, do(t, srv.Client, rq.method, srv.URL+rq.path, rq.header, rq.body))
	}

	// The standard OAuth endpoints: a token by Basic and by form, introspection and
	// revocation of it, and the discovery documents.
	formType := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	basicHeader := func(id, secret string) map[string]string {
		return map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basicAuth(id, secret)}
	}
	l.secrets.add("Basic value of the imported key", basicAuth(imported.ClientID, importedSecret))
	oauthToken := func(name string, header map[string]string, body string) string {
		t.Helper()
		r := do(t, srv.Client, "POST", srv.URL+"/oauth2/token", header, body)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(r.body, &tok)
		if tok.AccessToken == "" {
			t.Fatalf("POST /oauth2/token for %s: status %d", name, r.status)
		}
		l.secrets.add("access token from /oauth2/token for "+name, tok.AccessToken)
		l.recordIssuing("oauth2 token response for "+name, string(r.body), tok.AccessToken)
		return tok.AccessToken
	}
	basicToken := oauthToken("imported key by Basic", basicHeader(imported.ClientID, importedSecret), "grant_type=client_credentials")
	formToken := oauthToken("main by form", formType,
		url.Values{"grant_type": {"client_credentials"}, "client_id": {main.ClientID}, "client_secret": {main.ClientSecret}, "scope": {"vaults:write"}}.Encode())
	oauthRequests := []struct {
		name, path string
		header     map[string]string
		body       string
	}{
		{"token with a wrong secret", "/oauth2/token", basicHeader(main.ClientID, wrongSecret), "grant_type=client_credentials"},
		{"token with a repeated parameter", "/oauth2/token", formType, "grant_type=client_credentials&client_id=a&client_secret=" + url.QueryEscape(main.ClientSecret) + "&client_secret=b"},
		{"introspect", "/oauth2/introspect", basicHeader(imported.ClientID, importedSecret), "token=" + basicToken},
		{"introspect another client's token", "/oauth2/introspect", basicHeader(imported.ClientID, importedSecret), "token=" + mainToken},
		{"introspect with a wrong secret", "/oauth2/introspect", basicHeader(imported.ClientID, wrongSecret), "token=" + basicToken},
		{"revoke", "/oauth2/revoke", basicHeader(imported.ClientID, importedSecret), "token=" + basicToken},
		{"revoke an unknown token", "/oauth2/revoke", basicHeader(imported.ClientID, importedSecret), "token=" + formToken + "x"},
	}
	for _, rq := range oauthRequests {
		l.response("HTTPS "+rq.name, do(t, srv.Client, "POST", srv.URL+rq.path, rq.header, rq.body))
	}
	l.response("vault create", do(t, srv.Client, "POST", srv.URL+"/v1/vaults",
		map[string]string{"Authorization": "Bearer " + formToken, "Content-Type": "application/json"}, `{"name":"Cold","threshold":2}`))
	l.response("revoked token", do(t, srv.Client, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + basicToken}, ""))
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/openapi.json"} {
		l.response("HTTPS "+path, do(t, srv.Client, "GET", srv.URL+path, nil, ""))
	}
	l.cli(t, dir, nil, "signing-key", "rotate", "--json")
	l.cli(t, dir, nil, "audit", "list", "--account", account.ID, "--json")
	l.cli(t, dir, nil, "audit", "export", "--account", account.ID, "--format", "csv")
	l.cli(t, dir, nil, "audit", "export", "--account", account.ID, "--format", "json")
	l.cli(t, dir, nil, "audit", "verify", "--json")

	// The plain HTTP listener, with credentials in every place, and the admin listener.
	plain := &http.Client{Timeout: 10 * time.Second}
	for _, rq := range requests {
		l.response("plain HTTP "+rq.name, do(t, plain, rq.method, "http://"+srv.HTTPAddr+rq.path, rq.header, rq.body))
	}
	for _, rq := range oauthRequests {
		l.response("plain HTTP "+rq.name, do(t, plain, "POST", "http://"+srv.HTTPAddr+rq.path, rq.header, rq.body))
	}
	l.response("plain HTTP doomed token", do(t, plain, "GET", "http://"+srv.HTTPAddr+"/v1/vaults", map[string]string{"Authorization": "Bearer " + doomedToken}, ""))
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/nope"} {
		l.response("admin "+path, do(t, plain, "GET", "http://"+srv.AdminAddr+path, bearer, ""))
	}

	// Deleting a key, and using its token afterwards.
	l.cli(t, dir, nil, "key", "delete", doomed.ClientID)
	l.response("deleted key's token", do(t, srv.Client, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer " + doomedToken}, ""))
	l.response("deleted key's secret", do(t, srv.Client, "POST", srv.URL+"/v1/auth/accessToken", jsonType, credentialsJSON(doomed.ClientID, doomed.ClientSecret)))

	if err := srv.Stop(); err != nil {
		t.Errorf("stop server: %v", err)
	}
	logs := srv.Logs()
	if !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Error("the server log has no debug records: the test would miss what debug logging leaks")
	}
	l.record("server log", logs)
	l.check(t)
}

// TestNoDatabasePasswordLeaks runs the server and CLI commands on PostgreSQL with the
// password in IOGATE_DATABASE, and searches their output and logs for the password.
func TestNoDatabasePasswordLeaks(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	password, ok := u.User.Password()
	if !ok || password == "" {
		t.Skip("the test database URL has no password, so there is none to leak")
	}
	l := &leakRecorder{}
	l.secrets.add("database password", password)
	l.secrets.add("database URL", dbURL)
	dir := t.TempDir()
	masterFile := filepath.Join(t.TempDir(), "master.key")
	testenv.RunCLI(t, dir, nil, "master-key", "generate", "--output", masterFile)
	env := []string{"IOGATE_DATABASE=" + dbURL, "IOGATE_MASTER_KEY_FILE=" + masterFile}
	l.cli(t, dir, env, "migrate", "--json")
	res := l.cli(t, dir, env, "account", "create", "--name", "Acme", "--email", "ops@acme.test", "--json")
	var account struct{ ID string }
	json.Unmarshal([]byte(res.Stdout), &account)
	l.cli(t, dir, env, "key", "list", "--account", account.ID)
	// A password on the command line is refused, and the refusal must not repeat it.
	l.cli(t, dir, nil, "account", "list", "--database", dbURL)
	srv := testenv.Start(t, dir, testenv.Options{Env: env, Args: []string{"--log-level", "debug"}})
	l.response("readyz", do(t, srv.Client, "GET", srv.URL+"/readyz", nil, ""))
	l.response("metrics", do(t, http.DefaultClient, "GET", "http://"+srv.AdminAddr+"/metrics", nil, ""))
	srv.Stop()
	l.record("server log", srv.Logs())
	l.check(t)
}

// secretPattern finds a generated client secret on a page.
var secretPattern = regexp.MustCompile(`iogs_[0-9A-Za-z]{49}`)

// page records a dashboard response's headers and body.
func (l *leakRecorder) page(name string, p webPage) {
	l.response("dashboard "+name, response{status: p.status, header: p.header, body: []byte(p.body)})
}

// TestNoDashboardSecretLeaks signs in to the dashboard with debug logging, creates and
// rotates a key there, exposes it over plain HTTP and signs out, then searches every page
// and the server log for the password, the session cookie, the setup link's token and the
// client secrets. Each page that hands out a secret may contain that one.
func TestNoDashboardSecretLeaks(t *testing.T) {
	d := startDashboard(t, "--log-level", "debug")
	l := &leakRecorder{}
	l.secrets.add("owner password", ownerPassword)
	wrongPassword := "not the owner's password at all"
	l.secrets.add("mistyped owner password", wrongPassword)

	w := d.client(t)
	p := w.get("/dashboard/signin")
	l.page("sign-in form", p)
	l.page("failed sign-in", w.post("/dashboard/signin", p.csrf(t), url.Values{"email": {ownerEmail}, "password": {wrongPassword}}))
	p = w.post("/dashboard/signin", w.get("/dashboard/signin").csrf(t), url.Values{"email": {ownerEmail}, "password": {ownerPassword}})
	session := ""
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if strings.Contains(c.Name, "session") {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("sign-in set no session cookie")
	}
	l.secrets.add("session cookie", session)
	l.response("dashboard sign-in that sets the session cookie", response{status: p.status, body: []byte(p.body)})
	l.recordIssuing("dashboard sign-in Set-Cookie", strings.Join(p.header.Values("Set-Cookie"), "\n"), session)

	newKey := w.get("/dashboard/keys/new")
	l.page("new key form", newKey)
	created := w.post("/dashboard/keys", newKey.csrf(t), url.Values{"name": {"dashboard"}, "scope": {"vaults:read"}, "confirm": {ownerPassword},
		"form_token": {newKey.hidden(t, "form_token")}})
	secret := secretPattern.FindString(created.body)
	if secret == "" {
		t.Fatalf("key creation page (status %d) shows no client secret", created.status)
	}
	l.secrets.add("client secret created in the dashboard", secret)
	l.recordIssuing("dashboard one-time secret page", created.body, secret)
	keys := w.get("/dashboard/keys")
	l.page("key list", keys)
	var list struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "key", "list", "--account", d.accountID)
	if len(list.Data) != 1 {
		t.Fatalf("key list has %d keys, want 1", len(list.Data))
	}
	clientID := list.Data[0].ClientID
	edit := w.get("/dashboard/keys/" + clientID)
	l.page("key page", edit)
	rotateForm := w.get("/dashboard/keys/" + clientID + "/rotate")
	l.page("rotate form", rotateForm)
	rotated := w.post("/dashboard/keys/"+clientID+"/rotate", rotateForm.csrf(t), url.Values{"grace": {"0"}, "confirm": {ownerPassword},
		"generation": {rotateForm.hidden(t, "generation")}, "form_token": {rotateForm.hidden(t, "form_token")}})
	if next := secretPattern.FindString(rotated.body); next != "" && next != secret {
		l.secrets.add("client secret rotated in the dashboard", next)
		l.recordIssuing("dashboard rotated secret page", rotated.body, next)
		secret = next
	} else {
		l.page("rotation result", rotated)
	}

	// An exposure shows on the key list and in the audit page.
	plain := &http.Client{Timeout: 10 * time.Second}
	l.response("plain HTTP with the dashboard key", do(t, plain, "POST", "http://"+d.srv.HTTPAddr+"/v1/auth/accessToken",
		map[string]string{"Content-Type": "application/json"}, credentialsJSON(clientID, secret)))
	exposedList := w.get("/dashboard/keys")
	l.page("key list after exposure", exposedList)
	if !strings.Contains(exposedList.text(), "Exposed") {
		t.Error("the dashboard's key list does not flag the exposed key")
	}
	l.page("audit page", w.get("/dashboard/audit"))
	l.page("audit export", w.get("/dashboard/audit/export?format=json"))
	l.page("sign-out", w.post("/dashboard/signout", w.get("/dashboard/keys").csrf(t), nil))

	d.srv.Stop()
	l.record("server log", d.srv.Logs())
	l.check(t)
}
