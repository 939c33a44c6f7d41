package http

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/internal/testenv"
)

// noticeOf returns the text of the notice on a dashboard page, or "" when it has none.
func noticeOf(t *testing.T, page string) string {
	t.Helper()
	const start = `<div class="notice" role="status">`
	_, rest, found := strings.Cut(page, start)
	if !found {
		return ""
	}
	text, _, found := strings.Cut(rest, "</div>")
	if !found {
		t.Fatalf("the notice does not end:\n%s", page)
	}
	return html.UnescapeString(text)
}

// TestCreateKeyCatchAllNotice creates keys from the dashboard's form and checks the notice
// of the page that shows the secret: the warning of iogate.CatchAllWarning for entries
// such as 0.0.0.0/0, and none for other lists.
func TestCreateKeyCatchAllNotice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	cases := []struct {
		name, allowedIPs, want string
	}{
		{"IPv4 catch-all", "0.0.0.0/0",
			"The allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"both catch-alls", "0.0.0.0/0\n::/0",
			"The allowed IPs 0.0.0.0/0 and ::/0 allow every IPv4 and IPv6 address. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"prefix", "10.0.0.0/8", ""},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"name": {c.name}, "scope": {"vaults:read"}, "allowed_ips": {c.allowedIPs},
				"form_token": {h.d.users.NewFormToken(h.current(), createKeyPurpose)}}
			rec, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
			if err != nil || rec.Code != http.StatusOK {
				t.Fatalf("create: status %d, error %v; want 200", rec.Code, err)
			}
			if !strings.Contains(rec.Body.String(), `id="client-secret"`) {
				t.Fatal("the page does not show the new secret")
			}
			if got := noticeOf(t, rec.Body.String()); got != c.want {
				t.Errorf("notice = %q, want %q", got, c.want)
			}
		})
	}
}

// TestEditKeyCatchAllNotice saves a key's allowed IPs with the edit form and checks the
// redirect and the notice of the key list that follows it.
func TestEditKeyCatchAllNotice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	const saved = "The API key was saved. The change applies to its tokens on their next request."
	cases := []struct {
		name, allowedIPs, want string
	}{
		{"IPv6 catch-all beside an IPv4 entry", "::/0\n192.0.2.7",
			saved + " The allowed IP ::/0 allows every IPv6 address, but IPv4 addresses are rejected unless another entry covers them. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"address", "192.0.2.7", saved},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/dashboard/keys/" + k.ClientID
			form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "allowed_ips": {c.allowedIPs}}
			rec, err := h.postForm(t, h.d.handleEditKey, path, k.ClientID, form, h.current())
			if err != nil || rec.Code != http.StatusSeeOther {
				t.Fatalf("edit: status %d, error %v; want 303", rec.Code, err)
			}
			location := rec.Header().Get("Location")
			wantLocation := "/dashboard/keys?saved=" + k.ClientID + "&notice=key-updated"
			if location != wantLocation {
				t.Fatalf("edit: Location %q, want %q", location, wantLocation)
			}
			if got := noticeOf(t, h.keyListAt(t, location)); got != c.want {
				t.Errorf("notice = %q, want %q", got, c.want)
			}
		})
	}
}

// TestEditKeyKeepsLegacyName saves the edit form of a key whose stored name and
// description contain characters disallowed since they were written. A post that sends
// them back as a browser does saves the other fields and keeps them. A post that changes
// the name to another disallowed one is rejected on the name field.
func TestEditKeyKeepsLegacyName(t *testing.T) {
	var db iogate.Store
	h := newDashboardHarnessOn(t, 90*24*time.Hour, func(s iogate.Store) iogate.Store { db = s; return s })
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	const legacyName, legacyDescription = "ci\u200b\u0085", "first line\nsecond\u2060line"
	_, err = db.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		k.Name, k.Description = legacyName, legacyDescription
		return h.auth.AuditChain().NewRecord(k.AccountID, iogate.AuditKeyUpdated, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, time.Now(), nil)
	})
	if err != nil {
		t.Fatalf("UpdateAPIKey writing the legacy name: %v", err)
	}
	path := "/dashboard/keys/" + k.ClientID

	// A browser sends the line breaks of a textarea as CR LF.
	form := url.Values{"name": {"ci\u200b\u0085"}, "description": {"first line\r\nsecond\u2060line"},
		"scope": {"vaults:read", "vaults:write"}, "allowed_ips": {"192.0.2.7"}}
	rec, err := h.postForm(t, h.d.handleEditKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("edit keeping the name: status %d, error %v; want 303\n%s", rec.Code, err, rec.Body)
	}
	stored, err := db.FindAPIKey(ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != legacyName || stored.Description != legacyDescription {
		t.Errorf("after the edit: name %q, description %q; want %q and %q kept", stored.Name, stored.Description, legacyName, legacyDescription)
	}
	if len(stored.Scopes) != 2 || len(stored.AllowedIPs) != 1 {
		t.Errorf("after the edit: scopes %v, allowed IPs %v; want the posted ones saved", stored.Scopes, stored.AllowedIPs)
	}

	form.Set("name", "other\u200b")
	rec, err = h.postForm(t, h.d.handleEditKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusBadRequest {
		t.Fatalf("edit to another disallowed name: status %d, error %v; want 400", rec.Code, err)
	}
	const want = "Key name contains the invisible format character U+200B: remove it."
	if got := elementText(t, rec.Body.String(), `<p class="field-error" id="name-error">`, "</p>"); got != want {
		t.Errorf("name error = %q, want %q", got, want)
	}
}

// TestKeyListSavedOtherKey checks that the key list warns about no key that the saved
// parameter names unless the key is the signed-in account's, so that a crafted link
// shows nothing about other accounts.
func TestKeyListSavedOtherKey(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	createAccount(t, h.auth, h.d.cfg.Store, other)
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: other.ID, Name: "theirs", AllowedIPs: []string{"0.0.0.0/0"}})
	if err != nil {
		t.Fatal(err)
	}
	const saved = "The API key was saved. The change applies to its tokens on their next request."
	for _, id := range []string{k.ClientID, iogate.NewClientID(), "not-a-client-id"} {
		target := "/dashboard/keys?saved=" + url.QueryEscape(id) + "&notice=key-updated"
		if got := noticeOf(t, h.keyListAt(t, target)); got != saved {
			t.Errorf("%s: notice = %q, want %q", target, got, saved)
		}
	}
}

