package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// TestLinkPageHead checks that HEAD on a setup or invitation link gets the status of GET
// and leaves the link usable, because HEAD must not run the form's action.
func TestLinkPageHead(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, engine, users := newTestDashboard(t, db, time.Now, 0)
	headThenGet := func(name, target string) {
		t.Helper()
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, target, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD %s page: status %d, want 200 as for GET", name, rec.Code)
		}
		rec = httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s page after HEAD: status %d, want 200", name, rec.Code)
		}
	}

	// The setup link works only while no account exists, so it is checked first.
	setup, err := users.CreateSetupLink(ctx)
	if err != nil {
		t.Fatalf("CreateSetupLink: %v", err)
	}
	headThenGet("setup", "/dashboard/setup?token="+url.QueryEscape(setup))

	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	createAccount(t, engine, db, account)
	invite, _, err := users.InviteUser(ctx, account.ID, "bob@acme.test", iogate.RoleAdmin)
	if err != nil {
		t.Fatalf("InviteUser: %v", err)
	}
	headThenGet("invite", "/dashboard/invite?token="+url.QueryEscape(invite))
}
