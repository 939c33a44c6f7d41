package http

import (
	"context"
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// userActor returns the audit actor for a request made by, or on behalf of, the user u.
func userActor(r *http.Request, u *iogate.User) iogate.Actor {
	return iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: clientAddr(r).String()}
}

// actorContext returns the request context carrying the signed-in user as the audit actor,
// for changes of keys, users and settings, whose records commit with them.
func actorContext(r *http.Request, c *user.Current) context.Context {
	return iogate.WithActor(r.Context(), userActor(r, c.User))
}

// record appends an audit record of a sign-in, a failed sign-in, a sign-out or an export to
// the account's log. A failure is logged and does not fail the request. Changes of keys,
// users and settings are not recorded here: their records commit with them, in the store
// method that makes them.
func (d *Dashboard) record(r *http.Request, actor *iogate.User, accountID, event string, details map[string]any) {
	ctx := r.Context()
	if actor != nil {
		ctx = iogate.WithActor(ctx, userActor(r, actor))
	}
	if err := d.cfg.Auth.RecordEvent(ctx, accountID, event, details); err != nil {
		d.log.ErrorContext(ctx, "write dashboard audit record failed", "event", event, "account_id", accountID,
			"error", err, "request_id", requestIDFrom(ctx))
	}
}

// recordSignIn records a completed sign-in. method is password, totp or recovery_code.
func (d *Dashboard) recordSignIn(r *http.Request, c *user.Current, method string) {
	d.record(r, c.User, c.User.AccountID, iogate.AuditUserSignedIn, map[string]any{"method": method})
}

// recordSignInFailure records a failed sign-in or second-factor attempt in the log of the
// account whose user it targeted. An attempt on an unknown email has no account, so only
// the server log notes it, without the email, which may be a mistyped password.
func (d *Dashboard) recordSignInFailure(r *http.Request, c *user.Current, err error) {
	reason := string(iogate.ErrorCodeOf(err))
	switch {
	case err == user.ErrSignInFailed:
		reason = "wrong_password"
	case err == user.ErrWrongCode:
		reason = "wrong_code"
	case err == user.ErrRateLimited:
		reason = "rate_limited"
	case err == user.ErrAccountSuspended:
		reason = "account_suspended"
	}
	if c == nil || c.User == nil {
		d.log.WarnContext(r.Context(), "dashboard sign-in failed", "reason", reason, "remote_addr", clientAddr(r).String(),
			"request_id", requestIDFrom(r.Context()))
		return
	}
	d.record(r, c.User, c.User.AccountID, iogate.AuditUserSignInFailed, map[string]any{"reason": reason})
}

// recordSignOut records a sign-out.
func (d *Dashboard) recordSignOut(r *http.Request, c *user.Current) {
	d.record(r, c.User, c.User.AccountID, iogate.AuditUserSignedOut, nil)
}
