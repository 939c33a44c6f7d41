package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestDashboardSweepAtStart restarts a server whose store holds an idle session, the used
// setup and reset links and a pending invitation. The sweep at start must delete all but
// the invitation, and the swept reset link must still be rejected as before the sweep.
func TestDashboardSweepAtStart(t *testing.T) {
	d := startDashboard(t)
	var reset struct{ URL string }
	testenv.CLIJSON(t, d.srv.DataDir, &reset, "user", "reset", "--email", ownerEmail, "--url", d.base)
	resetURL, err := url.Parse(reset.URL)
	if err != nil {
		t.Fatalf("reset link %q does not parse: %v", reset.URL, err)
	}
	anon := d.client(t)
	form := anon.get(resetURL.RequestURI())
	p := anon.post("/dashboard/reset", form.csrf(t), url.Values{"token": {resetURL.Query().Get("token")},
		"password": {ownerPassword}, "password_confirm": {ownerPassword}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST the reset form: status %d, want 303; page: %s", p.status, p.text())
	}
	usedLink := anon.get(resetURL.RequestURI())
	if usedLink.status != http.StatusNotFound {
		t.Fatalf("GET the used reset link: status %d, want 404", usedLink.status)
	}

	w := d.signIn(t, ownerEmail, ownerPassword)
	users := w.get("/dashboard/users")
	if p := w.post("/dashboard/users", users.csrf(t), url.Values{"email": {"new@acme.test"}, "role": {"admin"}}); p.status >= 400 {
		t.Fatalf("invite a user: status %d", p.status)
	}
	dir := d.srv.DataDir
	if err := d.srv.Stop(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}
	if n := countRows(t, dir, "sessions"); n != 1 {
		t.Fatalf("%d sessions stored before the restart, want the 1 signed-in session", n)
	}
	// The sweep deletes a session an hour after it has ended, so the session is made to
	// have been unused for two hours, past the 30-minute idle timeout and that hour.
	db, ctx, closeDB := openDatabaseFile(t, dir)
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = last_seen_at - ?`, (2 * time.Hour).Microseconds()); err != nil {
		t.Fatalf("make the session idle: %v", err)
	}
	closeDB()

	srv := testenv.Start(t, dir, testenv.Options{})
	waitLog(t, srv, `"msg":"ended dashboard sessions swept","sessions":1}`)
	waitLog(t, srv, `"msg":"used and expired single-use links swept","links":2}`)
	if logs := srv.Logs(); strings.Contains(logs, `"form_tokens"`) {
		t.Errorf("the sweep logged form tokens, want none swept; log:\n%s", logs)
	}
	if n := countRows(t, dir, "sessions"); n != 0 {
		t.Errorf("%d sessions stored after the sweep, want 0", n)
	}
	if n := countRows(t, dir, "user_links"); n != 1 {
		t.Errorf("%d links stored after the sweep, want the 1 pending invitation", n)
	}

	fresh := (&dashboard{srv: srv, base: srv.URL}).client(t)
	swept := fresh.get(resetURL.RequestURI())
	if swept.status != usedLink.status || swept.text() != usedLink.text() {
		t.Errorf("GET the swept reset link: status %d, text %q; want %d, %q as before the sweep", swept.status, swept.text(), usedLink.status, usedLink.text())
	}
}

// TestSweepLogNamesRevocationsAndFeedRows restarts a server whose store holds the
// revocation of an expired access token and change-feed rows two days old. The sweep at
// start must delete them and log each kind with a message that names it.
func TestSweepLogNamesRevocationsAndFeedRows(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	tok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	if r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/revoke", formHeader(f.clientID, f.clientSecret), tokenForm(tok)); r.status != http.StatusOK {
		t.Fatalf("revoke: status %d, want 200", r.status)
	}
	dir := f.srv.DataDir
	if err := f.srv.Stop(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}

	// The sweep deletes a revocation an hour after its token expired, and a change-feed
	// row a day after it was written, so both are made older than that.
	db, ctx, closeDB := openDatabaseFile(t, dir)
	if _, err := db.ExecContext(ctx, `UPDATE revoked_tokens SET expires_at = expires_at - ?`, (3 * time.Hour).Microseconds()); err != nil {
		t.Fatalf("make the revoked token expire: %v", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE key_changes SET changed_at = changed_at - ?`, (48 * time.Hour).Microseconds()); err != nil {
		t.Fatalf("age the change feed: %v", err)
	}
	closeDB()
	if n := countRows(t, dir, "revoked_tokens"); n != 1 {
		t.Fatalf("%d revocations stored before the restart, want 1", n)
	}
	changes := countRows(t, dir, "key_changes")
	if changes == 0 {
		t.Fatal("no change-feed rows stored before the restart, want the key's")
	}

	srv := testenv.Start(t, dir, testenv.Options{})
	waitLog(t, srv, `"msg":"revocations of expired access tokens swept","revoked_tokens":1}`)
	waitLog(t, srv, fmt.Sprintf(`"msg":"change-feed rows older than a day swept","key_changes":%d}`, changes))
	if logs := srv.Logs(); strings.Count(logs, ` swept",`) != 2 {
		t.Errorf("the sweep logged other lines than those of the revocation and the feed rows; log:\n%s", logs)
	}
	if n := countRows(t, dir, "revoked_tokens"); n != 0 {
		t.Errorf("%d revocations stored after the sweep, want 0", n)
	}
}

// openDatabaseFile opens the SQLite store of the data directory dir directly, as an operator
// with the sqlite3 shell would, and returns it with a context that ends after 30 seconds,
// and a function that closes both.
func openDatabaseFile(t *testing.T, dir string) (*sql.DB, context.Context, func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "iogate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	return db, ctx, func() {
		cancel()
		db.Close()
	}
}

// countRows returns how many rows table has in the SQLite store of dir.
func countRows(t *testing.T, dir, table string) int {
	t.Helper()
	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count the rows of %s: %v", table, err)
	}
	return n
}
