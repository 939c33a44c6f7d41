package http

import (
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// recordSignIn records a completed sign-in. method is password, totp or recovery_code.
func (d *Dashboard) recordSignIn(r *http.Request, c *user.Current, method string) {
	d.log.InfoContext(r.Context(), "dashboard sign-in", "user_id", c.User.ID, "account_id", c.User.AccountID,
		"method", method, "remote_addr", clientAddr(r).String(), "request_id", requestIDFrom(r.Context()))
}

// recordSignInFailure records a failed sign-in or second-factor attempt. c is nil when the
// email matched no user; the email is then not logged, since it may be a mistyped
// password.
func (d *Dashboard) recordSignInFailure(r *http.Request, c *user.Current, email string, err error) {
	attrs := []any{"reason", string(iogate.ErrorCodeOf(err)), "remote_addr", clientAddr(r).String(), "request_id", requestIDFrom(r.Context())}
	if c != nil && c.User != nil {
		attrs = append(attrs, "user_id", c.User.ID, "account_id", c.User.AccountID)
	}
	d.log.WarnContext(r.Context(), "dashboard sign-in failed", attrs...)
}

// recordSignOut records a sign-out.
func (d *Dashboard) recordSignOut(r *http.Request, c *user.Current) {
	d.log.InfoContext(r.Context(), "dashboard sign-out", "user_id", c.User.ID, "account_id", c.User.AccountID, "request_id", requestIDFrom(r.Context()))
}

// recordUserChange records a change to a dashboard user made by actor, or by a single-use
// link when actor is nil.
func (d *Dashboard) recordUserChange(r *http.Request, actor *user.Current, u *iogate.User, event string, detail map[string]string) {
	attrs := []any{"event", event, "user_id", u.ID, "account_id", u.AccountID, "request_id", requestIDFrom(r.Context())}
	if actor != nil {
		attrs = append(attrs, "actor_user_id", actor.User.ID)
	}
	for k, v := range detail {
		attrs = append(attrs, k, v)
	}
	d.log.InfoContext(r.Context(), "dashboard user change", attrs...)
}
