package user

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// errLinkInvalid is the single answer for a link token that is unknown, used or expired, so
// the page does not tell which.
var errLinkInvalid = iogate.Errorf(iogate.CodeNotFound, "this link is not valid: it was already used, it expired, or it was mistyped; ask for a new one")

// CreateSetupLink returns the token of a new first-run setup link, valid for SetupLinkTTL,
// and makes earlier unused setup links invalid. It returns CodeConflict once an account
// exists.
func (s *Service) CreateSetupLink(ctx context.Context) (string, error) {
	n, err := s.store.CountAccounts(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", iogate.Errorf(iogate.CodeConflict, "an account already exists; setup links are only for the first run")
	}
	token, _, err := s.createLink(ctx, &iogate.UserLink{Purpose: iogate.LinkSetup}, SetupLinkTTL, nil)
	return token, err
}

// InviteUser returns the token of an invitation for email to join the account with role,
// and the expiry that the store recorded for it. The invitation is stored with a
// user.invited record by the actor in ctx. It returns CodeNotFound for an unknown account,
// CodeConflict when the email already belongs to a user, and CodeForbidden when that
// actor is a user who is no longer an owner of the account.
func (s *Service) InviteUser(ctx context.Context, accountID, email string, role iogate.Role) (string, time.Time, error) {
	email, err := iogate.NormalizeEmail(email)
	if err != nil {
		return "", time.Time{}, err
	}
	if _, err := iogate.ParseRole(string(role)); err != nil {
		return "", time.Time{}, err
	}
	a, err := s.store.FindAccountByID(ctx, accountID)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return "", time.Time{}, iogate.Errorf(iogate.CodeNotFound, "account %q not found", accountID)
	} else if err != nil {
		return "", time.Time{}, err
	}
	if a.Status != iogate.AccountActive {
		return "", time.Time{}, iogate.Errorf(iogate.CodeForbidden, "account %q is suspended; resume it first", accountID)
	}
	if _, err := s.store.FindUserByEmail(ctx, email); err == nil {
		return "", time.Time{}, iogate.Errorf(iogate.CodeConflict, "%s already has a dashboard user", email)
	} else if iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		return "", time.Time{}, err
	}
	// The record names the invitation by its ID, which its user.invitation_cancelled
	// record names too.
	l := &iogate.UserLink{ID: iogate.NewID(), Purpose: iogate.LinkInvite, AccountID: accountID, Email: email, Role: role}
	return s.createLink(ctx, l, InviteLinkTTL, map[string]any{"invitationId": l.ID, "email": email, "role": role})
}

// CreateResetLink returns the token of a password-reset link for the user with email, and
// the expiry that the store recorded for it, or CodeNotFound. The link is stored with a
// user.reset_link_created record by the actor in ctx.
func (s *Service) CreateResetLink(ctx context.Context, email string) (string, time.Time, error) {
	u, err := s.FindUserByEmail(ctx, email)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.createLink(ctx, &iogate.UserLink{Purpose: iogate.LinkReset, UserID: u.ID, AccountID: u.AccountID, Email: u.Email}, ResetLinkTTL,
		map[string]any{"userId": u.ID, "email": u.Email})
}

// createLink stores l, valid for ttl, with the actor in ctx as its creator and a new ID
// unless l has one, and returns its token and its expiry as stored. A link of a purpose
// that has an audit event (iogate.LinkEvent) is stored with its record, by that actor and
// with details.
func (s *Service) createLink(ctx context.Context, l *iogate.UserLink, ttl time.Duration, details map[string]any) (string, time.Time, error) {
	token, err := newToken()
	if err != nil {
		return "", time.Time{}, err
	}
	// The stores keep microseconds, so the expiry returned is the one they record.
	now := s.now().UTC().Truncate(time.Microsecond)
	actor := iogate.ActorFrom(ctx)
	if l.ID == "" {
		l.ID = iogate.NewID()
	}
	l.TokenHash = hashToken(token)
	l.CreatedBy = iogate.Actor{Type: actor.Type, ID: actor.ID}
	l.CreatedAt, l.ExpiresAt = now, now.Add(ttl)
	var rec *iogate.AuditRecord
	if event := iogate.LinkEvent(l.Purpose); event != "" {
		if rec, err = s.cfg.AuditChain.NewRecord(l.AccountID, event, actor, now, details); err != nil {
			return "", time.Time{}, err
		}
	}
	if err := s.store.CreateUserLink(ctx, l, rec); err != nil {
		return "", time.Time{}, err
	}
	return token, l.ExpiresAt, nil
}

// CheckLink returns the link for token if it has the purpose and is still valid, or a
// CodeNotFound error that does not say why it is not, except ErrSetupLinkReplaced for a
// setup link that a newer one replaced.
func (s *Service) CheckLink(ctx context.Context, token, purpose string) (*iogate.UserLink, error) {
	if !plausibleToken(token) {
		return nil, errLinkInvalid
	}
	l, err := s.store.FindUserLink(ctx, hashToken(token), purpose, s.now())
	// Reporting that a setup link was replaced reveals nothing to someone who guesses tokens,
	// because only a token that iogate printed gets that error.
	if errors.Is(err, iogate.ErrSetupLinkReplaced) {
		return nil, err
	}
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, errLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	// The CLI may have created an account after the link was printed. The setup form would
	// then fail when posted, so the link is turned away before the form is shown.
	if purpose == iogate.LinkSetup {
		n, err := s.store.CountAccounts(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, errSetupDone
		}
	}
	return l, nil
}

