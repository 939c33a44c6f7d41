package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
