package http

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// routes registers every dashboard page. Pages that change keys need permKeys, pages that
// manage users need permUsers; the wrappers check the role on the server, whatever the page
// shows.
func (d *Dashboard) routes() {
	m := d.mux
	// pageAndForm registers a page that shows a form on GET and acts on its POST. Other
	// methods reach the catch-all below and get its 404, as they do on every other page.
	pageAndForm := func(pattern string, h http.Handler) {
		m.Handle("GET "+pattern, h)
		m.Handle("POST "+pattern, h)
	}
	static, _ := fs.Sub(staticFiles, "static")
	m.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", staticHandler(static)))
	m.Handle("GET /dashboard/{$}", http.RedirectHandler("/dashboard/keys", http.StatusSeeOther))

	m.Handle("GET /dashboard/signin", d.anonymous(d.handleSignInPage))
	m.Handle("POST /dashboard/signin", d.anonymous(d.handleSignIn))
	m.HandleFunc("GET /dashboard/signin/verify", d.handleVerifyPage)
	m.HandleFunc("POST /dashboard/signin/verify", d.handleVerify)
	m.HandleFunc("POST /dashboard/signout", d.handleSignOut)
	pageAndForm("/dashboard/setup", d.anonymous(d.handleSetup))
	pageAndForm("/dashboard/invite", d.anonymous(d.handleInvite))
	pageAndForm("/dashboard/reset", d.anonymous(d.handleReset))

	m.Handle("GET /dashboard/keys", d.signedIn(permRead, d.handleKeyList))
	m.Handle("GET /dashboard/keys/new", d.signedIn(permKeys, d.handleNewKey))
	m.Handle("POST /dashboard/keys", d.signedIn(permKeys, d.handleCreateKey))
	pageAndForm("/dashboard/keys/{id}", d.signedIn(permKeys, d.handleEditKey))
	pageAndForm("/dashboard/keys/{id}/rotate", d.signedIn(permKeys, d.handleRotateKey))
	pageAndForm("/dashboard/keys/{id}/delete", d.signedIn(permKeys, d.handleDeleteKey))

	m.Handle("GET /dashboard/audit", d.signedIn(permRead, d.handleAudit))
	m.Handle("GET /dashboard/audit/export", d.signedIn(permRead, d.handleAuditExport))

	m.Handle("GET /dashboard/users", d.signedIn(permRead, d.handleUsers))
	m.Handle("POST /dashboard/users", d.signedIn(permUsers, d.handleInviteUser))
	m.Handle("POST /dashboard/users/{id}/role", d.signedIn(permUsers, d.handleChangeRole))
	pageAndForm("/dashboard/users/{id}/remove", d.signedIn(permUsers, d.handleRemoveUser))
	pageAndForm("/dashboard/users/invitations/{id}/cancel", d.signedIn(permUsers, d.handleCancelInvitation))
	m.Handle("POST /dashboard/users/policy", d.signedIn(permUsers, d.handleSecurityPolicy))

	m.Handle("GET /dashboard/security", d.signedIn(permRead, d.handleSecurity))
	m.Handle("POST /dashboard/security/totp", d.signedIn(permRead, d.handleBeginTOTP))
	m.Handle("GET /dashboard/security/totp/qr.png", d.signedIn(permRead, d.handleTOTPQR))
	m.Handle("POST /dashboard/security/totp/confirm", d.signedIn(permRead, d.handleConfirmTOTP))
	m.Handle("POST /dashboard/security/totp/disable", d.signedIn(permRead, d.handleDisableTOTP))
	m.Handle("POST /dashboard/security/recovery-codes", d.signedIn(permRead, d.handleRecoveryCodes))

	m.Handle("/dashboard/", d.anonymous(func(w http.ResponseWriter, r *http.Request, csrf string) error {
		return iogate.Errorf(iogate.CodeNotFound, "There is no page at this address.")
	}))
}

// staticHandler serves the dashboard's stylesheet and script from files, cached by browsers
// for an hour. A path that names no file gets a 404 logged with error_code not_found.
func staticHandler(files fs.FS) http.Handler {
	serve := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Serve files only: a directory path would get a listing of the static files.
		info, err := fs.Stat(files, r.URL.Path)
		if err != nil || info.IsDir() {
			setErrorCode(r, iogate.CodeNotFound)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		serve.ServeHTTP(w, r)
	})
}

var templateFuncs = template.FuncMap{
	"datetime": formatDateTime,
	"datetimep": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return formatDateTime(*t)
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// shortdate leaves out the zone, for tables whose heading or footer names UTC.
	"shortdate": formatShortDate,
	"shortdatep": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return formatShortDate(*t)
	},
	"age":      formatAge,
	"join":     strings.Join,
	"days":     func(d time.Duration) int { return int(d / (24 * time.Hour)) },
	"has":      func(m map[string]bool, k string) bool { return m[k] },
	"field":    func(m map[string]string, k string) string { return m[k] },
	"initials": func(email string) string { return strings.ToUpper(email[:1]) },
	"dict":     dict,
	"isSelf": func(c *user.Current, u *iogate.User) bool {
		return c != nil && c.User != nil && c.User.ID == u.ID
	},
}

// formatDateTime shows a time in UTC to the minute: the dashboard serves people in many time
// zones, and UTC is what the audit log and the API use.
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatShortDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// formatAge returns a duration as whole days, or hours and minutes below a day.
func formatAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 24*time.Hour:
		return "1 day"
	case d >= time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return "under a minute"
}

// dict builds a map from alternating keys and values, for passing several values to a
// partial template.
func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}
