package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iogate/iogate"
)

// TestDashboardErrorCodeLogged checks that a dashboard error page records its code for the
// access-log line, as an API error response does.
func TestDashboardErrorCodeLogged(t *testing.T) {
	h := newDashboardHarness(t, 0)
	cases := []struct {
		name, method, target, body string
		wantStatus                 int
		wantCode                   iogate.ErrorCode
	}{
		{"unknown page", http.MethodGet, "/dashboard/nowhere", "", http.StatusNotFound, iogate.CodeNotFound},
		{"PUT on a form page", http.MethodPut, "/dashboard/setup", "", http.StatusNotFound, iogate.CodeNotFound},
		{"sign-in without CSRF token", http.MethodPost, "/dashboard/signin", "email=a%40b.test", http.StatusForbidden, iogate.CodeForbidden},
		{"setup with unknown link", http.MethodGet, "/dashboard/setup?token=" + strings.Repeat("A", 43), "", http.StatusNotFound, iogate.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			st := &requestState{ResponseWriter: rec, id: "test-request"}
			req = req.WithContext(context.WithValue(req.Context(), requestStateKey{}, st))
			h.d.ServeHTTP(st, req)
			if rec.Code != c.wantStatus {
				t.Fatalf("%s %s: status %d, want %d", c.method, c.target, rec.Code, c.wantStatus)
			}
			if st.errorCode != c.wantCode {
				t.Errorf("%s %s: error code for the access log %q, want %q", c.method, c.target, st.errorCode, c.wantCode)
			}
		})
	}
}
