package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iogate/iogate"
)

// TestDashboardErrorCodeLogged checks that a dashboard error page, and the 404 of a static
// path that names no file, records its code for the access-log line, as an API error
// response does. A static file that exists records none.
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
		{"missing static file", http.MethodGet, "/dashboard/static/missing.css", "", http.StatusNotFound, iogate.CodeNotFound},
		{"static directory", http.MethodGet, "/dashboard/static/", "", http.StatusNotFound, iogate.CodeNotFound},
		{"static file as a directory", http.MethodGet, "/dashboard/static/dashboard.css/", "", http.StatusNotFound, iogate.CodeNotFound},
		{"static file", http.MethodGet, "/dashboard/static/dashboard.css", "", http.StatusOK, ""},
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

// TestDashboardRenderFailureCode checks that a page that cannot be rendered gets a plain
// 500 whose access-log line carries error_code internal, and whose log line names the page
// and the request.
func TestDashboardRenderFailureCode(t *testing.T) {
	h := newDashboardHarness(t, 0)
	var logs logBuffer
	h.d.log = slog.New(slog.NewJSONHandler(&logs, nil))
	cases := []struct{ name, page string }{
		{"missing template", "no-such-page"},
		// The audit page's template reads fields of Data, which a number lacks.
		{"template error", "audit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			st := &requestState{ResponseWriter: rec, id: "test-request"}
			req := httptest.NewRequest(http.MethodGet, "/dashboard/keys", nil)
			req = req.WithContext(context.WithValue(req.Context(), requestStateKey{}, st))
			h.d.render(st, req, http.StatusOK, c.page, &view{Title: "T", Data: 42})
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", rec.Code)
			}
			if st.errorCode != iogate.CodeInternal {
				t.Errorf("error code for the access log %q, want %q", st.errorCode, iogate.CodeInternal)
			}
			lines := logs.records(t, "render dashboard page failed")
			if len(lines) == 0 || lines[len(lines)-1]["page"] != c.page || lines[len(lines)-1]["request_id"] != "test-request" {
				t.Errorf("render failure log lines %v, want the last to name page %q and request test-request", lines, c.page)
			}
		})
	}
}