// keyListAt returns the key list page at target, a path with a query.
func (h *dashboardHarness) keyListAt(t *testing.T, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.d.handleKeyList(rec, httptest.NewRequest(http.MethodGet, target, nil), h.current()); err != nil {
		t.Fatalf("handleKeyList %s: %v", target, err)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("key list %s: status %d", target, rec.Code)
	}
	return rec.Body.String()
}

// TestSecretPageCurlExample runs the text that the secret page's copy button copies, the
// command in #curl-example, in bash and zsh against an API server on loopback. The shell
// reads the secret from standard input, as it reads the secret pasted at the prompt. The
// test checks that a token comes back and that neither the command nor curl's arguments
// contain the secret. Its output never shows the secret or the token. With a self-signed
// certificate, the command as copied must pass curl the certificate file, because the
// server's certificate is not in the system's trust store.
func TestSecretPageCurlExample(t *testing.T) {
	t.Run("http", func(t *testing.T) { testSecretPageCurlExample(t, false) })
	t.Run("self-signed", func(t *testing.T) { testSecretPageCurlExample(t, true) })
}

// testSecretPageCurlExample runs the check of TestSecretPageCurlExample against an API server
// on plain HTTP, or on TLS with a certificate that the system does not trust and whose file
// the page's CACertHint names.
func testSecretPageCurlExample(t *testing.T, selfSigned bool) {
	realCurl := testenv.RequireTool(t, "curl")
	testenv.RequireTool(t, "bash")
	h := newDashboardHarness(t, 90*24*time.Hour)
	if err := h.auth.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	handler := NewServer(h.auth, h.d.cfg.Store, slog.New(slog.DiscardHandler)).Handler()
	var api *httptest.Server
	if selfSigned {
		api = httptest.NewTLSServer(handler)
		certFile := filepath.Join(t.TempDir(), "cert.pem")
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		h.d.cfg.CACertHint = certFile
	} else {
		api = httptest.NewServer(handler)
	}
	t.Cleanup(api.Close)
	h.d.cfg.PublicURL = api.URL

	form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "form_token": {h.d.users.NewFormToken(h.current(), createKeyPurpose)}}
	rec, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("create: status %d, error %v; want 200", rec.Code, err)
	}
	page := rec.Body.String()
	secret := elementText(t, page, `id="client-secret" aria-labelledby="client-secret-label">`, "</code>")
	command := elementText(t, page, `<pre class="code" id="curl-example">`, "</pre>")
	if !strings.HasPrefix(secret, iogate.SecretPrefix) {
		t.Fatalf("the secret element holds %d characters without the prefix %s", len(secret), iogate.SecretPrefix)
	}
	if strings.Contains(command, secret) {
		t.Fatal("the curl example contains the secret")
	}

	// A curl earlier in PATH records its arguments, then runs the real curl.
	bin := t.TempDir()
	argsFile := filepath.Join(bin, "args")
	wrapper := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + argsFile + "'\nexec '" + realCurl + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(wrapper), 0o700); err != nil {
		t.Fatal(err)
	}

	for _, shell := range []string{"bash", "zsh"} {
		t.Run(shell, func(t *testing.T) {
			path := testenv.RequireTool(t, shell)
			os.Remove(argsFile)
			cmd := exec.Command(path, "-c", command)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			cmd.Stdin = strings.NewReader(secret + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			redact := func(s string) string { return strings.ReplaceAll(s, secret, "iogs_…REDACTED") }
			if runErr != nil {
				t.Fatalf("%s -c COMMAND: %v; stderr %q", shell, runErr, redact(stderr.String()))
			}

			var got accessTokenResponse
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.AccessToken == "" {
				t.Errorf("stdout is not a token response (%v): %d bytes, stderr %q", err, stdout.Len(), redact(stderr.String()))
			}
			if got.TokenType != "Bearer" {
				t.Errorf("tokenType = %q, want Bearer", got.TokenType)
			}
			// curl adds its progress meter to stderr because stdout is not a terminal here.
			if want := "Client secret: \n"; !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("stderr = %q, want it to start with the prompt %q", redact(stderr.String()), want)
			}
			args, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatalf("the command did not run curl from PATH: %v", err)
			}
			if strings.Contains(string(args), secret) {
				t.Error("curl's arguments contain the secret")
			}
		})
	}
}

// elementText returns the text between start and the first end after it in page, with
// HTML character references decoded and surrounding space trimmed, as the copy button's
// textContent.trim() reads it. It fails the test when the text contains markup, whose
// tags textContent would drop.
func elementText(t *testing.T, page, start, end string) string {
	t.Helper()
	_, rest, found := strings.Cut(page, start)
	if !found {
		t.Fatalf("the page lacks %s", start)
	}
	inner, _, found := strings.Cut(rest, end)
	if !found {
		t.Fatalf("%s does not end with %s", start, end)
	}
	if strings.Contains(inner, "<") {
		t.Fatalf("the element after %s contains markup", start)
	}
	return strings.TrimSpace(html.UnescapeString(inner))
}
