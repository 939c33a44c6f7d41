package http

import (
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/user"
	_ "modernc.org/sqlite"
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
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw := make([]byte, iogate.MasterKeySize)
	rand.Read(raw)
	master, _ := iogate.NewMasterKey(raw)
	a, err := auth.New(ctx, db, master, auth.Config{Issuer: "https://iogate.test"})
	if err != nil {
		t.Fatal(err)
	}
	h := &dashboardHarness{auth: a, path: path, now: time.Now()}
	users, err := user.New(ctx, db, master, user.Config{Now: func() time.Time { return h.now }, AuditChain: a.AuditChain()})
	if err != nil {
		t.Fatal(err)
	}
	h.account = &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	createAccount(t, a, db, h.account)
	h.owner = &iogate.User{ID: iogate.NewID(), AccountID: h.account.ID, Email: "owner@acme.test", Role: iogate.RoleOwner}
	h.d, err = NewDashboard(DashboardConfig{Users: users, Auth: a, Store: db, Log: slog.New(slog.DiscardHandler),
		PublicURL: "https://iogate.test", KeyAgeWarning: keyAgeWarning})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// current returns a signed-in owner's request state, as the session wrapper builds it.
func (h *dashboardHarness) current() *user.Current {
	return &user.Current{ID: "test-session", User: h.owner, Account: h.account,
		Session: &iogate.Session{Stage: iogate.SessionSignedIn, ConfirmedAt: h.now}}
}

func (h *dashboardHarness) keyList(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.d.handleKeyList(rec, httptest.NewRequest(http.MethodGet, "/dashboard/keys", nil), h.current()); err != nil {
		t.Fatalf("handleKeyList: %v", err)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("key list: status %d", rec.Code)
	}
	return rec.Body.String()
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
	// No store method marks a key exposed yet, so the test writes the column directly.
	raw, err := sql.Open("sqlite", sqliteDSN(h.path))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE api_keys SET exposed = 1 WHERE client_id = ?`, leaked.ClientID); err != nil {
		t.Fatal(err)
	}

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

// sqliteDSN opens the harness database beside the store, waiting for its writer.
func sqliteDSN(p string) string { return "file:" + p + "?_pragma=busy_timeout(5000)" }

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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/dashboard/keys", strings.NewReader(c.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			f := newKeyForm()
			readKeyForm(r, f)
			if got := f.Fields[c.field]; !strings.Contains(got, c.want) {
				t.Errorf("error on %s = %q, want it to contain %q (all errors: %v)", c.field, got, c.want, f.Fields)
			}
		})
	}
}

func TestRotateFormPostedTwice(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, error) {
		form := "grace=24h&generation=1"
		r := httptest.NewRequest(http.MethodPost, "/dashboard/keys/"+k.ClientID+"/rotate", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetPathValue("id", k.ClientID)
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		err := h.d.handleRotateKey(rec, r, h.current())
		return rec.Code, err
	}
	if code, err := post(); err != nil || code != http.StatusOK {
		t.Fatalf("first rotation: status %d, error %v; want 200", code, err)
	}
	if _, err := post(); iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Errorf("the same form posted again: error %v, want a conflict", err)
	}
	got, err := h.d.cfg.Store.FindAPIKey(ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretGeneration != 2 {
		t.Errorf("secret generation after a repeated post = %d, want 2 (one rotation)", got.SecretGeneration)
	}
}
