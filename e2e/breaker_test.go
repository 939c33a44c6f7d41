package e2e

// Tests for weaknesses found by an adversarial review: environment variables that changed
// keys, a deleted audit log that still verified, content codings read as identity, and
// unclean paths answered with redirects.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
	_ "modernc.org/sqlite"
)

// An IOGATE_* variable left in the operator's shell must not widen a key's allowlist
// during an unrelated update.
func TestEnvClearAllowIPOnRename(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	k := createKey(t, dir, f.accountID, "restricted", "--allow-ip", "192.0.2.10")

	res := testenv.RunCLI(t, dir, []string{"IOGATE_CLEAR_ALLOW_IP=true"}, "key", "update", k.ClientID, "--description", "rename only", "--json")
	if res.ExitCode != 0 {
		t.Fatalf("key update: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	var v struct {
		AllowedIPs []string `json:"allowedIps"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.AllowedIPs) != 1 || v.AllowedIPs[0] != "192.0.2.10" {
		t.Errorf("allowedIps after a description-only update = %v, want [192.0.2.10]", v.AllowedIPs)
	}
}

// Removing every audit record of an account that still has API keys must fail verify:
// each existing key has a key.created record.
func TestAuditVerifyDetectsDeletedChain(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	accessToken(t, f.srv, f.clientID, f.clientSecret)
	f.srv.Stop()

	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_records_no_delete`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_records WHERE account_id = ?`, f.accountID); err != nil {
		t.Fatal(err)
	}

	if out := testenv.RunCLI(t, dir, nil, "audit", "verify"); out.ExitCode == 0 {
		t.Errorf("audit verify after deleting the whole chain of account %s: exit 0, stdout %q", f.accountID, out.Stdout)
	}
}

// A Content-Encoding the server does not decode must be rejected, not read as identity.
func TestTokenContentEncodingRejected(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken",
		map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, credentialsJSON(f.clientID, f.clientSecret))
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("Content-Encoding: gzip on an uncompressed body: status %d, want 415", r.status)
	}
	if code := r.json(t)["code"]; code != "unsupported_media_type" {
		t.Errorf("Content-Encoding: gzip on an uncompressed body: code %v, want unsupported_media_type", code)
	}
}

// A Content-Type other than JSON is a 400 invalid_request on the token endpoint, as its
// OpenAPI description states, not the 415 of a content coding.
func TestTokenWrongContentType(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	cases := []struct {
		name        string
		contentType string
	}{
		{"form", "application/x-www-form-urlencoded"},
		{"text", "text/plain"},
		{"none", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := map[string]string{}
			if c.contentType != "" {
				header["Content-Type"] = c.contentType
			}
			r := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/auth/accessToken", header, credentialsJSON(f.clientID, f.clientSecret))
			if r.status != http.StatusBadRequest {
				t.Errorf("Content-Type %q: status %d, want 400", c.contentType, r.status)
			}
			if code := r.json(t)["code"]; code != "invalid_request" {
				t.Errorf("Content-Type %q: code %v, want invalid_request", c.contentType, code)
			}
		})
	}
}

// Every error of the HTTPS API is problem details; an unclean path is no exception.
func TestUncleanPathIsProblemDetails(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	// A client without the OpenAPI check: these paths are deliberately not in the document.
	c := *testenv.NewClient(t, f.srv.CACert)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/v1//vaults", "/v1/./vaults", "/v1/x/../vaults"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
		req.URL.Opaque = path
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 3 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: status %d, Content-Type %q; want a problem-details error, no redirect", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// Bodies that a proxy could read differently from the server are rejected.
func TestTokenBodyAmbiguities(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	body := credentialsJSON(f.clientID, f.clientSecret)
	cases := []struct {
		name   string
		header http.Header
		status int
	}{
		{"charset utf-16", http.Header{"Content-Type": {"application/json; charset=utf-16"}}, http.StatusBadRequest},
		{"two content types", http.Header{"Content-Type": {"application/json", "text/plain"}}, http.StatusBadRequest},
		{"identity coding", http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"identity"}}, http.StatusOK},
		{"charset UTF-8", http.Header{"Content-Type": {"application/json; charset=UTF-8"}}, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", f.srv.URL+"/v1/auth/accessToken", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = c.header
			resp, err := f.srv.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}

// A vault cursor that this server did not issue is a client error, not an empty page.
func TestVaultCursorValidated(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	for _, cursor := range []string{"AAAA", "%ff%fe", "x"} {
		r := do(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults?cursor="+cursor, map[string]string{"Authorization": "Bearer " + tok}, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("cursor %q: status %d, want 400", cursor, r.status)
		}
	}
}

// An error message quotes only the first 64 bytes of a long value from the request, so
// that a client cannot make the server echo its 64 KiB body back.
func TestErrorsCutLongValues(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	long := strings.Repeat("q", 60<<10)
	cases := []struct {
		name, path, contentType, body string
	}{
		{"unknown JSON field", "/v1/auth/accessToken", "application/json", `{"` + long + `":"x"}`},
		{"grant_type", "/oauth2/token", "application/x-www-form-urlencoded", "grant_type=" + long},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, f.srv.Client, "POST", f.srv.URL+c.path, map[string]string{"Content-Type": c.contentType}, c.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("POST %s with a %s of %d bytes: status %d, want 400", c.path, c.name, len(long), r.status)
			}
			if len(r.body) > 1024 {
				t.Errorf("POST %s with a %s of %d bytes: error body of %d bytes, want at most 1024", c.path, c.name, len(long), len(r.body))
			}
			if !strings.Contains(string(r.body), "(first 64 of 61440 bytes)") {
				t.Errorf("POST %s: error body %.300s lacks the note that the value was cut", c.path, r.body)
			}
		})
	}
}
