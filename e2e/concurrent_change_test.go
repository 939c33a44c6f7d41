package e2e

// Tests of changes that race each other or end early on a real server on loopback: user
// changes during TOTP requests, rotation forms posted at once, and exports that a client
// stops reading.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestDemotionSurvivesTOTPRequests checks that a demotion stays in force while the demoted
// user has TOTP enrolment requests in flight. A request that wrote back the whole user it
// loaded when it authenticated, role included, would restore the old role.
func TestDemotionSurvivesTOTPRequests(t *testing.T) {
	d := startDashboard(t)
	owner := d.signIn(t, ownerEmail, ownerPassword)
	admin := d.inviteAndJoinFrom(t, "127.0.0.2", "admin@acme.test", "admin")
	target := d.findUser(t, "admin@acme.test")
	if target == nil {
		t.Fatal("user list lacks admin@acme.test")
	}
	adminCSRF := admin.get("/dashboard/security").csrf(t)

	const rounds = 15
	for round := range rounds {
		stop := postRepeatedly(admin, "/dashboard/security/totp", adminCSRF)
		time.Sleep(100 * time.Millisecond)
		setRole(t, owner, target.ID, "viewer")
		time.Sleep(100 * time.Millisecond)
		stop()

		if role := d.findUser(t, "admin@acme.test").Role; role != "viewer" {
			t.Fatalf("round %d: role after the owner demoted the admin to viewer while the admin began TOTP enrolments = %s, want viewer", round+1, role)
		}
		setRole(t, owner, target.ID, "admin")
	}
}

// setRole changes the role of the user with id through the users page of w.
func setRole(t *testing.T, w *webClient, id, role string) {
	t.Helper()
	p := w.post("/dashboard/users/"+id+"/role", w.get("/dashboard/users").csrf(t), url.Values{"role": {role}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("change role to %s: status %d, want 303; page %s", role, p.status, p.text())
	}
}

// TestResetSurvivesTOTPRequests checks that a password reset locks out the holder of the
// old password, also while their session has TOTP enrolment requests in flight, which
// must not write the old password hash back.
func TestResetSurvivesTOTPRequests(t *testing.T) {
	d := startDashboard(t)
	const email = "victim@acme.test"
	d.inviteAndAccept(t, "127.0.0.2", email, "admin")
	password := joinPassword("admin")

	// Each round signs in twice, once with the old password, so a few rounds stay within
	// the per-user sign-in limit. Without column-wise user updates the first round fails.
	const rounds = 3
	for round := range rounds {
		attacker := d.signInFrom(t, "127.0.0.2", email, password)
		csrf := attacker.get("/dashboard/security").csrf(t)

		stop := postRepeatedly(attacker, "/dashboard/security/totp", csrf)
		time.Sleep(100 * time.Millisecond)
		newPassword := fmt.Sprintf("reset password number %d", round+1)
		resetPassword(t, d, email, newPassword)
		time.Sleep(100 * time.Millisecond)
		stop()

		w := d.clientAt(t, "127.0.0.3")
		p := w.get("/dashboard/signin")
		p = w.post("/dashboard/signin", p.csrf(t), url.Values{"email": {email}, "password": {password}})
		if p.status == http.StatusSeeOther {
			t.Fatalf("round %d: the password from before the reset still signs in after the reset", round+1)
		}
		password = newPassword
	}
}

// resetPassword resets the password of email through a link that the CLI prints.
func resetPassword(t *testing.T, d *dashboard, email, password string) {
	t.Helper()
	var out struct{ URL string }
	testenv.CLIJSON(t, d.srv.DataDir, &out, "user", "reset", "--email", email, "--url", d.base)
	u, err := url.Parse(out.URL)
	if err != nil {
		t.Fatalf("user reset printed a link that does not parse: %v", err)
	}
	w := d.clientAt(t, "127.0.0.4")
	p := w.get(u.RequestURI())
	p = w.post("/dashboard/reset", p.csrf(t), url.Values{"token": {u.Query().Get("token")}, "password": {password}, "password_confirm": {password}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("reset password: status %d, want 303; page %s", p.status, p.text())
	}
}

// postRepeatedly posts an empty form with csrf to path from four goroutines, each at most 500
// times, until the returned function is called. That function waits for the goroutines.
func postRepeatedly(w *webClient, path, csrf string) func() {
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for range 500 {
				select {
				case <-stop:
					return
				default:
				}
				w.postRaw(path, url.Values{"csrf": {csrf}}, nil)
			}
		}()
	}
	return func() {
		close(stop)
		workers.Wait()
	}
}

