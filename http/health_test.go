package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iogate/iogate/metrics"
)

// TestAdminRoutes checks the admin listener's responses: its paths, 405 with an Allow header
// for another method on any of them, and a 404 problem for an unclean path.
func TestAdminRoutes(t *testing.T) {
	s := NewServer(nil, nil, slog.New(slog.DiscardHandler))
	s.SetOptions(Options{Metrics: metrics.New()})
	h := s.AdminHandler()
	cases := []struct {
		method, target string
		wantStatus     int
		wantAllow      string
	}{
		{"GET", "/healthz", http.StatusOK, ""},
		{"GET", "/metrics", http.StatusOK, ""},
		{"HEAD", "/metrics", http.StatusOK, ""},
		{"POST", "/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/x/../healthz", http.StatusNotFound, ""},
		{"GET", "/nothing", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
			if w.Code != c.wantStatus {
				t.Errorf("status %d, want %d", w.Code, c.wantStatus)
			}
			if got := w.Header().Get("Allow"); got != c.wantAllow {
				t.Errorf("Allow %q, want %q", got, c.wantAllow)
			}
			if w.Code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
				t.Errorf("Content-Type %q, want application/problem+json", w.Header().Get("Content-Type"))
			}
		})
	}
}
