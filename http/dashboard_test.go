package http

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/user"
)

// dashboardHarness is a dashboard on a fresh SQLite database with one account and its
// owner, whose user service runs on a clock the test sets.
type dashboardHarness struct {
	d       *Dashboard
	auth    *auth.Service
	path    string
	account *iogate.Account
	owner   *iogate.User
	now     time.Time
}

func newDashboardHarness(t *testing.T, keyAgeWarning time.Duration) *dashboardHarness {
	t.Helper()
	return newDashboardHarnessOn(t, keyAgeWarning, func(db iogate.Store) iogate.Store { return db })
}

// newDashboardHarnessOn is newDashboardHarness with every part on the store that wrap
// returns for the SQLite store.
func newDashboardHarnessOn(t *testing.T, keyAgeWarning time.Duration, wrap func(iogate.Store) iogate.Store) *dashboardHarness {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	sqliteDB, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqliteDB.Close() })
	db := wrap(sqliteDB)
	h := &dashboardHarness{path: path, now: time.Now()}
	h.d, h.auth, _ = newTestDashboard(t, db, func() time.Time { return h.now }, keyAgeWarning)
	h.account = &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	createAccount(t, h.auth, db, h.account)
	h.owner = &iogate.User{ID: iogate.NewID(), AccountID: h.account.ID, Email: "owner@acme.test", Role: iogate.RoleOwner}
	return h
}

// newTestDashboard returns a dashboard on db under a new master key, with its auth and
// user services. The user service reads the time from now.
func newTestDashboard(t *testing.T, db iogate.Store, now func() time.Time, keyAgeWarning time.Duration) (*Dashboard, *auth.Service, *user.Service) {
	t.Helper()
	return newTestDashboardWith(t, db, now, keyAgeWarning, auth.Config{})
}

// newTestDashboardWith is newTestDashboard with the auth service configured by engine,
// whose Issuer it sets.
func newTestDashboardWith(t *testing.T, db iogate.Store, now func() time.Time, keyAgeWarning time.Duration, engine auth.Config) (*Dashboard, *auth.Service, *user.Service) {
	t.Helper()
	ctx := context.Background()
	raw := make([]byte, iogate.MasterKeySize)
	rand.Read(raw)
	master, _ := iogate.NewMasterKey(raw)
	engine.Issuer = "https://iogate.test"
	a, err := auth.New(ctx, db, master, engine)
	if err != nil {
		t.Fatal(err)
	}
	users, err := user.New(ctx, db, master, user.Config{Now: now, AuditChain: a.AuditChain()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDashboard(DashboardConfig{Users: users, Auth: a, Store: db, Log: slog.New(slog.DiscardHandler),
		PublicURL: "https://iogate.test", KeyAgeWarning: keyAgeWarning})
	if err != nil {
		t.Fatal(err)
	}
	return d, a, users
}

// current returns a signed-in owner's request state, as the session wrapper builds it.
func (h *dashboardHarness) current() *user.Current {
	return &user.Current{ID: "test-session", User: h.owner, Account: h.account,
		Session: &iogate.Session{Stage: iogate.SessionSignedIn, ConfirmedAt: h.now, ExpiresAt: h.now.Add(12 * time.Hour)}}
}

func (h *dashboardHarness) keyList(t *testing.T) string {
	t.Helper()
	return h.keyListAt(t, "/dashboard/keys")
}

func TestKeyListWarnings(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	if _, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "fresh"}); err != nil {
		t.Fatal(err)
	}
	leaked, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	h.markExposed(t, leaked)

	body := h.keyList(t)
	if n := strings.Count(body, "Exposed: rotate now"); n != 1 {
		t.Errorf("%d exposed warnings, want 1 for the leaked key", n)
	}
	if strings.Contains(body, "Older than 90 days") {
		t.Error("a new key is flagged as older than 90 days")
	}
	if !strings.Contains(body, "1 key needs attention") {
		t.Error("the summary does not count the one exposed key")
	}

	h.now = h.now.Add(91*24*time.Hour + time.Hour)
	body = h.keyList(t)
	if n := strings.Count(body, "Older than 90 days"); n != 2 {
		t.Errorf("%d age warnings 91 days later, want 2", n)
	}
	if !strings.Contains(body, "2 keys need attention") {
		t.Error("91 days later, the summary does not count both keys")
	}
	if !strings.Contains(body, "91 days") {
		t.Error("91 days later, the secret age does not say 91 days")
	}
}

