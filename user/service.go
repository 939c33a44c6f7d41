// Package user manages the people who use the dashboard: their accounts' first-run setup,
// invitations and password resets by single-use links, sign-in with a password and an
// optional TOTP second factor, sessions, and roles. The http package serves it as pages;
// the CLI uses it for links and user administration.
package user

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/iogate/iogate"
)

// Config holds the settings of the user service. Zero values take the documented defaults.
type Config struct {
	// IdleTimeout ends a session that has not been used for this long. Default 30 minutes.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after sign-in, however active. Default 12 hours.
	MaxAge time.Duration
	// ConfirmInterval is how long a password or TOTP confirmation covers sensitive dashboard
	// changes, such as key and user changes, before the user must confirm again. Default 5
	// minutes.
	ConfirmInterval time.Duration
	// TOTPIssuer names the service in authenticator apps. Default "iogate".
	TOTPIssuer string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives background errors; nil discards them.
	Logger *slog.Logger
	// AuditChain hashes the audit records that the service's changes commit with, such as
	// the account.created record of first-run setup. Required: New fails without it.
	AuditChain *iogate.AuditChain
}

// Lifetimes of single-use links.
const (
	SetupLinkTTL  = time.Hour
	InviteLinkTTL = 72 * time.Hour
	ResetLinkTTL  = time.Hour
)

// Service implements users, links and sessions on a store.
type Service struct {
	store  iogate.Store
	master *iogate.MasterKey
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	// pepper keys the hashes of recovery codes and the CSRF tokens.
	pepper []byte
	limits *signInLimits
}

// pepperName is the slot of the dashboard's pepper in the sealed-secrets table.
const pepperName = "pepper/dashboard"

// New returns the user service. It loads the dashboard pepper, creating it on first use, and
// fails with iogate.ErrWrongMasterKey when master does not decrypt it.
func New(ctx context.Context, store iogate.Store, master *iogate.MasterKey, cfg Config) (*Service, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.ConfirmInterval <= 0 {
		cfg.ConfirmInterval = 5 * time.Minute
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "iogate"
	}
	if cfg.AuditChain == nil {
		return nil, errors.New("user service: Config.AuditChain is missing; pass the token engine's AuditChain")
	}
	s := &Service{store: store, master: master, cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.limits = newSignInLimits(s.now)
	pepper, err := iogate.LoadOrCreateSealedSecret(ctx, store, master, pepperName, 32)
	if err != nil {
		return nil, err
	}
	s.pepper = pepper
	return s, nil
}

// Config returns the effective settings, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// newToken returns 32 random bytes in unpadded base64url: the form of session IDs and link
// tokens. Only its SHA-256 is stored.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashToken returns the SHA-256 of a session ID or link token. These are 256 random bits,
// so an unkeyed fast hash is enough, because that space cannot be searched.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// keyed returns HMAC-SHA-256 of the parts under the dashboard pepper.
func (s *Service) keyed(parts ...string) []byte {
	m := hmac.New(sha256.New, s.pepper)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// CSRFToken returns the form token for a session ID, or for the anonymous cookie that
// protects the sign-in and link forms. It is derived with a server key, so it is never
// stored, changes with the session, and cannot be computed from the cookie alone.
func (s *Service) CSRFToken(cookieValue string) string {
	return base64.RawURLEncoding.EncodeToString(s.keyed("csrf", cookieValue))
}

// CheckCSRFToken reports whether token is the CSRF token of cookieValue, in constant time.
func (s *Service) CheckCSRFToken(cookieValue, token string) bool {
	if cookieValue == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(s.CSRFToken(cookieValue)), []byte(token))
}

// LinkURL returns the URL of a single-use link under base, such as
// https://localhost:8443/dashboard/setup?token=...
func LinkURL(base, purpose, token string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/dashboard/" + purpose
	u.RawQuery = url.Values{"token": {token}}.Encode()
	return u.String()
}

// userRecord returns the audit record of event about u by the actor in ctx, for the store
// method that makes the change to commit with it.
func (s *Service) userRecord(ctx context.Context, u *iogate.User, event string, at time.Time, details map[string]any) (*iogate.AuditRecord, error) {
	return s.cfg.AuditChain.NewUserRecord(u, event, iogate.ActorFrom(ctx), at, details)
}