// TestAbortedExportNotStoreError checks that a client that stops reading an audit export
// does not count in iogate_store_errors_total, which operators alert on, and is logged at
// info level, not as an error. Otherwise any signed-in user, viewers included, could raise
// that counter and error-level alerts at will.
func TestAbortedExportNotStoreError(t *testing.T) {
	d := startDashboard(t)
	owner := d.signIn(t, ownerEmail, ownerPassword)
	k := createKey(t, d.srv.DataDir, d.accountID, "noisy")
	waitForKey(t, d.srv, k.ClientID, k.ClientSecret)
	// Denied token requests fill the account's log, so that the export outgrows the
	// buffers between the server and the client.
	for range 3000 {
		do(t, d.srv.Client, "POST", d.srv.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, "not the secret"))
	}
	if !pollUntil(10*time.Second, func() bool { return countRows(t, d.srv.DataDir, "audit_records") >= 3000 }) {
		t.Fatal("the 3000 token.denied records were not written within 10s")
	}

	for range 5 {
		req, err := http.NewRequest(http.MethodGet, d.base+"/dashboard/audit/export?format=json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := owner.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET audit export: status %d, want 200", resp.StatusCode)
		}
		resp.Body.Read(make([]byte, 512))
		resp.Body.Close()
	}
	// The server notices each closed connection when a write fails, and logs it.
	const aborted = `"level":"INFO","msg":"audit export aborted by the client"`
	logged := pollUntil(10*time.Second, func() bool {
		return strings.Count(d.srv.Logs(), aborted) >= 5
	})
	if !logged {
		t.Fatalf("the server did not log the 5 aborted exports as %s within 10s", aborted)
	}
	if n := strings.Count(d.srv.Logs(), `"msg":"audit export failed"`); n != 0 {
		t.Errorf("the server logged %d aborted exports as failed, want 0", n)
	}
	if n := storeErrors(t, d.srv, "audit_records"); n != 0 {
		t.Errorf("iogate_store_errors_total{operation=\"audit_records\"} = %v after 5 exports that the client stopped reading, want 0", n)
	}
}

// storeErrors returns the value of iogate_store_errors_total for operation, 0 when the
// server has not counted any.
func storeErrors(t *testing.T, srv *testenv.Server, operation string) float64 {
	t.Helper()
	series := `iogate_store_errors_total{operation="` + operation + `"} `
	for _, line := range strings.Split(metrics(t, srv), "\n") {
		if value, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s has value %q", series, value)
			}
			return n
		}
	}
	return 0
}

// TestConcurrentRotationFormsRotateOnce checks that two rotation forms of one key, loaded
// before either was posted (two tabs, or two owners) and posted at the same time, rotate it
// once. A second rotation would retire the secret that the first one showed.
func TestConcurrentRotationFormsRotateOnce(t *testing.T) {
	d := startDashboard(t)
	k := createKey(t, d.srv.DataDir, d.accountID, "settlement")
	w := d.signIn(t, ownerEmail, ownerPassword)
	path := "/dashboard/keys/" + k.ClientID + "/rotate"

	const rounds = 10
	for round := range rounds {
		var forms [2]url.Values
		for i := range forms {
			page := w.get(path)
			forms[i] = url.Values{"csrf": {page.csrf(t)}, "form_token": {page.hidden(t, "form_token")},
				"generation": {page.hidden(t, "generation")}, "grace": {"0"}}
		}
		var statuses [2]int
		var errs [2]error
		var posts sync.WaitGroup
		for i := range forms {
			posts.Add(1)
			go func() {
				defer posts.Done()
				statuses[i], errs[i] = w.postStatus(path, forms[i])
			}()
		}
		posts.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if statuses == [2]int{http.StatusOK, http.StatusOK} {
			t.Fatalf("round %d: two rotation forms loaded at generation %s both rotated the key, so the first new secret shown was retired at once", round+1, forms[0].Get("generation"))
		}
		// One form rotates and the other is turned away as stale, never with a 5xx.
		if statuses != [2]int{http.StatusOK, http.StatusConflict} && statuses != [2]int{http.StatusConflict, http.StatusOK} {
			t.Errorf("round %d: statuses %v, want one 200 and one 409", round+1, statuses)
		}
		if got, want := w.get(path).hidden(t, "generation"), strconv.Itoa(mustAtoi(t, forms[0].Get("generation"))+1); got != want {
			t.Errorf("round %d: generation after the two forms = %s, want %s: one rotation", round+1, got, want)
		}
	}
}

// mustAtoi parses a decimal number that the server put in a form, failing the test
// otherwise.
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("form value %q is not a number: %v", s, err)
	}
	return n
}