// errSetupDone is the error for a setup link used after an account was created some other
// way, such as with iogate account create.
var errSetupDone = iogate.Errorf(iogate.CodeConflict, "iogate is already set up: an account exists, so this setup link can no longer be used. "+
	"Sign in, or ask an owner of your account for an invitation. An account created with the CLI has no owner until an operator runs "+
	"iogate user invite --account ID --email EMAIL --role owner")

// plausibleToken rejects strings that newToken cannot have made, before any store read.
func plausibleToken(t string) bool {
	if len(t) != 43 {
		return false
	}
	return strings.Trim(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// SetupRequest holds what the first-run setup page asks for.
type SetupRequest struct {
	AccountName string
	Email       string
	Password    string
	// RemoteAddr is the address the page was posted from, for the audit record.
	RemoteAddr string
}

// CompleteSetup uses the setup link to create the first account and its owner, with the
// account's account.created record and the owner's user.created record, both by the new
// owner and committed with the account. Validation errors come back before the link is
// used, so a typo does not burn it.
func (s *Service) CompleteSetup(ctx context.Context, token string, req SetupRequest) (*iogate.User, error) {
	// Check the link before hashing the password: the hash costs tens of milliseconds and
	// many megabytes, which a stranger must not be able to make the server spend.
	if _, err := s.CheckLink(ctx, token, iogate.LinkSetup); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	a := &iogate.Account{ID: iogate.NewID(), Name: req.AccountName, Email: req.Email, Status: iogate.AccountActive, CreatedAt: now}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	u, err := s.newUser(a.ID, a.Email, iogate.RoleOwner, req.Password, now)
	if err != nil {
		return nil, err
	}
	actor := iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: req.RemoteAddr}
	accountRec, err := s.cfg.AuditChain.NewAccountCreatedRecord(a, actor, "setup_link")
	if err != nil {
		return nil, err
	}
	ownerRec, err := s.cfg.AuditChain.NewUserRecord(u, iogate.AuditUserCreated, actor, now, map[string]any{"role": u.Role, "via": "setup_link"})
	if err != nil {
		return nil, err
	}
	err = s.store.CreateAccountWithOwner(ctx, hashToken(token), now, a, u, accountRec, ownerRec)
	if errors.Is(err, iogate.ErrSetupLinkReplaced) {
		return nil, err
	}
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, errLinkInvalid
	}
	return u, err
}

// AcceptInvite uses the invitation link to create the invited user with password, with a
// user.created record by the new user from remoteAddr, the address the page was posted
// from.
func (s *Service) AcceptInvite(ctx context.Context, token, password, remoteAddr string) (*iogate.User, error) {
	l, err := s.CheckLink(ctx, token, iogate.LinkInvite)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	u, err := s.newUser(l.AccountID, l.Email, l.Role, password, now)
	if err != nil {
		return nil, err
	}
	actor := iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: remoteAddr}
	rec, err := s.cfg.AuditChain.NewUserRecord(u, iogate.AuditUserCreated, actor, now, map[string]any{"role": u.Role, "via": "invitation"})
	if err != nil {
		return nil, err
	}
	err = s.store.AcceptInvite(ctx, hashToken(token), now, u, rec)
	switch iogate.ErrorCodeOf(err) {
	case iogate.CodeNotFound:
		return nil, errLinkInvalid
	case iogate.CodeConflict:
		return nil, iogate.Errorf(iogate.CodeConflict, "%s already has a dashboard user; sign in instead", l.Email)
	}
	return u, err
}

// ResetPassword uses the reset link to set a new password and ends the user's sessions,
// with a user.password_reset record by the user from remoteAddr, the address the page was
// posted from.
func (s *Service) ResetPassword(ctx context.Context, token, password, remoteAddr string) (*iogate.UserLink, error) {
	l, err := s.CheckLink(ctx, token, iogate.LinkReset)
	if err != nil {
		return nil, err
	}
	hash, err := hashNewPassword(password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &iogate.User{ID: l.UserID, AccountID: l.AccountID, Email: l.Email}
	actor := iogate.Actor{Type: iogate.ActorUser, ID: u.ID, IP: remoteAddr}
	rec, err := s.cfg.AuditChain.NewUserRecord(u, iogate.AuditUserPasswordReset, actor, now, nil)
	if err != nil {
		return nil, err
	}
	err = s.store.ResetPassword(ctx, hashToken(token), now, hash, rec)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, errLinkInvalid
	}
	return l, err
}

func (s *Service) newUser(accountID, email string, role iogate.Role, password string, now time.Time) (*iogate.User, error) {
	email, err := iogate.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	hash, err := hashNewPassword(password)
	if err != nil {
		return nil, err
	}
	return &iogate.User{ID: iogate.NewID(), AccountID: accountID, Email: email, Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}, nil
}

// hashNewPassword checks a password that a user chose and returns its argon2id hash.
func hashNewPassword(password string) (string, error) {
	if err := iogate.ValidatePassword(password); err != nil {
		return "", err
	}
	return iogate.HashPassword(password)
}
