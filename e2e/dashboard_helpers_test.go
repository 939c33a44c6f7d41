package e2e

import (
	"bytes"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// Credentials of the owner that dashboard fixtures create through the setup link.
const (
	ownerEmail    = "owner@acme.test"
	ownerPassword = "correct horse battery staple"
)

// dashboard is a running server whose first account and owner were created through the
// printed setup link.
type dashboard struct {
	srv *testenv.Server
	// base is the scheme, host and port of the printed link: https://localhost:PORT.
	base      string
	accountID string
}

// startDashboard starts a server on a fresh data directory, uses its setup link over HTTP
// to create the account "Acme Custody" with ownerEmail as owner, and returns it.
func startDashboard(t *testing.T, args ...string) *dashboard {
	t.Helper()
	srv := testenv.Start(t, filepath.Join(t.TempDir(), "data"), testenv.Options{Args: args})
	d, w, u := openSetupLink(t, srv)
	p := w.get(u.RequestURI())
	if p.status != http.StatusOK {
		t.Fatalf("GET setup link: status %d, want 200", p.status)
	}
	p = w.post("/dashboard/setup", p.csrf(t), url.Values{
		"token":            {u.Query().Get("token")},
		"account_name":     {"Acme Custody"},
		"email":            {ownerEmail},
		"password":         {ownerPassword},
		"password_confirm": {ownerPassword},
	})
	if p.status != http.StatusSeeOther {
		t.Fatalf("POST setup: status %d, want 303; page: %s", p.status, p.text())
	}
	var list struct {
		Data []struct{ ID string }
	}
	testenv.CLIJSON(t, srv.DataDir, &list, "account", "list")
	if len(list.Data) != 1 {
		t.Fatalf("account list after setup has %d accounts, want 1", len(list.Data))
	}
	d.accountID = list.Data[0].ID
	return d
}

// openSetupLink parses the setup link that srv printed and returns a dashboard of srv, a
// client of it, and the link.
func openSetupLink(t *testing.T, srv *testenv.Server) (*dashboard, *webClient, *url.URL) {
	t.Helper()
	u, err := url.Parse(srv.SetupLink(t))
	if err != nil {
		t.Fatalf("setup link does not parse: %v", err)
	}
	d := &dashboard{srv: srv, base: u.Scheme + "://" + u.Host}
	return d, d.client(t), u
}

// webClient is a cookie-keeping HTTP client for dashboard pages that does not follow
// redirects, so tests see every 303.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (d *dashboard) client(t *testing.T) *webClient {
	t.Helper()
	return d.clientAt(t, "")
}

// clientAt returns a client whose connections come from the loopback address ip, or from
// the system's choice when ip is "". The dashboard's sign-in and confirmation limits count
// attempts per address, so tests that make many use an address of their own.
func (d *dashboard) clientAt(t *testing.T, ip string) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := testenv.NewClient(t, d.srv.CACert)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if ip != "" {
		local := net.ParseIP(ip)
		if local == nil {
			t.Fatalf("bad local address %q", ip)
		}
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
		c.Transport.(*http.Transport).DialContext = dialer.DialContext
	}
	return &webClient{t: t, base: d.base, c: c}
}

// signIn returns a client signed in with email and password, failing the test otherwise.
func (d *dashboard) signIn(t *testing.T, email, password string) *webClient {
	t.Helper()
	return d.signInFrom(t, "", email, password)
}

// signInFrom signs in as signIn does, from the loopback address ip (see clientAt).
func (d *dashboard) signInFrom(t *testing.T, ip, email, password string) *webClient {
	t.Helper()
	w := d.clientAt(t, ip)
	p := w.get("/dashboard/signin")
	p = w.post("/dashboard/signin", p.csrf(t), url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther || p.location != "/dashboard/keys" {
		t.Fatalf("sign in as %s: status %d, location %q; want 303 to /dashboard/keys", email, p.status, p.location)
	}
	return w
}

// webPage is a dashboard response.
type webPage struct {
	status   int
	header   http.Header
	body     string
	location string
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page's first form.
func (p webPage) csrf(t *testing.T) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("page (status %d) has no CSRF token", p.status)
	}
	return m[1]
}

// hidden returns the value of the page's first hidden input named name, such as the
// form_token of the create and rotate forms.
func (p webPage) hidden(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("page (status %d) has no hidden input %s", p.status, name)
	}
	return m[1]
}

var tagPattern = regexp.MustCompile(`<[^>]+>`)

// text returns the page's visible text in one line, for failure messages. Dashboard pages
// other than the one-time secret page hold no secret.
func (p webPage) text() string {
	s := tagPattern.ReplaceAllString(p.body, " ")
	return strings.Join(strings.Fields(s), " ")
}

func (w *webClient) do(req *http.Request) webPage {
	w.t.Helper()
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return webPage{status: resp.StatusCode, header: resp.Header, body: string(b), location: resp.Header.Get("Location")}
}

func (w *webClient) get(path string) webPage {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.base+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.do(req)
}

// post submits a form with the CSRF token csrf, as the dashboard's own pages do.
func (w *webClient) post(path, csrf string, form url.Values) webPage {
	w.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if csrf != "" {
		form.Set("csrf", csrf)
	}
	return w.postRaw(path, form, nil)
}

// postRaw submits form as it is, with extra headers.
func (w *webClient) postRaw(path string, form url.Values, header map[string]string) webPage {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return w.do(req)
}

// cookie returns the value of the client's cookie name for the dashboard's host.
func (w *webClient) cookie(name string) string {
	u, _ := url.Parse(w.base)
	for _, c := range w.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// pollUntil calls check every 20 ms until it returns true or timeout passes.
func pollUntil(timeout time.Duration, check func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileContains reports whether any file in dir holds s, for checking that a secret is
// not stored in plain text. SQLite's WAL may hold recent pages, so it is read too.
func fileContains(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
