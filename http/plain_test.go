package http

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExposedLogGivesNextStep checks that the log line of a valid credential received over
// plain HTTP gives the next step for the key it names. That is to rotate or delete it, or
// to create a new key when --revoke-exposed-credentials deleted it.
func TestExposedLogGivesNextStep(t *testing.T) {
	for _, revoke := range []bool{false, true} {
		t.Run(fmt.Sprintf("revoke %v", revoke), func(t *testing.T) {
			var logs logBuffer
			api := newTestAPIWithLog(t, Options{RevokeExposedCredentials: revoke}, slog.New(slog.NewJSONHandler(&logs, nil)))

			rec := sendSecretOverPlainHTTP(api)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("plain HTTP token request: status %d, want 403", rec.Code)
			}

			lines := logs.records(t, "valid credential received over plain HTTP")
			if len(lines) != 1 {
				t.Fatalf("exposure log lines = %d, want 1", len(lines))
			}
			step, _ := lines[0]["next_step"].(string)
			want := []string{`"iogate key rotate ` + api.clientID + ` --grace 0"`, `"iogate key delete ` + api.clientID + `"`}
			if revoke {
				want = []string{"the key was deleted", `"iogate key show ` + api.clientID + `"`, `"iogate key create --account`}
			}
			for _, w := range want {
				if !strings.Contains(step, w) {
					t.Errorf("next_step = %q, want it to contain %s", step, w)
				}
			}
			if lines[0]["revoked"] != revoke {
				t.Errorf("revoked = %v, want %v", lines[0]["revoked"], revoke)
			}
			if strings.Contains(logs.String(), api.secret) {
				t.Error("the log contains the client secret")
			}
		})
	}
}

// sendSecretOverPlainHTTP sends the client ID and secret of api in a token request to its
// plain HTTP handler and returns the response.
func sendSecretOverPlainHTTP(api *testAPI) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/auth/accessToken", strings.NewReader(`{"clientId":"`+api.clientID+`","clientSecret":"`+api.secret+`"}`))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	api.srv.PlainHandler().ServeHTTP(rec, r)
	return rec
}
