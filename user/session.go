package user

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// ErrSignInFailed is the one error for a wrong email or password, so that the sign-in page
// does not reveal which accounts exist.
var ErrSignInFailed = iogate.Errorf(iogate.CodeInvalid, "the email or password is incorrect")

// ErrRateLimited is the error for sign-in attempts beyond the limits.
var ErrRateLimited = iogate.Errorf(iogate.CodeRateLimited, "too many sign-in attempts; wait a minute and try again")

// ErrAccountSuspended is the error for a correct sign-in into a suspended account.
var ErrAccountSuspended = iogate.Errorf(iogate.CodeForbidden, "this account is suspended; contact your iogate operator")

// ErrNoSession means the request carries no valid session: none, unknown, expired or
// belonging to a suspended account or a removed user.
var ErrNoSession = iogate.Errorf(iogate.CodeInvalidToken, "sign in to continue")

// Current is an authenticated dashboard request's session with its user and account.
type Current struct {
	// ID is the session ID from the cookie. It never leaves this process except in that
	// cookie.
	ID      string
	Session *iogate.Session
	User    *iogate.User
	Account *iogate.Account
}

// SignIn checks an email and password from the client address ip and opens a session. The
// session needs the second factor first when the user has TOTP enabled. Failures return
// ErrSignInFailed, ErrRateLimited or ErrAccountSuspended; the suspension is reported only
// after the password verified.
func (s *Service) SignIn(ctx context.Context, email, password, ip string) (*Current, error) {
	email = lookupEmail(email)
	if !s.limits.allow(ip, "email:"+email) {
		return nil, ErrRateLimited
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		return nil, err
	}
	if u == nil {
		// Hash anyway, so that an unknown email takes as long as a wrong password.
		iogate.VerifyPassword(iogate.DummyPasswordHash(), password)
		return nil, ErrSignInFailed
	}
	if !iogate.VerifyPassword(u.PasswordHash, password) {
		return &Current{User: u}, ErrSignInFailed
	}
	a, err := s.store.FindAccountByID(ctx, u.AccountID)
	if err != nil {
		return nil, err
	}
	if a.Status != iogate.AccountActive {
		return &Current{User: u, Account: a}, ErrAccountSuspended
	}
	stage := iogate.SessionSignedIn
	if u.TOTPEnabled {
		stage = iogate.SessionSecondFactor
	}
	return s.openSession(ctx, u, a, stage, ip)
}

func (s *Service) openSession(ctx context.Context, u *iogate.User, a *iogate.Account, stage, ip string) (*Current, error) {
	id, err := newToken()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	sess := &iogate.Session{
		IDHash:      hashToken(id),
		UserID:      u.ID,
		AccountID:   u.AccountID,
		Stage:       stage,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   now.Add(s.cfg.MaxAge),
		ConfirmedAt: now,
		IP:          ip,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	return &Current{ID: id, Session: sess, User: u, Account: a}, nil
}

// lastSeenResolution returns how stale a session's last-seen time may get before a request
// writes it. It is a minute, so that most pages read the session without writing it, or a
// tenth of the idle timeout when that is shorter, so that an active session never idles out.
func (s *Service) lastSeenResolution() time.Duration {
	return min(time.Minute, s.cfg.IdleTimeout/10)
}

// Authenticate returns the session with ID id and its user and account. It returns
// ErrNoSession when the session does not exist, is idle longer than IdleTimeout, is past
// its absolute expiry, or its account is suspended. An ended session is deleted.
func (s *Service) Authenticate(ctx context.Context, id string) (*Current, error) {
	if !plausibleToken(id) {
		return nil, ErrNoSession
	}
	sess, err := s.store.FindSession(ctx, hashToken(id))
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, ErrNoSession
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout {
		return nil, s.end(ctx, sess)
	}
	u, err := s.store.FindUserByID(ctx, sess.UserID)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, s.end(ctx, sess)
	} else if err != nil {
		return nil, err
	}
	a, err := s.store.FindAccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	if a.Status != iogate.AccountActive {
		return nil, s.end(ctx, sess)
	}
	if now.Sub(sess.LastSeenAt) >= s.lastSeenResolution() {
		sess.LastSeenAt = now.UTC().Truncate(time.Microsecond)
		if err := s.store.UpdateSession(ctx, sess); err != nil && iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
			return nil, err
		}
	}
	return &Current{ID: id, Session: sess, User: u, Account: a}, nil
}

