package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// plainRequest sends a request to the plain HTTP listener and checks that it gets the only
// response that listener sends: 403 https_required, no redirect.
func plainRequest(t *testing.T, srv *testenv.Server, method, path string, header map[string]string, body string) {
	t.Helper()
	plainRequestTo(t, srv.HTTPAddr, method, path, header, body)
}

// plainRequestTo is plainRequest to the listener at addr, which may be the HTTPS listener:
// plain HTTP sent there gets the same response.
func plainRequestTo(t *testing.T, addr, method, path string, header map[string]string, body string) {
	t.Helper()
	plainRequestWith(t, &http.Transport{}, addr, method, path, header, body)
}

// plainH2Request is plainRequestTo over HTTP/2 without TLS (prior knowledge).
func plainH2Request(t *testing.T, addr, method, path string, header map[string]string, body string) {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	plainRequestWith(t, tr, addr, method, path, header, body)
}

func plainRequestWith(t *testing.T, tr *http.Transport, addr, method, path string, header map[string]string, body string) {
	t.Helper()
	defer tr.CloseIdleConnections()
	plain := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := do(t, plain, method, "http://"+addr+path, header, body)
	body403 := r.json(t)
	// /oauth2/ paths answer in the OAuth error format, the others with problem details.
	httpsRequired := body403["code"] == "https_required" ||
		body403["error"] == "invalid_request" && strings.Contains(fmt.Sprint(body403["error_description"]), "HTTPS is required")
	if r.status != http.StatusForbidden || !httpsRequired {
		t.Fatalf("%s %s over plain HTTP: status %d, body %s; want 403 https_required", method, path, r.status, redactBody(r.body))
	}
	message := fmt.Sprint(body403["detail"], body403["error_description"])
	if !strings.Contains(message, "send this request to https://") {
		t.Errorf("%s %s over plain HTTP: message %q does not name the HTTPS URL", method, path, message)
	}
}