// markExposed records that a valid credential of the current secret of k arrived over
// plain HTTP.
func (h *dashboardHarness) markExposed(t *testing.T, k *iogate.APIKey) {
	t.Helper()
	exposure := auth.Exposure{ClientID: k.ClientID, Generation: k.SecretGeneration, Kind: "client_secret"}
	if err := h.auth.MarkExposed(context.Background(), exposure, false); err != nil {
		t.Fatalf("MarkExposed: %v", err)
	}
}

// TestKeyListExposureAfterRotation rotates exposed keys, one with no grace period and one
// with an hour. The first loses its warning at once, the second when the hour ends.
func TestKeyListExposureAfterRotation(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	var keys []*iogate.APIKey
	for _, name := range []string{"retired", "in-grace"} {
		k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		h.markExposed(t, k)
		keys = append(keys, k)
	}
	if body := h.keyList(t); strings.Count(body, "Exposed: rotate now") != 2 || !strings.Contains(body, "2 keys need attention") {
		t.Fatalf("key list before the rotations does not warn about both exposed keys:\n%s", body)
	}

	if _, _, err := h.auth.RotateKey(ctx, keys[0].ClientID, 0); err != nil {
		t.Fatal(err)
	}
	rotated, _, err := h.auth.RotateKey(ctx, keys[1].ClientID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := h.keyList(t)
	if n := strings.Count(body, "Exposed: rotate now"); n != 0 {
		t.Errorf("%d warnings to rotate after both keys were rotated, want 0", n)
	}
	until := "Exposed: old secret works until <span class=\"nowrap\">" + formatShortDate(rotated.Previous.ExpiresAt) + "</span>"
	if n := strings.Count(body, until); n != 1 {
		t.Errorf("%d warnings %q, want 1 for the key in its grace period", n, until)
	}
	if !strings.Contains(body, "Rotate again to retire the exposed secret at once") {
		t.Error("the warning of the key in its grace period does not say how to retire the exposed secret sooner")
	}
	if !strings.Contains(body, "1 key needs attention") {
		t.Error("during the grace period, the summary does not count the one key whose exposed secret still works")
	}

	h.now = rotated.Previous.ExpiresAt
	body = h.keyList(t)
	if strings.Contains(body, "Exposed:") {
		t.Error("an exposed warning remains after the grace period ended")
	}
	if strings.Contains(body, "need attention") || strings.Contains(body, "needs attention") {
		t.Error("the summary still counts keys after every exposed secret stopped working")
	}
}

func TestKeyFormFieldErrors(t *testing.T) {
	cases := []struct {
		name  string
		form  string
		field string
		want  string
	}{
		{"missing name", "name=&scope=vaults:read", "name", "Key name is required"},
		{"unknown scope", "name=x&scope=vaults:admin", "scope", `Unknown scope "vaults:admin"`},
		{"no scope", "name=x", "scope", "At least one scope"},
		{"leading zeros", "name=x&scope=vaults:read&allowed_ips=10.0.0.1%0A10.0.0.01", "allowed_ips", `Entry 2: Invalid allowed IP "10.0.0.01"`},
		{"host bits", "name=x&scope=vaults:read&allowed_ips=10.0.0.1/8", "allowed_ips", "host bits are set; the network is 10.0.0.0/8"},
		{"zone", "name=x&scope=vaults:read&allowed_ips=fe80::1%25eth0", "allowed_ips", "zones are not allowed"},
		{"bad expiry", "name=x&scope=vaults:read&expires_in=soon", "expires_in", `"soon" is not a duration`},
		{"short expiry", "name=x&scope=vaults:read&expires_in=5m", "expires_in", "at least 1h"},
		{"zero-width space in name", "name=ci%E2%80%8B&scope=vaults:read", "name", "Key name contains the invisible format character U+200B: remove it."},
		{"word joiner in description", "name=x&description=a%E2%81%A0b&scope=vaults:read", "description", "Key description contains the invisible format character U+2060: remove it."},
		{"line separator in description", "name=x&description=a%E2%80%A8b&scope=vaults:read", "description", "Key description contains the line or paragraph separator U+2028: remove it."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/dashboard/keys", strings.NewReader(c.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			f := newKeyForm()
			readKeyForm(r, f, nil)
			if got := f.Fields[c.field]; !strings.Contains(got, c.want) {
				t.Errorf("error on %s = %q, want it to contain %q (all errors: %v)", c.field, got, c.want, f.Fields)
			}
		})
	}
}

