package http

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// contentSecurityPolicy allows only this origin's own scripts, styles, images and form
// targets, no inline script or style, no plugins, and no framing by any page.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Dashboard cookies. The __Host- prefix makes browsers accept them only with Secure,
// Path=/ and no Domain, so no other host or plain-HTTP page can set or shadow them.
const (
	sessionCookie = "__Host-iogate_session"
	// anonCookie carries a random value that the CSRF tokens of the sign-in, setup,
	// invitation and reset forms are bound to, before any session exists.
	anonCookie = "__Host-iogate_anon"
)

// maxFormBytes bounds dashboard form bodies; the largest form, a key with 100 allowed IPs,
// is a few kilobytes.
const maxFormBytes = 64 << 10

// DashboardConfig holds what the dashboard needs.
type DashboardConfig struct {
	Users *user.Service
	Auth  *auth.Service
	Store iogate.Store
	Log   *slog.Logger
	// PublicURL is the base URL people use to reach this server, for links the dashboard
	// shows, such as https://iogate.example.com.
	PublicURL string
	// KeyAgeWarning is the secret age from which the key list warns that a key is due for
	// rotation.
	KeyAgeWarning time.Duration
	// CACertHint, when set, is the path of a self-signed certificate that curl examples
	// pass with --cacert, written as one POSIX shell word because it is pasted into a
	// shell.
	CACertHint string
}

// Dashboard serves the web pages under /dashboard/.
type Dashboard struct {
	cfg   DashboardConfig
	users *user.Service
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	// writeError renders errors that are not page-specific; it uses the API's status
	// table so that a code means the same status everywhere.
	api *Server
	// exports bounds the audit exports that run at once.
	exports exportLimit
}

// NewDashboard parses the page templates and returns the dashboard.
func NewDashboard(cfg DashboardConfig) (*Dashboard, error) {
	if cfg.KeyAgeWarning <= 0 {
		cfg.KeyAgeWarning = 90 * 24 * time.Hour
	}
	d := &Dashboard{cfg: cfg, users: cfg.Users, log: cfg.Log, pages: map[string]*template.Template{}}
	if err := d.parseTemplates(); err != nil {
		return nil, err
	}
	d.mux = http.NewServeMux()
	d.routes()
	return d, nil
}

// SetDashboard mounts the dashboard on the HTTPS handler under /dashboard/, with / sending
// browsers there.
func (s *Server) SetDashboard(d *Dashboard) {
	d.api = s
	s.dashboard = d
}

func (d *Dashboard) parseTemplates() error {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	// The confirm field's hint names this server's confirmation interval.
	interval := formatInterval(d.users.Config().ConfirmInterval)
	confirmFuncs := template.FuncMap{"confirmInterval": func() string { return interval }}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs).Funcs(confirmFuncs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", name)
		if err != nil {
			return err
		}
		d.pages[base] = t
	}
	return nil
}

// ServeHTTP adds the dashboard's security headers and dispatches to its pages. Every page
// gets the store timeout as the bound of its store work (see storeBound), the static
// files, which the store does not hold, excepted.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	// Links with tokens in their query must not leak through Referer to other sites.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if !strings.HasPrefix(r.URL.Path, "/dashboard/static/") {
		ctx, bound := newStoreBound(r.Context(), d.cfg.Auth.StoreTimeout())
		defer bound.stop()
		r = r.WithContext(ctx)
	}
	d.mux.ServeHTTP(w, r)
}

// view is the data of every page.
type view struct {
	Title   string
	Section string
	CSRF    string
	Current *user.Current
	// Notice is a one-line confirmation at the top of the page, such as "Key deleted".
	Notice string
	Error  string
	Data   any
}

// CanManageKeys reports whether the signed-in user may change keys, for templates.
func (v *view) CanManageKeys() bool {
	return v.Current != nil && v.Current.User != nil && v.Current.User.Role.CanManageKeys()
}