func TestExposedCredentials(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	jsonType := map[string]string{"Content-Type": "application/json"}
	formType := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	basic := func(id, secret string) map[string]string {
		v := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
		return map[string]string{"Authorization": "Basic " + v}
	}
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)

	t.Run("credentials that do not verify change nothing", func(t *testing.T) {
		other := createKey(t, dir, f.accountID, "other")
		plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(f.clientID, other.ClientSecret))
		plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(f.clientID, mistype(f.clientSecret)))
		plainRequest(t, f.srv, "POST", "/oauth2/token", basic(f.clientID, "iogs_wrong"), "grant_type=client_credentials")
		plainRequest(t, f.srv, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + tok[:len(tok)-4] + "AAAA"}, "")
		plainRequest(t, f.srv, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer garbage"}, "")
		plainRequestTo(t, f.srv.Addr, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(f.clientID, mistype(f.clientSecret)))
		if keyExposed(t, dir, f.clientID) || keyExposed(t, dir, other.ClientID) {
			t.Fatal("a credential that did not verify marked a key exposed")
		}
		if r := getVaults(t, f.srv, tok); r.status != 200 {
			t.Errorf("token after failed plain-HTTP attempts: status %d, want 200", r.status)
		}
	})

	cases := []struct {
		name string
		send func(k createdKey, token string)
	}{
		{"JSON body", func(k createdKey, _ string) {
			plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret))
		}},
		{"Basic header", func(k createdKey, _ string) {
			plainRequest(t, f.srv, "POST", "/oauth2/token", basic(k.ClientID, k.ClientSecret), "grant_type=client_credentials")
		}},
		{"form body", func(k createdKey, _ string) {
			plainRequest(t, f.srv, "POST", "/oauth2/token", formType,
				url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}}.Encode())
		}},
		{"query string", func(k createdKey, _ string) {
			plainRequest(t, f.srv, "GET", "/v1/vaults?client_id="+k.ClientID+"&client_secret="+k.ClientSecret, nil, "")
		}},
		{"bearer token", func(_ createdKey, token string) {
			plainRequest(t, f.srv, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + token}, "")
		}},
		{"JSON body sent to the HTTPS port", func(k createdKey, _ string) {
			plainRequestTo(t, f.srv.Addr, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret))
		}},
		{"bearer token sent to the HTTPS port", func(_ createdKey, token string) {
			plainRequestTo(t, f.srv.Addr, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + token}, "")
		}},
		{"bearer token over HTTP/2 without TLS to the HTTPS port", func(_ createdKey, token string) {
			plainH2Request(t, f.srv.Addr, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + token}, "")
		}},
		{"JSON body over HTTP/2 without TLS", func(k createdKey, _ string) {
			plainH2Request(t, f.srv.HTTPAddr, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret))
		}},
		{"secret with a trailing line break", func(k createdKey, _ string) {
			plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret+"\n"))
		}},
	}
	for _, c := range cases {
		t.Run("valid credential in "+c.name, func(t *testing.T) {
			k := createKey(t, dir, f.accountID, "exposed "+c.name)
			waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
			token := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
			c.send(k, token)
			if !keyExposed(t, dir, k.ClientID) {
				t.Fatal("key not marked exposed")
			}
			// Without --revoke-exposed-credentials the key keeps working, so that
			// marking it cannot take a client down; the owner rotates or deletes it.
			if r := getVaults(t, f.srv, token); r.status != 200 {
				t.Errorf("token of the exposed key: status %d, want 200", r.status)
			}
		})
	}

	t.Run("key list and text output show it", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "key", "list", "--account", f.accountID, "--json")
		if !strings.Contains(res.Stdout, `"exposed": true`) {
			t.Error("key list --json shows no exposed key")
		}
		k := createKey(t, dir, f.accountID, "text")
		waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
		plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", jsonType, credentialsJSON(k.ClientID, k.ClientSecret))
		if res := testenv.RunCLI(t, dir, nil, "key", "show", k.ClientID); !strings.Contains(res.Stdout, "Exposed:") || !strings.Contains(res.Stdout, "true") {
			t.Errorf("key show output does not say exposed:\n%s", res.Stdout)
		}

		// EXPOSED, the last column of the text table, contains the time of the first
		// exposure, and "-" for a key that was never exposed.
		var detail struct{ ExposedAt time.Time }
		testenv.CLIJSON(t, dir, &detail, "key", "show", k.ClientID)
		res = testenv.RunCLI(t, dir, nil, "key", "list", "--account", f.accountID)
		if res.ExitCode != 0 {
			t.Fatalf("key list: exit %d: %s", res.ExitCode, res.Stderr)
		}
		rows := map[string][]string{}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if fields := strings.Fields(line); len(fields) > 0 {
				rows[fields[0]] = fields
			}
		}
		if header := rows["CLIENT"]; len(header) == 0 || header[len(header)-1] != "EXPOSED" {
			t.Errorf("key list header = %q, want EXPOSED as its last column", header)
		}
		if row := rows[k.ClientID]; len(row) == 0 || row[len(row)-1] != detail.ExposedAt.Format(time.RFC3339) {
			t.Errorf("key list row of the exposed key = %q, want it to end with the exposure time %s", row, detail.ExposedAt.Format(time.RFC3339))
		}
		if row := rows[f.clientID]; len(row) == 0 || row[len(row)-1] != "-" {
			t.Errorf("key list row of a key never exposed = %q, want it to end with -", row)
		}
		if !strings.Contains(res.Stdout, `Rotate keys whose current secret is exposed with "iogate key rotate CLIENT_ID --grace 0"`) {
			t.Errorf("key list with an exposed key does not say to rotate it:\n%s", res.Stdout)
		}
	})

	// key.exposed records name iogate itself, an actor without an ID, as their actor.
	res := testenv.RunCLI(t, dir, nil, "audit", "list", "--account", f.accountID, "--event", "key.exposed")
	if res.ExitCode != 0 {
		t.Fatalf("audit list --event key.exposed: exit %d", res.ExitCode)
	}
	if !strings.Contains(res.Stdout, "key.exposed") || !regexp.MustCompile(`\bsystem\s`).MatchString(res.Stdout) {
		t.Errorf("audit list shows no key.exposed record by the system actor:\n%s", res.Stdout)
	}
	if strings.Contains(res.Stdout, "system:") {
		t.Errorf("audit list shows the system actor with an empty ID after a colon:\n%s", res.Stdout)
	}

	warnings := 0
	requestID := regexp.MustCompile(`"request_id":"[0-9a-f]{32}"`)
	for _, line := range strings.Split(f.srv.SyncedLogs(t), "\n") {
		if !strings.Contains(line, "valid credential received over plain HTTP") {
			continue
		}
		warnings++
		// The request ID ties the warning to the request's access-log line.
		if !requestID.MatchString(line) {
			t.Errorf("exposure warning without a request_id: %s", line)
		}
	}
	if warnings == 0 {
		t.Error("no log line for the exposed credentials")
	}
	if got := metricValue(t, f.srv, "iogate_exposed_credentials_total"); got != float64(len(cases)+1) {
		t.Errorf("iogate_exposed_credentials_total = %v, want %d", got, len(cases)+1)
	}
}

func TestRevokeExposedCredentials(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--revoke-exposed-credentials"}})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)

	// A wrong secret over plain HTTP must not revoke anything, because otherwise anyone
	// with a client ID could take its key away.
	plainRequest(t, f.srv, "POST", "/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(f.clientID, "iogs_wrong"))
	if r := getVaults(t, f.srv, tok); r.status != 200 {
		t.Fatalf("after a wrong secret over plain HTTP: status %d, want 200", r.status)
	}

	plainRequest(t, f.srv, "GET", "/v1/vaults", map[string]string{"Authorization": "Bearer " + tok}, "")
	if r := getVaults(t, f.srv, tok); r.status != http.StatusUnauthorized {
		t.Errorf("token after it crossed plain HTTP: status %d, want 401 (key deleted)", r.status)
	}
	if r := tokenRequest(t, f.srv.Client, f.srv, nil, f.clientID, f.clientSecret); r.status != http.StatusUnauthorized {
		t.Errorf("secret of the revoked key: status %d, want 401", r.status)
	}
	if res := testenv.RunCLI(t, f.srv.DataDir, nil, "key", "show", f.clientID); res.ExitCode == 0 {
		t.Error("key show still finds the revoked key")
	}
	if !strings.Contains(f.srv.SyncedLogs(t), `"revoked":true`) {
		t.Error("the revocation was not logged")
	}
}

// mistype returns secret with its last character changed, so that it never verifies.
func mistype(secret string) string {
	last := secret[len(secret)-1]
	if last == 'x' {
		return secret[:len(secret)-1] + "y"
	}
	return secret[:len(secret)-1] + "x"
}
