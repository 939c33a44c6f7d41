package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

func TestDashboardSessionCookie(t *testing.T) {
	d := startDashboard(t)
	w := d.client(t)
	p := w.get("/dashboard/signin")
	p = w.post("/dashboard/signin", p.csrf(t), url.Values{"email": {ownerEmail}, "password": {ownerPassword}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign in: status %d, want 303", p.status)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "__Host-iogate_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("sign-in response sets no __Host-iogate_session cookie")
	}
	if !session.Secure {
		t.Error("session cookie lacks Secure")
	}
	if !session.HttpOnly {
		t.Error("session cookie lacks HttpOnly")
	}
	if session.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie SameSite = %v, want Strict", session.SameSite)
	}
	if session.Path != "/" || session.Domain != "" {
		t.Errorf("session cookie Path %q Domain %q, want / and none (the __Host- prefix needs both)", session.Path, session.Domain)
	}
	raw := p.header.Values("Set-Cookie")
	if len(raw) == 0 || !strings.Contains(strings.Join(raw, "\n"), "SameSite=Strict") {
		t.Error("Set-Cookie header does not spell SameSite=Strict")
	}

	t.Run("session ID is stored hashed", func(t *testing.T) {
		id := w.cookie("__Host-iogate_session")
		if len(id) < 40 {
			t.Fatalf("session ID has %d characters, want a 256-bit random value", len(id))
		}
		if fileContains(t, d.srv.DataDir, id) {
			t.Error("the session ID appears in the data directory; only its hash may be stored")
		}
	})

	t.Run("sign-out ends the session server-side", func(t *testing.T) {
		id := w.cookie("__Host-iogate_session")
		keys := w.get("/dashboard/keys")
		if keys.status != http.StatusOK {
			t.Fatalf("GET /dashboard/keys: status %d, want 200", keys.status)
		}
		p := w.post("/dashboard/signout", keys.csrf(t), nil)
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign out: status %d, want 303", p.status)
		}
		// Replay the old cookie from a fresh client, as a thief who copied it would.
		thief := d.client(t)
		u, _ := url.Parse(d.base)
		thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-iogate_session", Value: id, Path: "/", Secure: true}})
		if p := thief.get("/dashboard/keys"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/signin") {
			t.Errorf("old session cookie after sign-out: status %d location %q, want a redirect to sign-in", p.status, p.location)
		}
	})
}

func TestDashboardSecurityHeaders(t *testing.T) {
	d := startDashboard(t)
	w := d.signIn(t, ownerEmail, ownerPassword)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	handlerAttr := regexp.MustCompile(`\son[a-z]+\s*=`)
	for _, path := range []string{"/dashboard/signin", "/dashboard/keys", "/dashboard/keys/new", "/dashboard/users", "/dashboard/security", "/dashboard/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			p := w.get(path)
			if path == "/dashboard/signin" {
				p = d.client(t).get(path)
			}
			csp := p.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline or eval script", csp)
			}
			if got := p.header.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options = %q, want DENY", got)
			}
			if got := p.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := p.header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy = %q, want no-referrer", got)
			}
			if inlineScript.MatchString(p.body) {
				t.Error("page has an inline script")
			}
			if handlerAttr.MatchString(p.body) {
				t.Error("page has an inline event handler attribute")
			}
			if strings.Contains(p.body, " style=") {
				t.Error("page has an inline style attribute, which the CSP blocks")
			}
		})
	}

	t.Run("API paths stay JSON", func(t *testing.T) {
		p := w.get("/v1/vaults")
		if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("GET /v1/vaults Content-Type = %q, want problem+json", ct)
		}
		root := w.get("/")
		if root.status != http.StatusSeeOther || root.location != "/dashboard/" {
			t.Errorf("GET /: status %d location %q, want 303 to /dashboard/", root.status, root.location)
		}
	})
}

