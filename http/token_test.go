package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// TestAccessTokenChallenge checks that every 401 of POST /v1/auth/accessToken carries a
// challenge for the one credential form the endpoint reads, the JSON body, and that the
// Authorization header plays no part: valid Basic credentials neither replace nor rescue
// the body's.
func TestAccessTokenChallenge(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	body := func(clientID, secret string) string {
		b, err := json.Marshal(map[string]string{"clientId": clientID, "clientSecret": secret})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name          string
		body          string
		basic         bool
		wantStatus    int
		wantChallenge string
	}{
		{"wrong secret", body(api.clientID, api.secret+"x"), false, http.StatusUnauthorized, accessTokenChallenge},
		{"unknown client", body("6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", api.secret), false, http.StatusUnauthorized, accessTokenChallenge},
		{"wrong secret beside valid Basic", body(api.clientID, api.secret+"x"), true, http.StatusUnauthorized, accessTokenChallenge},
		{"valid Basic without body fields", `{}`, true, http.StatusBadRequest, ""},
		{"valid secret", body(api.clientID, api.secret), false, http.StatusOK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", accessTokenPath, strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/json")
			if c.basic {
				r.SetBasicAuth(api.clientID, api.secret)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != c.wantStatus {
				t.Fatalf("POST %s: status %d, want %d", accessTokenPath, rec.Code, c.wantStatus)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != c.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.wantChallenge)
			}
		})
	}
}

// TestAccessTokenBasicHint checks that a body error of a request with HTTP Basic
// credentials points to the JSON body and to /oauth2/token, and that the same error without
// Basic credentials does not.
func TestAccessTokenBasicHint(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	cases := []struct {
		name, contentType, body string
		basic, wantHint         bool
	}{
		{"empty body with Basic", "application/json", "", true, true},
		{"missing field with Basic", "application/json", `{"clientId":"x"}`, true, true},
		{"form body with Basic", "application/x-www-form-urlencoded", "grant_type=client_credentials", true, true},
		{"empty body without Basic", "application/json", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", accessTokenPath, strings.NewReader(c.body))
			r.Header.Set("Content-Type", c.contentType)
			if c.basic {
				r.SetBasicAuth(api.clientID, api.secret)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST %s: status %d, want 400", accessTokenPath, rec.Code)
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("body is not a problem: %v", err)
			}
			if got := strings.Contains(p.Detail, "/oauth2/token"); got != c.wantHint {
				t.Errorf("detail %q names /oauth2/token: %v, want %v", p.Detail, got, c.wantHint)
			}
			if strings.Contains(rec.Body.String(), api.secret) {
				t.Error("the response repeats the client secret")
			}
		})
	}
}

// TestAccessTokenTrailingNewlineHint checks that a generated secret followed by a line
// break gets 401 with a hint to remove it, for a known and an unknown client ID alike, and
// that other wrong secrets get no hint.
func TestAccessTokenTrailingNewlineHint(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	unknownID := "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"
	cases := []struct {
		name, clientID, secret string
		wantHint               bool
	}{
		{"known ID, line break", api.clientID, api.secret + "\n", true},
		{"unknown ID, line break", unknownID, api.secret + "\n", true},
		{"known ID, CRLF and space", api.clientID, api.secret + " \r\n", true},
		{"known ID, extra character", api.clientID, api.secret + "x", false},
		{"known ID, line break after a wrong secret", api.clientID, api.secret[:len(api.secret)-1] + "\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(map[string]string{"clientId": c.clientID, "clientSecret": c.secret})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", accessTokenPath, strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("POST %s: status %d, want 401", accessTokenPath, rec.Code)
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("body is not a problem: %v", err)
			}
			if got := strings.Contains(p.Detail, "line break"); got != c.wantHint {
				t.Errorf("detail %q mentions the line break: %v, want %v", p.Detail, got, c.wantHint)
			}
			if strings.Contains(rec.Body.String(), api.secret) {
				t.Error("the response repeats the client secret")
			}
		})
	}
}

// TestErrorMessagesCapClientValues checks that an error message quotes at most
// iogate.MaxQuotedInput bytes of a value from the request, however long the value, on
// every endpoint that quotes one.
func TestErrorMessagesCapClientValues(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	tok, err := api.engine.IssueToken(context.Background(), auth.TokenRequest{ClientID: api.clientID, ClientSecret: api.secret})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("z", 60<<10)
	cases := []struct {
		name, method, target, contentType, body string
		bearer                                  bool
	}{
		{"unknown JSON field", "POST", accessTokenPath, "application/json", `{"` + long + `":"x"}`, false},
		{"charset", "POST", accessTokenPath, "application/json; charset=" + long, `{}`, false},
		{"grant_type", "POST", "/oauth2/token", "application/x-www-form-urlencoded", "grant_type=" + long, false},
		{"scope", "POST", "/oauth2/token", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + api.clientID + "&client_secret=" + api.secret + "&scope=" + long, false},
		{"repeated parameter name", "POST", "/oauth2/token", "application/x-www-form-urlencoded", long[:30<<10] + "=1&" + long[:30<<10] + "=2", false},
		{"vault list limit", "GET", "/v1/vaults?limit=" + long, "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			if c.bearer {
				r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s %s: status %d, want 400", c.method, c.name, rec.Code)
			}
			body := rec.Body.String()
			if len(body) > 1024 {
				t.Errorf("%s %s: error body of %d bytes, want at most 1024", c.method, c.name, len(body))
			}
			if !strings.Contains(body, fmt.Sprintf("(first %d of ", iogate.MaxQuotedInput)) {
				t.Errorf("%s %s: error body %.200s lacks the note that the value was cut", c.method, c.name, body)
			}
		})
	}
}
