package http

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/sqlite"
)

// TestSetupLinkReplacedPage opens a setup link after a second one was created, as when a
// second node starts before anyone opened the first node's link. The 404 page must state
// that a newer link replaced it, while an unknown token keeps the page that names no cause.
func TestSetupLinkReplacedPage(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, _, users := newTestDashboard(t, db, time.Now, 0)
	first, err := users.CreateSetupLink(ctx)
	if err != nil {
		t.Fatalf("CreateSetupLink: %v", err)
	}
	second, err := users.CreateSetupLink(ctx)
	if err != nil {
		t.Fatalf("CreateSetupLink: %v", err)
	}
	get := func(token string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard/setup?token="+url.QueryEscape(token), nil))
		return rec
	}
	replaced := "This setup link was replaced by a newer one"

	res := get(first)
	if res.Code != http.StatusNotFound {
		t.Errorf("GET the replaced setup link: status %d, want 404", res.Code)
	}
	if body := html.UnescapeString(res.Body.String()); !strings.Contains(body, replaced) || !strings.Contains(body, "only the setup link printed last works") {
		t.Errorf("GET the replaced setup link: the page does not say that a newer link replaced it:\n%s", body)
	}

	unknown := strings.Repeat("A", len(first))
	res = get(unknown)
	if res.Code != http.StatusNotFound {
		t.Errorf("GET an unknown setup link: status %d, want 404", res.Code)
	}
	if body := html.UnescapeString(res.Body.String()); strings.Contains(body, replaced) {
		t.Errorf("GET an unknown setup link: the page says replaced, which only a printed link may learn:\n%s", body)
	}

	if res := get(second); res.Code != http.StatusOK {
		t.Errorf("GET the newest setup link: status %d, want 200", res.Code)
	}
}