// PasswordOnly reports whether the signed-in user has no TOTP, so that the confirm field
// requests the password alone.
func (v *view) PasswordOnly() bool {
	return v.Current != nil && v.Current.User != nil && !v.Current.User.TOTPEnabled
}

// CanManageUsers reports whether the signed-in user may manage users, for templates.
func (v *view) CanManageUsers() bool {
	return v.Current != nil && v.Current.User != nil && v.Current.User.Role.CanManageUsers()
}

// SignedIn reports whether the page is shown to a fully signed-in user.
func (v *view) SignedIn() bool {
	return v.Current != nil && v.Current.Session != nil && v.Current.Session.Stage == iogate.SessionSignedIn
}

// render writes the page with status. Rendering into a buffer first means a template error
// becomes a clean 500 instead of half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t := d.pages[page]
	var buf bytes.Buffer
	err := errors.New("no template for this page")
	if t != nil {
		err = t.ExecuteTemplate(&buf, "layout.html", v)
	}
	if err != nil {
		d.log.ErrorContext(r.Context(), "render dashboard page failed", "page", page, "error", err, "request_id", requestIDFrom(r.Context()))
		setErrorCode(r, iogate.CodeInternal)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageHandler is a dashboard page handler that returns its error to fail.
type pageHandler func(w http.ResponseWriter, r *http.Request, c *user.Current) error

// fail renders err as an error page with the status its code maps to. A missing session
// sends the browser to the sign-in page instead.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, c *user.Current, err error) {
	if errors.Is(err, user.ErrNoSession) {
		d.redirectToSignIn(w, r)
		return
	}
	err = auth.StoreError(r.Context(), err)
	code := iogate.ErrorCodeOf(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
		code = iogate.CodeInternal
	}
	setErrorCode(r, code)
	msg := sentence(iogate.ErrorMessageOf(err))
	if status >= 500 {
		id := requestIDFrom(r.Context())
		// A 503 counts towards the API's outage, so that only its first is logged in full.
		if status != http.StatusServiceUnavailable || d.api == nil || d.api.outages.failed(failedRequest, id, err) {
			d.log.ErrorContext(r.Context(), "dashboard request failed", "status", status, "error", err, "request_id", id)
		}
		msg = "Something went wrong on our side. Quote request ID " + id + " when reporting it."
	}
	switch code {
	case iogate.CodeRateLimited:
		w.Header().Set("Retry-After", "60")
	case iogate.CodeUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	v := &view{Title: http.StatusText(status), Current: c, Error: msg, Data: status}
	if c != nil && c.ID != "" {
		v.CSRF = d.users.CSRFToken(c.ID)
	}
	d.render(w, r, status, "error", v)
}

func (d *Dashboard) redirectToSignIn(w http.ResponseWriter, r *http.Request) {
	target := "/dashboard/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/dashboard/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// errCSRF is the error for a form post without the token of its session.
var errCSRF = iogate.Errorf(iogate.CodeForbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")

// checkForm parses a posted form and checks its CSRF token against the cookie value the
// token must be bound to. Posts from another origin are rejected even with a token.
func (d *Dashboard) checkForm(w http.ResponseWriter, r *http.Request, bound string) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" && !sameOrigin(origin, r) {
		return errCSRF
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errCSRF
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return iogate.Errorf(iogate.CodeTooLarge, "the form is too large")
		}
		return iogate.Errorf(iogate.CodeInvalid, "the form could not be read")
	}
	if !d.users.CheckCSRFToken(bound, r.PostForm.Get("csrf")) {
		return errCSRF
	}
	return nil
}

// sameOrigin reports whether an Origin header names the origin the request was sent to.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "https" && strings.EqualFold(u.Host, r.Host)
}

