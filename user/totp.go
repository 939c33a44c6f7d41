package user

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238 defaults that every authenticator app supports.
const (
	totpDigits = 6
	totpPeriod = 30
	// totpSkew accepts the code of the previous and the next period too, for clocks that
	// are a little off.
	totpSkew = 1
)

// Recovery codes: ten per user, each ten characters from a 32-letter alphabet (50 bits),
// shown as two groups of five.
const (
	recoveryCodeCount = 10
	recoveryCodeLen   = 10
	// recoveryCodeAlphabet is Crockford's base32 in lower case: 32 symbols, so that a byte
	// modulo 32 picks each with the same chance, and without i, l, o and u, which a
	// reader could confuse with 1, 0 and v.
	recoveryCodeAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
)

func sealName(userID string) string { return iogate.TOTPSealName(userID) }

// TOTPEnrolment is a pending TOTP enrolment: the seed to put into an authenticator app.
type TOTPEnrolment struct {
	key *otp.Key
}

// Secret returns the base32 seed, for typing into an app that cannot scan the QR code.
func (e *TOTPEnrolment) Secret() string { return e.key.Secret() }

// URL returns the otpauth:// URL that the QR code holds.
func (e *TOTPEnrolment) URL() string { return e.key.URL() }

// Image returns the QR code of URL.
func (e *TOTPEnrolment) Image(size int) (image.Image, error) { return e.key.Image(size, size) }

// BeginTOTP creates a new seed for the user, stores it sealed as a pending enrolment, and
// returns it. A user with TOTP already enabled keeps the old seed until ConfirmTOTP. The
// new seed replaces that of an enrolment in progress, whose codes then no longer turn TOTP
// on.
func (s *Service) BeginTOTP(ctx context.Context, u *iogate.User) (*TOTPEnrolment, error) {
	if u.TOTPEnabled {
		return nil, iogate.Errorf(iogate.CodeConflict, "two-factor authentication is already on")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.cfg.TOTPIssuer,
		AccountName: u.Email,
		Period:      totpPeriod,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("generate TOTP seed: %w", err)
	}
	sealed, err := s.master.Seal(sealName(u.ID), []byte(key.String()))
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	// The store writes the seed only while TOTP is off, even if u, read when the request
	// began, shows it off.
	if err := s.store.SetUserTOTPSeed(ctx, u.ID, sealed, now); err != nil {
		return nil, err
	}
	u.TOTPSeedSealed, u.UpdatedAt = sealed, now
	return &TOTPEnrolment{key: key}, nil
}

// ErrTOTPSeedHidden is the error for reading the seed of a pending enrolment from a session
// whose last confirmation is older than ConfirmInterval.
var ErrTOTPSeedHidden = iogate.Errorf(iogate.CodeForbidden,
	"the setup key of two-factor authentication is shown only shortly after you confirm with your password; start the setup again on the Security page")

// PendingTOTP returns the pending enrolment of the session's user, or CodeNotFound when
// there is none. It returns ErrTOTPSeedHidden when the session needs a confirmation, as a
// key change would. So the seed is shown only while the confirmation that began the
// enrolment, or a later one, is fresh, and a copied session cookie alone cannot read a
// seed that the user confirms later.
func (s *Service) PendingTOTP(cur *Current) (*TOTPEnrolment, error) {
	u := cur.User
	if !HasPendingTOTP(u) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no two-factor enrolment is in progress")
	}
	if s.NeedsConfirmation(cur) {
		return nil, ErrTOTPSeedHidden
	}
	key, err := s.openKey(u)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{key: key}, nil
}

// HasPendingTOTP reports whether the user began a TOTP enrolment that no first code has
// confirmed yet.
func HasPendingTOTP(u *iogate.User) bool { return !u.TOTPEnabled && u.TOTPSeedSealed != nil }

func (s *Service) openKey(u *iogate.User) (*otp.Key, error) {
	raw, err := s.master.Open(sealName(u.ID), u.TOTPSeedSealed)
	if err != nil {
		return nil, err
	}
	return otp.NewKeyFromURL(string(raw))
}

// ConfirmTOTP checks the first code from the pending enrolment, turns TOTP on and returns
// new recovery codes, which are shown this once and stored only as keyed hashes. The codes
// and the user.totp_enabled record, by the actor in ctx, commit with the change.
func (s *Service) ConfirmTOTP(ctx context.Context, u *iogate.User, code string) ([]string, error) {
	if u.TOTPEnabled || u.TOTPSeedSealed == nil {
		return nil, iogate.Errorf(iogate.CodeConflict, "no two-factor enrolment is in progress; start again")
	}
	if err := s.checkTOTP(ctx, u, code); err != nil {
		return nil, err
	}
	codes, hashes, err := s.newRecoveryCodes(u)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	rec, err := s.userRecord(ctx, u, iogate.AuditUserTOTPEnabled, now, nil)
	if err != nil {
		return nil, err
	}
	// TOTP goes on only with the seed whose code was just checked: an enrolment started
	// again meanwhile in another tab makes this one fail.
	if err := s.store.EnableUserTOTP(ctx, u.ID, u.TOTPSeedSealed, hashes, now, rec); err != nil {
		return nil, err
	}
	u.TOTPEnabled, u.UpdatedAt = true, now
	return codes, nil
}