func TestDashboardCSRF(t *testing.T) {
	d := startDashboard(t)
	w := d.signIn(t, ownerEmail, ownerPassword)
	newKey := w.get("/dashboard/keys/new")
	// Every post carries the form's valid single-use token, so that only the CSRF token
	// decides.
	form := func() url.Values {
		return url.Values{"name": {"evil"}, "scope": {"vaults:read"}, "confirm": {ownerPassword}, "form_token": {newKey.hidden(t, "form_token")}}
	}
	good := newKey.csrf(t)
	other := d.signIn(t, ownerEmail, ownerPassword)
	otherToken := other.get("/dashboard/keys/new").csrf(t)

	cases := []struct {
		name   string
		token  string
		header map[string]string
	}{
		{"missing token", "", nil},
		{"wrong token", "AAAA" + good[4:], nil},
		{"token of another session", otherToken, nil},
		{"valid token from another origin", good, map[string]string{"Origin": "https://attacker.test"}},
		{"valid token from a cross-site fetch", good, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := form()
			if c.token != "" {
				f.Set("csrf", c.token)
			}
			p := w.postRaw("/dashboard/keys", f, c.header)
			if p.status != http.StatusForbidden {
				t.Fatalf("POST /dashboard/keys: status %d, want 403", p.status)
			}
			if !strings.Contains(p.text(), "did not come from this site") {
				t.Errorf("page text %q does not explain the rejection", p.text())
			}
		})
	}
	if n := countKeys(t, d); n != 0 {
		t.Fatalf("%d keys exist after rejected posts, want 0", n)
	}

	t.Run("valid token", func(t *testing.T) {
		f := form()
		f.Set("csrf", good)
		p := w.postRaw("/dashboard/keys", f, map[string]string{"Origin": d.base})
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="client-secret"`) {
			t.Fatalf("POST /dashboard/keys with its token: status %d, want 200 with the new secret", p.status)
		}
	})

	t.Run("sign-in form needs its token", func(t *testing.T) {
		fresh := d.client(t)
		p := fresh.postRaw("/dashboard/signin", url.Values{"email": {ownerEmail}, "password": {ownerPassword}}, nil)
		if p.status != http.StatusForbidden {
			t.Errorf("POST /dashboard/signin without token: status %d, want 403", p.status)
		}
	})
}

func countKeys(t *testing.T, d *dashboard) int {
	t.Helper()
	var list struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "key", "list", "--account", d.accountID)
	return len(list.Data)
}

func TestDashboardSignInRateLimit(t *testing.T) {
	d := startDashboard(t)

	t.Run("per account", func(t *testing.T) {
		w := d.client(t)
		token := w.get("/dashboard/signin").csrf(t)
		statuses := []int{}
		for range 6 {
			p := w.post("/dashboard/signin", token, url.Values{"email": {ownerEmail}, "password": {"wrong password here"}})
			statuses = append(statuses, p.status)
		}
		for i, s := range statuses[:5] {
			if s != http.StatusUnauthorized {
				t.Errorf("attempt %d: status %d, want 401", i+1, s)
			}
		}
		if statuses[5] != http.StatusTooManyRequests {
			t.Errorf("attempt 6 on one account: status %d, want 429", statuses[5])
		}
		// The right password is refused too while the account is limited.
		p := w.post("/dashboard/signin", token, url.Values{"email": {ownerEmail}, "password": {ownerPassword}})
		if p.status != http.StatusTooManyRequests {
			t.Errorf("right password while limited: status %d, want 429", p.status)
		}
		if p.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})

	t.Run("per address", func(t *testing.T) {
		w := d.client(t)
		token := w.get("/dashboard/signin").csrf(t)
		// The per-account test spent 7 of this address's 10 attempts.
		var last int
		for i := range 4 {
			p := w.post("/dashboard/signin", token, url.Values{"email": {"nobody" + string(rune('a'+i)) + "@acme.test"}, "password": {"wrong password here"}})
			last = p.status
			if i < 3 && p.status != http.StatusUnauthorized {
				t.Errorf("attempt %d from the address: status %d, want 401", i+8, p.status)
			}
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("attempt 11 from one address: status %d, want 429", last)
		}
	})

	t.Run("unknown and known emails fail alike", func(t *testing.T) {
		d2 := startDashboard(t)
		w := d2.client(t)
		token := w.get("/dashboard/signin").csrf(t)
		known := w.post("/dashboard/signin", token, url.Values{"email": {ownerEmail}, "password": {"wrong password here"}})
		unknown := w.post("/dashboard/signin", token, url.Values{"email": {"ghost@acme.test"}, "password": {"wrong password here"}})
		if known.status != unknown.status || !strings.Contains(known.text(), "email or password is incorrect") || !strings.Contains(unknown.text(), "email or password is incorrect") {
			t.Errorf("known email: %d %q; unknown email: %d %q; want the same status and message", known.status, known.text(), unknown.status, unknown.text())
		}
	})
}

func TestDashboardSessionExpiry(t *testing.T) {
	t.Run("idle timeout", func(t *testing.T) {
		d := startDashboard(t, "--session-idle-timeout", "1s", "--session-max-age", "1h")
		w := d.signIn(t, ownerEmail, ownerPassword)
		if p := w.get("/dashboard/keys"); p.status != http.StatusOK {
			t.Fatalf("GET /dashboard/keys right after sign-in: status %d, want 200", p.status)
		}
		time.Sleep(1500 * time.Millisecond)
		p := w.get("/dashboard/keys")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/signin") {
			t.Errorf("after 1.5s idle: status %d location %q, want a redirect to sign-in", p.status, p.location)
		}
	})

	t.Run("absolute timeout", func(t *testing.T) {
		d := startDashboard(t, "--session-idle-timeout", "2s", "--session-max-age", "3s")
		w := d.signIn(t, ownerEmail, ownerPassword)
		start := time.Now()
		// Keep the session busy, so only the absolute limit can end it.
		ended := pollUntil(6*time.Second, func() bool {
			time.Sleep(300 * time.Millisecond)
			return w.get("/dashboard/keys").status != http.StatusOK
		})
		if !ended {
			t.Fatal("an active session still works 6s after sign-in with --session-max-age 3s")
		}
		if elapsed := time.Since(start); elapsed < 2500*time.Millisecond {
			t.Errorf("session ended after %s, before its 3s maximum age", elapsed)
		}
	})
}

func TestDashboardRoles(t *testing.T) {
	d := startDashboard(t)
	viewer := d.inviteAndJoin(t, "viewer@acme.test", "viewer")

	keysPage := viewer.get("/dashboard/keys")
	if keysPage.status != http.StatusOK {
		t.Fatalf("viewer GET /dashboard/keys: status %d, want 200", keysPage.status)
	}
	if strings.Contains(keysPage.body, `href="/dashboard/keys/new"`) {
		t.Error("the key list offers a viewer the create button")
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/dashboard/keys/new"},
		{"POST", "/dashboard/keys"},
		{"POST", "/dashboard/users"},
	} {
		var p webPage
		if c.method == "GET" {
			p = viewer.get(c.path)
		} else {
			p = viewer.post(c.path, keysPage.csrf(t), url.Values{"name": {"x"}, "scope": {"vaults:read"}, "email": {"x@acme.test"}, "role": {"owner"}})
		}
		if p.status != http.StatusForbidden {
			t.Errorf("viewer %s %s: status %d, want 403", c.method, c.path, p.status)
		}
	}

	t.Run("admin manages keys but not users", func(t *testing.T) {
		admin := d.inviteAndJoin(t, "admin@acme.test", "admin")
		if p := admin.get("/dashboard/keys/new"); p.status != http.StatusOK {
			t.Errorf("admin GET /dashboard/keys/new: status %d, want 200", p.status)
		}
		token := admin.get("/dashboard/users").csrf(t)
		if p := admin.post("/dashboard/users", token, url.Values{"email": {"y@acme.test"}, "role": {"owner"}}); p.status != http.StatusForbidden {
			t.Errorf("admin invites a user: status %d, want 403", p.status)
		}
	})

	t.Run("owner removes a user", func(t *testing.T) {
		gone := d.inviteAndJoin(t, "leaver@acme.test", "admin")
		owner := d.signIn(t, ownerEmail, ownerPassword)
		users := owner.get("/dashboard/users")
		m := regexp.MustCompile(`href="/dashboard/users/([0-9a-f-]{36})/remove"`).FindAllStringSubmatch(users.body, -1)
		var leaverID string
		for _, id := range m {
			if p := owner.get("/dashboard/users/" + id[1] + "/remove"); strings.Contains(p.text(), "leaver@acme.test") {
				leaverID = id[1]
			}
		}
		if leaverID == "" {
			t.Fatal("no remove page names leaver@acme.test")
		}
		p := owner.post("/dashboard/users/"+leaverID+"/remove", users.csrf(t), nil)
		if p.status != http.StatusSeeOther {
			t.Fatalf("remove user: status %d, want 303", p.status)
		}
		if p := gone.get("/dashboard/keys"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/signin") {
			t.Errorf("removed user's session: status %d location %q, want a redirect to sign-in", p.status, p.location)
		}
		if strings.Contains(owner.get("/dashboard/users").body, "leaver@acme.test") {
			t.Error("the users page still lists the removed user")
		}
	})

	t.Run("last owner cannot be demoted", func(t *testing.T) {
		owner := d.signIn(t, ownerEmail, ownerPassword)
		users := owner.get("/dashboard/users")
		id := regexp.MustCompile(`/dashboard/users/([0-9a-f-]+)/role`).FindAllStringSubmatch(users.body, -1)
		var ownerID string
		for _, m := range id {
			if strings.Contains(users.body, `id="role-`+m[1]+`"`) && ownerRow(users.body, m[1]) {
				ownerID = m[1]
			}
		}
		if ownerID == "" {
			t.Fatal("users page lists no owner row")
		}
		p := owner.post("/dashboard/users/"+ownerID+"/role", users.csrf(t), url.Values{"role": {"viewer"}})
		if p.status != http.StatusConflict || !strings.Contains(p.text(), "at least one owner") {
			t.Errorf("demote the last owner: status %d %q, want 409 saying an owner is needed", p.status, p.text())
		}
	})
}

// ownerRow reports whether the users page row of id has the owner role selected.
func ownerRow(body, id string) bool {
	i := strings.Index(body, `id="role-`+id+`"`)
	if i < 0 {
		return false
	}
	end := strings.Index(body[i:], "</select>")
	return end > 0 && strings.Contains(body[i:i+end], `value="owner" selected`)
}

// inviteAndJoin invites email with role through the CLI, accepts the invitation over HTTP
// with the password joinPassword(role) and returns a client signed in as the new user.
func (d *dashboard) inviteAndJoin(t *testing.T, email, role string) *webClient {
	t.Helper()
	return d.inviteAndJoinFrom(t, "", email, role)
}

// joinPassword returns the password that inviteAndJoin chooses for a user with role.
func joinPassword(role string) string { return "viewer password " + role }

// inviteAndJoinFrom does what inviteAndJoin does, from the loopback address ip (see
// clientAt).
func (d *dashboard) inviteAndJoinFrom(t *testing.T, ip, email, role string) *webClient {
	t.Helper()
	d.inviteAndAccept(t, ip, email, role)
	return d.signInFrom(t, ip, email, joinPassword(role))
}

// inviteAndAccept invites email with role through the CLI and accepts the invitation over
// HTTP from the loopback address ip, with the password joinPassword(role).
func (d *dashboard) inviteAndAccept(t *testing.T, ip, email, role string) {
	t.Helper()
	var out struct{ URL string }
	testenv.CLIJSON(t, d.srv.DataDir, &out, "user", "invite", "--account", d.accountID, "--email", email, "--role", role, "--url", d.base)
	u, err := url.Parse(out.URL)
	if err != nil || !strings.HasPrefix(out.URL, d.base+"/dashboard/invite?token=") {
		t.Fatalf("user invite printed %q, want a link under %s/dashboard/invite", redactLink(out.URL), d.base)
	}
	w := d.clientAt(t, ip)
	p := w.get(u.RequestURI())
	if p.status != http.StatusOK {
		t.Fatalf("GET invitation: status %d, want 200", p.status)
	}
	password := joinPassword(role)
	p = w.post("/dashboard/invite", p.csrf(t), url.Values{"token": {u.Query().Get("token")}, "password": {password}, "password_confirm": {password}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("accept invitation: status %d, want 303; page %q", p.status, p.text())
	}
}

// redactLink cuts the token off a link for a failure message.
func redactLink(link string) string {
	if i := strings.Index(link, "token="); i >= 0 {
		return link[:i] + "token=[redacted]"
	}
	return link
}

// TestSetupLinkAfterCLIAccount uses a printed setup link after the CLI created an account.
// The link shows why it cannot be used instead of a form that fails when posted, and a
// post with it creates nothing.
func TestSetupLinkAfterCLIAccount(t *testing.T) {
	srv := testenv.Start(t, filepath.Join(t.TempDir(), "data"), testenv.Options{})
	_, w, u := openSetupLink(t, srv)
	createAccount(t, srv.DataDir, "Acme", "ops@acme.test")

	p := w.get(u.RequestURI())
	if p.status != http.StatusConflict {
		t.Errorf("GET setup link after account create: status %d, want 409", p.status)
	}
	if !strings.Contains(p.text(), "already set up") {
		t.Errorf("GET setup link after account create: the page does not say iogate is already set up")
	}
	if strings.Contains(p.body, `name="password"`) {
		t.Error("GET setup link after account create: the page still shows the setup form")
	}

	signin := w.get("/dashboard/signin")
	p = w.post("/dashboard/setup", signin.csrf(t), url.Values{
		"token":            {u.Query().Get("token")},
		"account_name":     {"Second"},
		"email":            {"second@acme.test"},
		"password":         {ownerPassword},
		"password_confirm": {ownerPassword},
	})
	if p.status != http.StatusConflict {
		t.Errorf("POST setup after account create: status %d, want 409", p.status)
	}
	var list struct {
		Data []struct{ Name string }
	}
	testenv.CLIJSON(t, srv.DataDir, &list, "account", "list")
	if len(list.Data) != 1 || list.Data[0].Name != "Acme" {
		t.Errorf("accounts after the refused setup: %+v, want only Acme", list.Data)
	}
}

// TestDashboardFormPagesOtherMethods sends PUT, DELETE and PATCH, with a valid CSRF token and
// the owner's password, to the pages that show a form on GET and act on its POST. Each gets
// the dashboard's 404 page, and the key keeps its name and secret.
func TestDashboardFormPagesOtherMethods(t *testing.T) {
	d := startDashboard(t)
	w := d.signIn(t, ownerEmail, ownerPassword)
	k := createKey(t, d.srv.DataDir, d.accountID, "ci")
	csrf := w.get("/dashboard/keys/" + k.ClientID).csrf(t)
	form := url.Values{"csrf": {csrf}, "confirm": {ownerPassword}, "name": {"renamed"}, "scope": {"vaults:read"}}

	for _, path := range []string{"/dashboard/keys/" + k.ClientID, "/dashboard/keys/" + k.ClientID + "/rotate", "/dashboard/keys/" + k.ClientID + "/delete"} {
		for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, err := http.NewRequest(method, w.base+path, strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if p := w.do(req); p.status != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404", method, path, p.status)
			}
		}
	}

	var stored struct {
		Name             string
		SecretGeneration int
	}
	testenv.CLIJSON(t, d.srv.DataDir, &stored, "key", "show", k.ClientID)
	if stored.Name != "ci" {
		t.Errorf("key name %q after the requests, want ci", stored.Name)
	}
	if stored.SecretGeneration != 1 {
		t.Errorf("key secret generation %d after the requests, want 1", stored.SecretGeneration)
	}
}
