package http

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// signInForm is the data of the sign-in page.
type signInForm struct {
	Email string
	Next  string
}

func (d *Dashboard) handleSignInPage(w http.ResponseWriter, r *http.Request, csrf string) error {
	if c, err := d.users.Authenticate(r.Context(), cookieValue(r, sessionCookie)); err == nil && c.Session.Stage == iogate.SessionSignedIn {
		http.Redirect(w, r, "/dashboard/keys", http.StatusSeeOther)
		return nil
	}
	d.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", CSRF: csrf, Notice: noticeFrom(r),
		Data: signInForm{Next: safeNext(r.URL.Query().Get("next"))}})
	return nil
}

// safeNext keeps a post-sign-in target only when it is a dashboard path, so that the
// sign-in page cannot be used to redirect to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

func (d *Dashboard) handleSignIn(w http.ResponseWriter, r *http.Request, csrf string) error {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	next := safeNext(r.PostForm.Get("next"))
	ip := clientAddr(r).String()
	c, err := d.users.SignIn(r.Context(), email, r.PostForm.Get("password"), ip)
	if err != nil {
		d.recordSignInFailure(r, c, err)
		status := http.StatusUnauthorized
		switch iogate.ErrorCodeOf(err) {
		case iogate.CodeRateLimited:
			w.Header().Set("Retry-After", "60")
			status = http.StatusTooManyRequests
		case iogate.CodeForbidden:
			status = http.StatusForbidden
		case iogate.CodeInvalid:
		default:
			return err
		}
		d.render(w, r, status, "signin", &view{Title: "Sign in", CSRF: csrf, Error: sentence(iogate.ErrorMessageOf(err)),
			Data: signInForm{Email: email, Next: next}})
		return nil
	}
	setCookie(w, sessionCookie, c.ID, d.users.Config().MaxAge)
	if c.Session.Stage == iogate.SessionSecondFactor {
		target := "/dashboard/signin/verify"
		if next != "" {
			target += "?next=" + url.QueryEscape(next)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	d.recordSignIn(r, c, "password")
	if next == "" {
		next = "/dashboard/keys"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// secondFactorSession returns the session of a browser that passed the password step. The
// callers send a session that is already fully signed in on to the key list.
func (d *Dashboard) secondFactorSession(r *http.Request) (*user.Current, error) {
	return d.users.Authenticate(r.Context(), cookieValue(r, sessionCookie))
}

func (d *Dashboard) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	c, err := d.secondFactorSession(r)
	if err != nil {
		d.fail(w, r, nil, err)
		return
	}
	if c.Session.Stage == iogate.SessionSignedIn {
		http.Redirect(w, r, "/dashboard/keys", http.StatusSeeOther)
		return
	}
	d.render(w, r, http.StatusOK, "verify", &view{Title: "Two-factor authentication", CSRF: d.users.CSRFToken(c.ID),
		Data: signInForm{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (d *Dashboard) handleVerify(w http.ResponseWriter, r *http.Request) {
	c, err := d.secondFactorSession(r)
	if err != nil {
		d.fail(w, r, nil, err)
		return
	}
	if err := d.checkForm(w, r, c.ID); err != nil {
		d.fail(w, r, nil, err)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	signedIn, usedRecovery, err := d.users.CompleteSecondFactor(r.Context(), c, r.PostForm.Get("code"), clientAddr(r).String())
	if err != nil {
		d.recordSignInFailure(r, c, err)
		status := http.StatusUnauthorized
		switch iogate.ErrorCodeOf(err) {
		case iogate.CodeRateLimited:
			w.Header().Set("Retry-After", "60")
			status = http.StatusTooManyRequests
		case iogate.CodeInvalid:
		default:
			d.fail(w, r, nil, err)
			return
		}
		d.render(w, r, status, "verify", &view{Title: "Two-factor authentication", CSRF: d.users.CSRFToken(c.ID),
			Error: sentence(iogate.ErrorMessageOf(err)), Data: signInForm{Next: next}})
		return
	}
	setCookie(w, sessionCookie, signedIn.ID, d.users.Config().MaxAge)
	method := "totp"
	if usedRecovery {
		method = "recovery_code"
		next = "/dashboard/security?recovery=used"
	}
	d.recordSignIn(r, signedIn, method)
	if next == "" {
		next = "/dashboard/keys"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) handleSignOut(w http.ResponseWriter, r *http.Request) {
	id := cookieValue(r, sessionCookie)
	c, err := d.users.Authenticate(r.Context(), id)
	if err != nil {
		// Nothing to end: the session is gone already.
		setCookie(w, sessionCookie, "", -1)
		seeOther(w, r, "/dashboard/signin", "signed-out")
		return
	}
	if err := d.checkForm(w, r, c.ID); err != nil {
		d.fail(w, r, c, err)
		return
	}
	if err := d.users.SignOut(r.Context(), id); err != nil {
		d.fail(w, r, c, err)
		return
	}
	setCookie(w, sessionCookie, "", -1)
	d.recordSignOut(r, c)
	seeOther(w, r, "/dashboard/signin", "signed-out")
}

// linkForm is the data of the setup, invitation and reset pages.
type linkForm struct {
	Token       string
	AccountName string
	Email       string
	Role        iogate.Role
	Fields      map[string]string
}

// tokenFrom reads the link token from the query of a GET or the form of a POST.
func tokenFrom(r *http.Request) string {
	if r.Method == http.MethodPost {
		return r.PostForm.Get("token")
	}
	return r.URL.Query().Get("token")
}

// handleSetup shows the setup form on GET and HEAD, and creates the first account and owner
// on POST. The link pages test for POST rather than GET, because the mux routes HEAD to
// the GET pattern and a HEAD must not reach the action.
func (d *Dashboard) handleSetup(w http.ResponseWriter, r *http.Request, csrf string) error {
	token := tokenFrom(r)
	if r.Method != http.MethodPost {
		if _, err := d.users.CheckLink(r.Context(), token, iogate.LinkSetup); err != nil {
			return err
		}
		d.render(w, r, http.StatusOK, "setup", &view{Title: "Set up iogate", CSRF: csrf, Data: linkForm{Token: token}})
		return nil
	}
	form := linkForm{Token: token, AccountName: r.PostForm.Get("account_name"), Email: r.PostForm.Get("email")}
	if msg := passwordsDiffer(r); msg != "" {
		form.Fields = map[string]string{"password_confirm": msg}
		d.render(w, r, http.StatusBadRequest, "setup", &view{Title: "Set up iogate", CSRF: csrf, Data: form})
		return nil
	}
	_, err := d.users.CompleteSetup(r.Context(), token, user.SetupRequest{
		AccountName: form.AccountName, Email: form.Email, Password: r.PostForm.Get("password"),
		RemoteAddr: clientAddr(r).String(),
	})
	if iogate.ErrorCodeOf(err) == iogate.CodeInvalid {
		form.Fields = map[string]string{fieldOfSetupError(err): iogate.ErrorMessageOf(err)}
		d.render(w, r, http.StatusBadRequest, "setup", &view{Title: "Set up iogate", CSRF: csrf, Data: form})
		return nil
	}
	if err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/signin", "welcome")
	return nil
}

// fieldOfSetupError names the form field a validation error is about, from the word the
// domain's message starts with.
func fieldOfSetupError(err error) string {
	msg := iogate.ErrorMessageOf(err)
	switch {
	case strings.HasPrefix(msg, "account name"):
		return "account_name"
	case strings.Contains(msg, "email"):
		return "email"
	}
	return "password"
}

func passwordsDiffer(r *http.Request) string {
	if r.PostForm.Get("password") != r.PostForm.Get("password_confirm") {
		return "The two passwords are not the same."
	}
	return ""
}

func (d *Dashboard) handleInvite(w http.ResponseWriter, r *http.Request, csrf string) error {
	token := tokenFrom(r)
	l, err := d.users.CheckLink(r.Context(), token, iogate.LinkInvite)
	if err != nil {
		return err
	}
	form := linkForm{Token: token, Email: l.Email, Role: l.Role}
	if a, err := d.cfg.Store.FindAccountByID(r.Context(), l.AccountID); err == nil {
		form.AccountName = a.Name
	}
	if r.Method != http.MethodPost {
		d.render(w, r, http.StatusOK, "invite", &view{Title: "Join " + form.AccountName, CSRF: csrf, Data: form})
		return nil
	}
	if msg := passwordsDiffer(r); msg != "" {
		form.Fields = map[string]string{"password_confirm": msg}
		d.render(w, r, http.StatusBadRequest, "invite", &view{Title: "Join " + form.AccountName, CSRF: csrf, Data: form})
		return nil
	}
	_, err = d.users.AcceptInvite(r.Context(), token, r.PostForm.Get("password"), clientAddr(r).String())
	if iogate.ErrorCodeOf(err) == iogate.CodeInvalid {
		form.Fields = map[string]string{"password": iogate.ErrorMessageOf(err)}
		d.render(w, r, http.StatusBadRequest, "invite", &view{Title: "Join " + form.AccountName, CSRF: csrf, Data: form})
		return nil
	}
	if err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/signin", "invite-accepted")
	return nil
}

func (d *Dashboard) handleReset(w http.ResponseWriter, r *http.Request, csrf string) error {
	token := tokenFrom(r)
	l, err := d.users.CheckLink(r.Context(), token, iogate.LinkReset)
	if err != nil {
		return err
	}
	form := linkForm{Token: token, Email: l.Email}
	if r.Method != http.MethodPost {
		d.render(w, r, http.StatusOK, "reset", &view{Title: "Choose a new password", CSRF: csrf, Data: form})
		return nil
	}
	if msg := passwordsDiffer(r); msg != "" {
		form.Fields = map[string]string{"password_confirm": msg}
		d.render(w, r, http.StatusBadRequest, "reset", &view{Title: "Choose a new password", CSRF: csrf, Data: form})
		return nil
	}
	_, err = d.users.ResetPassword(r.Context(), token, r.PostForm.Get("password"), clientAddr(r).String())
	if iogate.ErrorCodeOf(err) == iogate.CodeInvalid {
		form.Fields = map[string]string{"password": iogate.ErrorMessageOf(err)}
		d.render(w, r, http.StatusBadRequest, "reset", &view{Title: "Choose a new password", CSRF: csrf, Data: form})
		return nil
	}
	if err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/signin", "password-reset")
	return nil
}