// DisableTOTP turns two-factor authentication off and deletes the seed and recovery codes,
// with a user.totp_disabled record by the actor in ctx. It refuses when the account
// requires two-factor authentication.
func (s *Service) DisableTOTP(ctx context.Context, u *iogate.User) error {
	required, err := s.store.AccountRequiresTOTP(ctx, u.AccountID)
	if err != nil {
		return err
	}
	if required {
		return iogate.Errorf(iogate.CodeForbidden, "your account requires two-factor authentication, so it cannot be turned off")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	rec, err := s.userRecord(ctx, u, iogate.AuditUserTOTPDisabled, now, nil)
	if err != nil {
		return err
	}
	if err := s.store.DisableUserTOTP(ctx, u.ID, now, rec); err != nil {
		return err
	}
	u.TOTPEnabled, u.TOTPSeedSealed, u.UpdatedAt = false, nil, now
	return nil
}

// checkTOTP accepts a code of the user's seed for the current period or one period either
// side, once: the store records the period used, so a code seen by a shoulder-surfer or a
// proxy cannot be replayed.
func (s *Service) checkTOTP(ctx context.Context, u *iogate.User, code string) error {
	code = strings.TrimSpace(code)
	if u.TOTPSeedSealed == nil || len(code) != totpDigits || !isDigits(code) {
		return ErrWrongCode
	}
	key, err := s.openKey(u)
	if err != nil {
		return err
	}
	now := s.now()
	step := now.Unix() / totpPeriod
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	matched := int64(-1)
	// Compare against every candidate in constant time, so the time taken does not say
	// which period matched.
	for offset := int64(-totpSkew); offset <= totpSkew; offset++ {
		want, err := totp.GenerateCodeCustom(key.Secret(), time.Unix((step+offset)*totpPeriod, 0), opts)
		if err != nil {
			return err
		}
		if hmac.Equal([]byte(want), []byte(code)) {
			matched = step + offset
		}
	}
	if matched < 0 {
		return ErrWrongCode
	}
	if err := s.store.UseTOTPStep(ctx, u.ID, matched); err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeConflict {
			return ErrWrongCode
		}
		return err
	}
	return nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes, with a
// user.recovery_codes_replaced record by the actor in ctx, and returns the new codes. It
// returns ErrUserChanged when TOTP was turned off, or enrolled again with another seed,
// after u was loaded: the store keeps codes only while the seed they were made for is on.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, u *iogate.User) ([]string, error) {
	if !u.TOTPEnabled {
		return nil, iogate.Errorf(iogate.CodeConflict, "turn on two-factor authentication first")
	}
	codes, hashes, err := s.newRecoveryCodes(u)
	if err != nil {
		return nil, err
	}
	rec, err := s.userRecord(ctx, u, iogate.AuditUserRecoveryCodesReplaced, s.now(), nil)
	if err != nil {
		return nil, err
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, u.ID, u.TOTPSeedSealed, hashes, rec); err != nil {
		return nil, err
	}
	return codes, nil
}

// newRecoveryCodes returns a new set of recovery codes for u and their keyed hashes.
func (s *Service) newRecoveryCodes(u *iogate.User) ([]string, [][]byte, error) {
	codes := make([]string, recoveryCodeCount)
	hashes := make([][]byte, recoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, nil, err
		}
		codes[i] = c
		hashes[i] = s.recoveryHash(u.ID, c)
	}
	return codes, hashes, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, u *iogate.User) (int, error) {
	return s.store.CountRecoveryCodes(ctx, u.ID)
}

func newRecoveryCode() (string, error) {
	var b [recoveryCodeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	out := make([]byte, 0, recoveryCodeLen+1)
	for i, v := range b {
		if i == recoveryCodeLen/2 {
			out = append(out, '-')
		}
		out = append(out, recoveryCodeAlphabet[int(v)%len(recoveryCodeAlphabet)])
	}
	return string(out), nil
}

// normalizeRecoveryCode lower-cases a typed code, drops spaces and dashes, and reads the
// look-alikes o, i and l as 0, 1 and 1, as Crockford's base32 does.
func normalizeRecoveryCode(code string) string {
	return strings.NewReplacer("-", "", " ", "", "o", "0", "i", "1", "l", "1").Replace(strings.ToLower(strings.TrimSpace(code)))
}

func looksLikeRecoveryCode(code string) bool {
	return len(normalizeRecoveryCode(code)) == recoveryCodeLen && !isDigits(code)
}

// recoveryHash is HMAC-SHA-256 under the dashboard pepper: 50-bit codes are too short for
// an unkeyed hash, and the pepper is sealed under the master key, outside the database.
func (s *Service) recoveryHash(userID, code string) []byte {
	return s.keyed("recovery-code", userID, normalizeRecoveryCode(code))
}

func (s *Service) useRecoveryCode(ctx context.Context, u *iogate.User, code string) error {
	if !u.TOTPEnabled {
		return ErrWrongCode
	}
	err := s.store.UseRecoveryCode(ctx, u.ID, s.recoveryHash(u.ID, code), s.now().UTC())
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return ErrWrongCode
	}
	return err
}
