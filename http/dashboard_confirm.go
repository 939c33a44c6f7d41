package http

import (
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// confirmIfNeeded checks the password or TOTP code that a key change must carry when the
// session's last confirmation is older than the confirmation interval. It reports false,
// with the error set on the form, when the change must not go ahead.
func (d *Dashboard) confirmIfNeeded(r *http.Request, c *user.Current, fail func(field, msg string)) (bool, error) {
	if !d.users.NeedsConfirmation(c) {
		return true, nil
	}
	secret := r.PostForm.Get("confirm")
	if secret == "" {
		fail("confirm", "Confirm this change with your password or a code from your authenticator app.")
		return false, nil
	}
	err := d.users.Confirm(r.Context(), c, secret, clientAddr(r).String())
	switch iogate.ErrorCodeOf(err) {
	case "":
		return true, nil
	case iogate.CodeInvalid, iogate.CodeRateLimited:
		fail("confirm", sentence(iogate.ErrorMessageOf(err)))
		return false, nil
	}
	return false, err
}
