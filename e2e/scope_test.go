package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// oauthToken gets a token from /oauth2/token with client_secret_basic, narrowed to scope
// unless it is empty, and fails the test otherwise.
func oauthToken(t *testing.T, srv *testenv.Server, clientID, secret, scope string) string {
	t.Helper()
	body := "grant_type=client_credentials"
	if scope != "" {
		body += "&scope=" + url.QueryEscape(scope)
	}
	r := send(t, srv.Client, "POST", srv.URL+"/oauth2/token", formHeader(clientID, secret), body)
	if r.status != http.StatusOK {
		t.Fatalf("POST /oauth2/token: status %d, want 200; body %s", r.status, redactBody(r.body))
	}
	tok, _ := r.json(t)["access_token"].(string)
	return tok
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func withJSON(h http.Header) http.Header {
	h.Set("Content-Type", "application/json")
	return h
}

func TestScopes(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	writer := createKey(t, dir, f.accountID, "writer", "--scope", "vaults:write")
	both := createKey(t, dir, f.accountID, "both", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, f.srv, both.ClientID, both.ClientSecret)

	readTok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	writeTok := oauthToken(t, f.srv, writer.ClientID, writer.ClientSecret, "")
	bothTok := oauthToken(t, f.srv, both.ClientID, both.ClientSecret, "")
	narrowedTok := oauthToken(t, f.srv, both.ClientID, both.ClientSecret, "vaults:read")
	vault := `{"name":"Cold","threshold":2}`

	cases := []struct {
		name, method, path, token string
		status                    int
		missingScope              string
	}{
		{"read token lists", "GET", "/v1/vaults", readTok, 200, ""},
		{"read token gets one", "GET", "/v1/vaults/" + f.vaultID, readTok, 200, ""},
		{"read token cannot create", "POST", "/v1/vaults", readTok, 403, "vaults:write"},
		{"write token creates", "POST", "/v1/vaults", writeTok, 201, ""},
		{"write token cannot list", "GET", "/v1/vaults", writeTok, 403, "vaults:read"},
		{"write token cannot get one", "GET", "/v1/vaults/" + f.vaultID, writeTok, 403, "vaults:read"},
		{"token with both scopes creates", "POST", "/v1/vaults", bothTok, 201, ""},
		{"token with both scopes lists", "GET", "/v1/vaults", bothTok, 200, ""},
		{"token narrowed to read cannot create", "POST", "/v1/vaults", narrowedTok, 403, "vaults:write"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := ""
			if c.method == "POST" {
				body = vault
			}
			r := send(t, f.srv.Client, c.method, f.srv.URL+c.path, withJSON(bearer(c.token)), body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			if c.missingScope == "" {
				return
			}
			want := `error="insufficient_scope", scope="` + c.missingScope + `"`
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") || !strings.Contains(got, want) {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge with %s", got, want)
			}
			if code := r.json(t)["code"]; code != "insufficient_scope" {
				t.Errorf("code = %v, want insufficient_scope", code)
			}
		})
	}

	t.Run("created vault is listed", func(t *testing.T) {
		r := send(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", withJSON(bearer(writeTok)), `{"name":"Warm","threshold":3}`)
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v1/vaults: status %d, want 201", r.status)
		}
		created := r.json(t)
		id, _ := created["id"].(string)
		if created["name"] != "Warm" || created["threshold"] != 3.0 || created["status"] != "active" || id == "" {
			t.Errorf("created vault = %v, want name Warm, threshold 3, status active and an id", created)
		}
		if loc := r.header.Get("Location"); loc != "/v1/vaults/"+id {
			t.Errorf("Location = %q, want /v1/vaults/%s", loc, id)
		}
		if got := send(t, f.srv.Client, "GET", f.srv.URL+"/v1/vaults/"+id, bearer(readTok), ""); got.status != http.StatusOK {
			t.Errorf("GET the created vault: status %d, want 200", got.status)
		}
	})

	invalid := []struct {
		name, contentType, body string
		status                  int
	}{
		{"threshold zero", "application/json", `{"name":"a","threshold":0}`, 400},
		{"threshold too high", "application/json", `{"name":"a","threshold":101}`, 400},
		{"threshold as string", "application/json", `{"name":"a","threshold":"2"}`, 400},
		{"threshold with fraction", "application/json", `{"name":"a","threshold":2.5}`, 400},
		{"missing name", "application/json", `{"threshold":2}`, 400},
		{"blank name", "application/json", `{"name":"  ","threshold":2}`, 400},
		{"missing threshold", "application/json", `{"name":"a"}`, 400},
		{"duplicate field", "application/json", `{"name":"a","name":"b","threshold":2}`, 400},
		{"field in other case", "application/json", `{"Name":"a","threshold":2}`, 400},
		{"unknown field", "application/json", `{"name":"a","threshold":2,"owner":"x"}`, 400},
		{"trailing data", "application/json", `{"name":"a","threshold":2} {}`, 400},
		{"charset parameter", "application/json; charset=utf-8", `{"name":"charset","threshold":1}`, 201},
		{"form content type", "application/x-www-form-urlencoded", `name=a&threshold=2`, 415},
		{"no content type", "", `{"name":"a","threshold":2}`, 415},
		{"oversized body", "application/json", `{"name":"` + strings.Repeat("a", 1<<20) + `","threshold":2}`, 413},
	}
	for _, c := range invalid {
		t.Run("create with "+c.name, func(t *testing.T) {
			h := bearer(writeTok)
			if c.contentType != "" {
				h.Set("Content-Type", c.contentType)
			}
			r := send(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", h, c.body)
			if r.status != c.status {
				t.Errorf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
		})
	}
}

func TestBearerHandling(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	tok := accessToken(t, f.srv, f.clientID, f.clientSecret)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	cases := []struct {
		name   string
		method string
		query  string
		header http.Header
		body   string
		status int
		// challengeError is the error parameter of WWW-Authenticate: "" for none, "-"
		// when no challenge is expected at all.
		challengeError string
	}{
		{"scheme in lower case", "GET", "", http.Header{"Authorization": {"bearer " + tok}}, "", 200, "-"},
		{"scheme in upper case with extra spaces", "GET", "", http.Header{"Authorization": {"BEARER    " + tok}}, "", 200, "-"},
		{"no token", "GET", "", nil, "", 401, ""},
		{"token only in query", "GET", "access_token=" + tok, nil, "", 401, ""},
		{"token only in form body", "POST", "", form, "access_token=" + tok, 401, ""},
		{"Basic credentials", "GET", "", http.Header{"Authorization": {basicAuth(f.clientID, f.clientSecret)}}, "", 401, ""},
		{"invalid token", "GET", "", http.Header{"Authorization": {"Bearer abc.def.ghi"}}, "", 401, "invalid_token"},
		{"token with a space", "GET", "", http.Header{"Authorization": {"Bearer abc def"}}, "", 401, "invalid_token"},
		{"header and query", "GET", "access_token=" + tok, http.Header{"Authorization": {"Bearer " + tok}}, "", 400, "invalid_request"},
		{"header and form body", "POST", "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Bearer " + tok}}, "access_token=" + tok, 400, "invalid_request"},
		{"query and form body", "POST", "access_token=" + tok, form, "access_token=" + tok, 400, "invalid_request"},
		{"two Authorization headers", "GET", "", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, "", 400, "invalid_request"},
		{"two credentials in one header", "GET", "", http.Header{"Authorization": {"Bearer " + tok + ", Bearer " + tok}}, "", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := f.srv.URL + "/v1/vaults"
			if c.query != "" {
				target += "?" + c.query
			}
			r := send(t, f.srv.Client, c.method, target, c.header, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			got := r.header.Get("WWW-Authenticate")
			switch {
			case c.challengeError == "-":
				if got != "" {
					t.Errorf("WWW-Authenticate = %q, want none", got)
				}
			case !strings.HasPrefix(got, "Bearer "):
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			case c.challengeError == "" && strings.Contains(got, "error="):
				t.Errorf("WWW-Authenticate = %q, want no error parameter", got)
			case c.challengeError != "" && !strings.Contains(got, `error="`+c.challengeError+`"`):
				t.Errorf("WWW-Authenticate = %q, want error=%q", got, c.challengeError)
			}
			if r.status != http.StatusUnauthorized {
				return
			}
			// A 401 without an error attribute is a missing token, and its code is missing_token.
			wantCode := "missing_token"
			if c.challengeError != "" {
				wantCode = c.challengeError
			}
			if code := r.json(t)["code"]; code != wantCode {
				t.Errorf("problem code %v, want %s", code, wantCode)
			}
		})
	}
}