// end deletes an ended session and returns ErrNoSession, or the store's error.
func (s *Service) end(ctx context.Context, sess *iogate.Session) error {
	if err := s.store.DeleteSession(ctx, sess.IDHash); err != nil {
		return err
	}
	return ErrNoSession
}

// SignOut deletes the session server-side, so that its cookie stops working even if a copy
// of it survives in the browser.
func (s *Service) SignOut(ctx context.Context, id string) error {
	if !plausibleToken(id) {
		return nil
	}
	return s.store.DeleteSession(ctx, hashToken(id))
}

// CompleteSecondFactor checks a TOTP code or a recovery code for a session in the second
// factor stage. On success it deletes that session and opens a fully signed-in one with a
// new ID, so that an ID seen before the second factor is worth nothing after it. The bool
// result reports whether a recovery code was used.
func (s *Service) CompleteSecondFactor(ctx context.Context, cur *Current, code, ip string) (*Current, bool, error) {
	if cur.Session.Stage != iogate.SessionSecondFactor {
		return nil, false, iogate.Errorf(iogate.CodeConflict, "this session does not need a second factor")
	}
	if !s.limits.allow(ip, "user:"+cur.User.ID) {
		return nil, false, ErrRateLimited
	}
	recovery, err := s.checkSecondFactor(ctx, cur.User, code)
	if err != nil {
		return nil, false, err
	}
	if err := s.store.DeleteSession(ctx, cur.Session.IDHash); err != nil {
		return nil, false, err
	}
	next, err := s.openSession(ctx, cur.User, cur.Account, iogate.SessionSignedIn, ip)
	return next, recovery, err
}

// ErrWrongCode is the error for a TOTP or recovery code that does not verify.
var ErrWrongCode = iogate.Errorf(iogate.CodeInvalid, "the code is incorrect or was already used")

// checkSecondFactor accepts a current TOTP code or an unused recovery code.
func (s *Service) checkSecondFactor(ctx context.Context, u *iogate.User, code string) (bool, error) {
	code = strings.TrimSpace(code)
	if looksLikeRecoveryCode(code) {
		err := s.useRecoveryCode(ctx, u, code)
		return err == nil, err
	}
	return false, s.checkTOTP(ctx, u, code)
}

// NeedsConfirmation reports whether the session's last password or TOTP confirmation is
// older than ConfirmInterval, so that a sensitive change must request one again.
func (s *Service) NeedsConfirmation(cur *Current) bool {
	return s.now().Sub(cur.Session.ConfirmedAt) >= s.cfg.ConfirmInterval
}

// Confirm checks the user's password or current TOTP code and records the confirmation in
// the session. Attempts count against the user's sign-in limit.
func (s *Service) Confirm(ctx context.Context, cur *Current, secret, ip string) error {
	if !s.limits.allow(ip, "user:"+cur.User.ID) {
		return ErrRateLimited
	}
	secret = strings.TrimSpace(secret)
	ok := false
	if cur.User.TOTPEnabled && isDigits(secret) && len(secret) == totpDigits {
		err := s.checkTOTP(ctx, cur.User, secret)
		if err != nil && !errors.Is(err, ErrWrongCode) {
			return err
		}
		ok = err == nil
	} else {
		ok = iogate.VerifyPassword(cur.User.PasswordHash, secret)
	}
	if !ok && !cur.User.TOTPEnabled {
		return iogate.Errorf(iogate.CodeInvalid, "the password is incorrect")
	}
	if !ok {
		return iogate.Errorf(iogate.CodeInvalid, "the password or code is incorrect")
	}
	cur.Session.ConfirmedAt = s.now().UTC().Truncate(time.Microsecond)
	return s.store.UpdateSession(ctx, cur.Session)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
