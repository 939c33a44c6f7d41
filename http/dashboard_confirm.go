package http

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// Sensitive changes need the password or a current TOTP code again once the session's last
// confirmation is older than the user service's ConfirmInterval. They are creating, editing,
// rotating or deleting an API key, inviting a user, cancelling an invitation, changing a
// role, removing a user, changing the account's security policy, turning TOTP on and
// replacing recovery codes.
// Turning TOTP off requires a confirmation every time.

// confirmIfNeeded checks the password or TOTP code that a sensitive change must carry when
// the session's last confirmation is older than the confirmation interval. It reports
// false, with the error set on the form, when the change must not go ahead.
func (d *Dashboard) confirmIfNeeded(w http.ResponseWriter, r *http.Request, c *user.Current, fail func(field, msg string)) (bool, error) {
	if !d.users.NeedsConfirmation(c) {
		return true, nil
	}
	return d.confirm(w, r, c, fail)
}

// confirm checks the password or TOTP code in the posted confirm field, however recent the
// session's last confirmation is. A missing, wrong or rate-limited confirmation is set on
// the form's confirm field. Every check counts against the user's sign-in limit. A
// rate-limited one also sets Retry-After, as sign-in does, so that rejectedStatus returns
// 429 for the form shown again.
func (d *Dashboard) confirm(w http.ResponseWriter, r *http.Request, c *user.Current, fail func(field, msg string)) (bool, error) {
	secret := r.PostForm.Get("confirm")
	if secret == "" {
		msg := "Confirm this change with your password."
		if c.User.TOTPEnabled {
			msg = "Confirm this change with your password or a code from your authenticator app."
		}
		fail("confirm", msg)
		return false, nil
	}
	err := d.users.Confirm(r.Context(), c, secret, clientAddr(r).String())
	switch iogate.ErrorCodeOf(err) {
	case "":
		return true, nil
	case iogate.CodeRateLimited:
		w.Header().Set("Retry-After", "60")
		fail("confirm", sentence(iogate.ErrorMessageOf(err)))
		return false, nil
	case iogate.CodeInvalid:
		fail("confirm", sentence(iogate.ErrorMessageOf(err)))
		return false, nil
	}
	return false, err
}

// confirmForm is the confirm field of a page that confirms one change, such as the removal
// of a user.
type confirmForm struct {
	NeedConfirm bool
	// PasswordOnly is set when the signed-in user has no TOTP to confirm with.
	PasswordOnly bool
	Fields       map[string]string
}

// serveConfirmPage serves a page that confirms one change. A post whose confirmation passes
// (confirmIfNeeded) goes to apply, which makes the change and writes the response.
// Otherwise the page named page is rendered with data, whose confirm field is f, under the
// navigation entry section. A rejected confirmation is shown on that field.
func (d *Dashboard) serveConfirmPage(w http.ResponseWriter, r *http.Request, c *user.Current, f *confirmForm, page, title, section string,
	data any, apply func() error) error {
	f.PasswordOnly = !c.User.TOTPEnabled
	status := http.StatusOK
	if r.Method == http.MethodPost {
		ok, err := d.confirmIfNeeded(w, r, c, func(field, msg string) { f.Fields = map[string]string{field: msg} })
		if err != nil {
			return err
		}
		if ok {
			return apply()
		}
		status = rejectedStatus(w)
	}
	f.NeedConfirm = d.users.NeedsConfirmation(c)
	v := d.newView(c, title, section)
	v.Data = data
	d.render(w, r, status, page, v)
	return nil
}

// rejectedStatus returns the status of a form shown again with its errors: 429 Too Many
// Requests when its confirmation hit the sign-in limit, which confirm marks with
// Retry-After, and 400 Bad Request otherwise.
func rejectedStatus(w http.ResponseWriter) int {
	if w.Header().Get("Retry-After") != "" {
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

// confirmPrompt is the data of the page that requests a fresh confirmation before a change
// posted from a page with several forms, such as a role change on the users page. Those
// forms carry no confirm field of their own, so that a page does not show one password
// field per table row.
type confirmPrompt struct {
	// Heading names the change, such as "Change role".
	Heading string
	// Summary describes what the change does, in one sentence.
	Summary string
	// Submit is the label of the button that posts the change again.
	Submit string
	// Page and Cancel are the name and path of the page the change came from, which the
	// user goes back to without the change.
	Page   string
	Cancel string
	// Action is the path that the change was posted to and is posted to again.
	Action string
	// Hidden contains the fields of the original post, without its CSRF token and
	// confirmation, so that the change is posted again as the user made it.
	Hidden       []hiddenField
	PasswordOnly bool
	Fields       map[string]string
}

// hiddenField is one posted field that the confirmation page carries over.
type hiddenField struct {
	Name  string
	Value string
}

// confirmOrPrompt checks the confirmation a change needs, as confirmIfNeeded does. When the
// change must not go ahead, it writes the confirmation page, which posts the same fields
// again with the confirm field added, and reports false. section is the navigation entry
// the page belongs to.
func (d *Dashboard) confirmOrPrompt(w http.ResponseWriter, r *http.Request, c *user.Current, section string, p confirmPrompt) (bool, error) {
	ok, err := d.confirmIfNeeded(w, r, c, func(field, msg string) { p.Fields = map[string]string{field: msg} })
	if ok || err != nil {
		return ok, err
	}
	p.Action = r.URL.Path
	p.Hidden = hiddenFieldsOf(r.PostForm)
	p.PasswordOnly = !c.User.TOTPEnabled
	v := d.newView(c, p.Heading, section)
	v.Data = &p
	d.render(w, r, rejectedStatus(w), "reconfirm", v)
	return false, nil
}

// hiddenFieldsOf returns the posted fields to carry over, in name order so that the page
// is the same for the same post.
func hiddenFieldsOf(form url.Values) []hiddenField {
	var fields []hiddenField
	for _, name := range slices.Sorted(maps.Keys(form)) {
		if name == "csrf" || name == "confirm" {
			continue
		}
		for _, value := range form[name] {
			fields = append(fields, hiddenField{Name: name, Value: value})
		}
	}
	return fields
}

// formatInterval returns the confirmation interval in words for the confirm field's hint,
// such as "5 minutes". The --confirm-interval flag accepts 1s to 1h.
func formatInterval(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return pluralize(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return pluralize(int(d/time.Minute), "minute")
	}
	return pluralize(int(d.Round(time.Second)/time.Second), "second")
}

func pluralize(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
