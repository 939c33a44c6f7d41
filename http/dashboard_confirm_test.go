package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

func TestFormatInterval(t *testing.T) {
	tests := []struct {
		interval time.Duration
		want     string
	}{
		{time.Second, "1 second"},
		{90 * time.Second, "90 seconds"},
		{time.Minute, "1 minute"},
		{5 * time.Minute, "5 minutes"},
		{time.Hour, "1 hour"},
		{1500 * time.Millisecond, "2 seconds"},
	}
	for _, tt := range tests {
		if got := formatInterval(tt.interval); got != tt.want {
			t.Errorf("formatInterval(%s) = %q, want %q", tt.interval, got, tt.want)
		}
	}
}

func TestHiddenFieldsOf(t *testing.T) {
	form := url.Values{
		"role":    {"admin"},
		"csrf":    {"token"},
		"confirm": {"a password"},
		"scope":   {"vaults:read", "vaults:write"},
		"email":   {`"quoted" <x@acme.test>`},
	}
	got := hiddenFieldsOf(form)
	want := []hiddenField{
		{"email", `"quoted" <x@acme.test>`},
		{"role", "admin"},
		{"scope", "vaults:read"},
		{"scope", "vaults:write"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("hiddenFieldsOf = %v, want %v: every field but csrf and confirm, in name order", got, want)
	}
}

func TestConfirmationPageAfterInterval(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	now := h.now.UTC().Truncate(time.Microsecond)
	target := &iogate.User{ID: iogate.NewID(), AccountID: h.account.ID, Email: "analyst@acme.test", Role: iogate.RoleViewer,
		CreatedAt: now, UpdatedAt: now}
	if err := h.d.cfg.Store.CreateUser(ctx, target); err != nil {
		t.Fatal(err)
	}
	cur := h.current()
	// Six minutes after the last confirmation, past the default interval of five.
	h.now = h.now.Add(6 * time.Minute)

	path := "/dashboard/users/" + target.ID + "/role"
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.PostForm = url.Values{"role": {"admin"}, "csrf": {"old token"}}
	req.SetPathValue("id", target.ID)
	rec := httptest.NewRecorder()
	if err := h.d.handleChangeRole(rec, req, cur); err != nil {
		t.Fatalf("handleChangeRole: %v", err)
	}
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest {
		t.Errorf("role change without confirmation: status %d, want 400", rec.Code)
	}
	if !strings.Contains(body, `action="`+path+`"`) {
		t.Errorf("the confirmation page does not post to %s", path)
	}
	if !strings.Contains(body, `<input type="hidden" name="role" value="admin">`) {
		t.Error("the confirmation page does not carry the requested role")
	}
	if n := strings.Count(body, `name="csrf"`); n != 2 {
		t.Errorf("the page has %d CSRF fields, want 2: sign-out and the confirmation form", n)
	}
	if strings.Contains(body, "old token") {
		t.Error("the confirmation page repeats the posted CSRF token instead of the session's")
	}
	if !strings.Contains(body, "more than 5 minutes ago") {
		t.Error("the confirm field's hint does not name the 5 minute interval")
	}
	stored, err := h.d.cfg.Store.FindUserByID(ctx, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Role != iogate.RoleViewer {
		t.Errorf("role after the unconfirmed change = %s, want viewer", stored.Role)
	}
}