// postForm runs handler on a POST of form to path, as the session wrapper would, and returns
// the recorded response with the handler's error.
func (h *dashboardHarness) postForm(t *testing.T, handler pageHandler, path, clientID string, form url.Values, c *user.Current) (*httptest.ResponseRecorder, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		r.SetPathValue("id", clientID)
	}
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	return rec, handler(rec, r, c)
}

// keyCount returns how many keys the harness account has in the store.
func (h *dashboardHarness) keyCount(t *testing.T) int {
	t.Helper()
	keys, _, err := h.d.cfg.Store.ListAPIKeys(context.Background(), h.account.ID, iogate.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestCreateFormPostedTwice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "form_token": {h.d.users.NewFormToken(h.current(), createKeyPurpose)}}

	rec, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("first post: status %d, error %v; want 200", rec.Code, err)
	}
	if !strings.Contains(rec.Body.String(), `id="client-secret"`) {
		t.Fatal("first post does not show the new secret")
	}
	rec, err = h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
	if err != nil || rec.Code != http.StatusConflict {
		t.Fatalf("the same form posted again: status %d, error %v; want 409", rec.Code, err)
	}
	if body := rec.Body.String(); !strings.Contains(body, "no second key was created") || strings.Contains(body, "iogs_") {
		t.Errorf("page for the repeated post does not say the key exists, or shows a secret:\n%s", body)
	}
	if !strings.Contains(rec.Body.String(), `href="/dashboard/keys"`) {
		t.Error("page for the repeated post has no link to the key list")
	}
	if n := h.keyCount(t); n != 1 {
		t.Errorf("%d keys after the same form was posted twice, want 1", n)
	}
}

func TestCreateFormTokenChecked(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	other := h.current()
	other.ID = "another-session"
	cases := []struct {
		name  string
		token string
	}{
		{"missing token", ""},
		{"token of another session", h.d.users.NewFormToken(other, createKeyPurpose)},
		{"token of a rotation form", h.d.users.NewFormToken(h.current(), rotateKeyPurpose(iogate.NewClientID()))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "form_token": {c.token}}
			_, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
			if iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
				t.Errorf("post: error %v, want CodeInvalid", err)
			}
		})
	}
	if n := h.keyCount(t); n != 0 {
		t.Errorf("%d keys after posts with invalid form tokens, want 0", n)
	}
}

// TestCreateFormUnusedAfterFailure checks that a form whose key could not be created can
// be submitted again: here the account of the session no longer exists.
func TestCreateFormUnusedAfterFailure(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	c := h.current()
	c.Account = &iogate.Account{ID: iogate.NewID(), Name: "Gone", Status: iogate.AccountActive}
	token := h.d.users.NewFormToken(c, createKeyPurpose)
	form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "form_token": {token}}
	if _, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, c); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("post for a missing account: error %v, want CodeNotFound", err)
	}
	used, err := h.d.users.FormTokenUsed(context.Background(), c, createKeyPurpose, token)
	if err != nil || used {
		t.Errorf("form token after the failed creation: used %v, error %v; want unused", used, err)
	}
}

func TestRotateFormPostedTwice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/dashboard/keys/" + k.ClientID + "/rotate"
	form := url.Values{"grace": {"24h"}, "generation": {"1"}, "form_token": {h.d.users.NewFormToken(h.current(), rotateKeyPurpose(k.ClientID))}}

	rec, err := h.postForm(t, h.d.handleRotateKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("first rotation: status %d, error %v; want 200", rec.Code, err)
	}
	rec, err = h.postForm(t, h.d.handleRotateKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusConflict {
		t.Errorf("the same form posted again: status %d, error %v; want 409", rec.Code, err)
	}
	if body := rec.Body.String(); !strings.Contains(body, "This rotation form was already submitted") || strings.Contains(body, "iogs_") {
		t.Errorf("page for the repeated post does not say the key was rotated, or shows a secret:\n%s", body)
	}

	// A new form, loaded before the rotation, for example in another tab, is stale.
	stale := url.Values{"grace": {"24h"}, "generation": {"1"}, "form_token": {h.d.users.NewFormToken(h.current(), rotateKeyPurpose(k.ClientID))}}
	if _, err := h.postForm(t, h.d.handleRotateKey, path, k.ClientID, stale, h.current()); iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Errorf("a form shown for generation 1 posted after the rotation: error %v, want a conflict", err)
	}
	got, err := h.d.cfg.Store.FindAPIKey(ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretGeneration != 2 {
		t.Errorf("secret generation after repeated posts = %d, want 2 (one rotation)", got.SecretGeneration)
	}
}