// setCookie sets a dashboard cookie with the flags every one of them must have.
func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// anonymous wraps the pages used before a session exists. It makes sure the browser has an
// anonymous cookie for the forms' CSRF tokens and checks the token on posts.
func (d *Dashboard) anonymous(h func(w http.ResponseWriter, r *http.Request, csrf string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		anon := cookieValue(r, anonCookie)
		if r.Method == http.MethodPost {
			if err := d.checkForm(w, r, anon); err != nil {
				d.fail(w, r, nil, err)
				return
			}
		} else if anon == "" || len(anon) > 64 {
			anon = randomCookieValue()
			setCookie(w, anonCookie, anon, 0)
		}
		if err := h(w, r, d.users.CSRFToken(anon)); err != nil {
			d.fail(w, r, nil, err)
		}
	})
}

// Permissions a signed-in page may need.
type permission int

const (
	permRead permission = iota
	permKeys
	permUsers
)

var errNoPermission = iogate.Errorf(iogate.CodeForbidden, "Your role does not allow this. Ask an owner of the account.")

// signedIn wraps the pages of a signed-in user. It loads the session and sends a session
// that still owes its second factor to that step. It sends users of an account that
// requires TOTP to enrolment until they have it. Then it checks the role, and the CSRF
// token of posts.
func (d *Dashboard) signedIn(perm permission, h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := d.users.Authenticate(r.Context(), cookieValue(r, sessionCookie))
		if err != nil {
			if errors.Is(err, user.ErrNoSession) {
				setCookie(w, sessionCookie, "", -1)
			}
			d.fail(w, r, nil, err)
			return
		}
		if c.Session.Stage != iogate.SessionSignedIn {
			http.Redirect(w, r, "/dashboard/signin/verify", http.StatusSeeOther)
			return
		}
		if !c.User.TOTPEnabled && !strings.HasPrefix(r.URL.Path, "/dashboard/security") && r.URL.Path != "/dashboard/signout" {
			required, err := d.users.RequiresTOTP(r.Context(), c.Account.ID)
			if err != nil {
				d.fail(w, r, c, err)
				return
			}
			if required {
				http.Redirect(w, r, "/dashboard/security?required=1", http.StatusSeeOther)
				return
			}
		}
		if r.Method == http.MethodPost {
			if err := d.checkForm(w, r, c.ID); err != nil {
				d.fail(w, r, c, err)
				return
			}
		}
		if perm == permKeys && !c.User.Role.CanManageKeys() || perm == permUsers && !c.User.Role.CanManageUsers() {
			d.fail(w, r, c, errNoPermission)
			return
		}
		if err := h(w, r, c); err != nil {
			d.fail(w, r, c, err)
		}
	})
}

// newView returns the common page data for a signed-in page.
func (d *Dashboard) newView(c *user.Current, title, section string) *view {
	return &view{Title: title, Section: section, Current: c, CSRF: d.users.CSRFToken(c.ID)}
}

// notices are the confirmations a page shows after a redirect. The query names one by key,
// so that a crafted link cannot put text of its own on the page.
var notices = map[string]string{
	"key-deleted":          "The API key was deleted. Its access tokens are refused from now on.",
	"key-updated":          "The API key was saved. The change applies to its tokens on their next request.",
	"role-changed":         "The role was changed.",
	"user-removed":         "The user was removed and their sessions ended.",
	"invitation-cancelled": "The invitation was cancelled. Its link no longer works.",
	"totp-off":             "Two-factor authentication is off.",
	"policy-saved":         "The security policy was saved.",
	"password-reset":       "Your password was changed. Sign in with the new one.",
	"welcome":              "Your account is ready. Sign in with the email and password you chose.",
	"signed-out":           "You have signed out.",
	"session-ended":        "Your session ended. Sign in again.",
	"invite-accepted":      "Your user is ready. Sign in with the email and password you chose.",
}

// seeOther redirects after a successful post, naming a notice for the next page.
func seeOther(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// noticeFrom returns the text of the notice the query names, or "".
func noticeFrom(r *http.Request) string {
	return notices[r.URL.Query().Get("notice")]
}

// randomCookieValue returns 32 random bytes in base64url.
func randomCookieValue() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
