package http

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// noticeOf returns the text of the notice on a dashboard page, or "" when it has none.
func noticeOf(t *testing.T, page string) string {
	t.Helper()
	const start = `<div class="notice" role="status">`
	_, rest, found := strings.Cut(page, start)
	if !found {
		return ""
	}
	text, _, found := strings.Cut(rest, "</div>")
	if !found {
		t.Fatalf("the notice does not end:\n%s", page)
	}
	return html.UnescapeString(text)
}

// TestCreateKeyCatchAllNotice creates keys from the dashboard's form and checks the notice
// of the page that shows the secret: the warning of iogate.CatchAllWarning for entries
// such as 0.0.0.0/0, and none for other lists.
func TestCreateKeyCatchAllNotice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	cases := []struct {
		name, allowedIPs, want string
	}{
		{"IPv4 catch-all", "0.0.0.0/0",
			"The allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"both catch-alls", "0.0.0.0/0\n::/0",
			"The allowed IPs 0.0.0.0/0 and ::/0 allow every IPv4 and IPv6 address. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"prefix", "10.0.0.0/8", ""},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"name": {c.name}, "scope": {"vaults:read"}, "allowed_ips": {c.allowedIPs},
				"form_token": {h.d.users.NewFormToken(h.current(), createKeyPurpose)}}
			rec, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
			if err != nil || rec.Code != http.StatusOK {
				t.Fatalf("create: status %d, error %v; want 200", rec.Code, err)
			}
			if !strings.Contains(rec.Body.String(), `id="client-secret"`) {
				t.Fatal("the page does not show the new secret")
			}
			if got := noticeOf(t, rec.Body.String()); got != c.want {
				t.Errorf("notice = %q, want %q", got, c.want)
			}
		})
	}
}

// TestEditKeyCatchAllNotice saves a key's allowed IPs with the edit form and checks the
// redirect and the notice of the key list that follows it.
func TestEditKeyCatchAllNotice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	const saved = "The API key was saved. The change applies to its tokens on their next request."
	cases := []struct {
		name, allowedIPs, want string
	}{
		{"IPv6 catch-all beside an IPv4 entry", "::/0\n192.0.2.7",
			saved + " The allowed IP ::/0 allows every IPv6 address, but IPv4 addresses are rejected unless another entry covers them. " +
				"An empty list of allowed IPs already allows any address. To get one, leave the Allowed IP addresses field empty."},
		{"address", "192.0.2.7", saved},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/dashboard/keys/" + k.ClientID
			form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "allowed_ips": {c.allowedIPs}}
			rec, err := h.postForm(t, h.d.handleEditKey, path, k.ClientID, form, h.current())
			if err != nil || rec.Code != http.StatusSeeOther {
				t.Fatalf("edit: status %d, error %v; want 303", rec.Code, err)
			}
			location := rec.Header().Get("Location")
			wantLocation := "/dashboard/keys?saved=" + k.ClientID + "&notice=key-updated"
			if location != wantLocation {
				t.Fatalf("edit: Location %q, want %q", location, wantLocation)
			}
			if got := noticeOf(t, h.keyListAt(t, location)); got != c.want {
				t.Errorf("notice = %q, want %q", got, c.want)
			}
		})
	}
}

// TestKeyListSavedOtherKey checks that the key list warns about no key that the saved
// parameter names unless the key is the signed-in account's, so that a crafted link
// shows nothing about other accounts.
func TestKeyListSavedOtherKey(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	createAccount(t, h.auth, h.d.cfg.Store, other)
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: other.ID, Name: "theirs", AllowedIPs: []string{"0.0.0.0/0"}})
	if err != nil {
		t.Fatal(err)
	}
	const saved = "The API key was saved. The change applies to its tokens on their next request."
	for _, id := range []string{k.ClientID, iogate.NewClientID(), "not-a-client-id"} {
		target := "/dashboard/keys?saved=" + url.QueryEscape(id) + "&notice=key-updated"
		if got := noticeOf(t, h.keyListAt(t, target)); got != saved {
			t.Errorf("%s: notice = %q, want %q", target, got, saved)
		}
	}
}

// keyListAt returns the key list page at target, a path with a query.
func (h *dashboardHarness) keyListAt(t *testing.T, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.d.handleKeyList(rec, httptest.NewRequest(http.MethodGet, target, nil), h.current()); err != nil {
		t.Fatalf("handleKeyList %s: %v", target, err)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("key list %s: status %d", target, rec.Code)
	}
	return rec.Body.String()
}
