package user

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// ErrFormTokenInvalid is the error for a form post whose single-use token is missing, or
// was not made for this session and purpose.
var ErrFormTokenInvalid = iogate.Errorf(iogate.CodeInvalid, "this form has no valid single-use token; reload the page and submit it again")

// ErrFormUsed is the error for a form post whose single-use token has already taken effect.
var ErrFormUsed = iogate.Errorf(iogate.CodeConflict, "this form was already submitted")

// formNonceBytes is the length of a form token's random part: 128 bits, so that no two
// forms ever get the same token.
const formNonceBytes = 16

// formTokenMargin is how long a used form token's record outlives the session the token
// is bound to. Once the session has ended, the token is refused with it. The margin covers
// nodes whose clocks differ, one of which may still accept the session when another
// sweeps the record.
const formTokenMargin = time.Hour

// NewFormToken returns a single-use token for a form that must take effect once, such as
// the form that creates an API key, where a reload posts the form again. It is a random
// nonce and its HMAC, under the dashboard pepper, with the session ID and purpose, so it
// is valid only in this session and for this purpose. Nothing is stored until
// UseFormToken.
func (s *Service) NewFormToken(cur *Current, purpose string) string {
	var b [formNonceBytes]byte
	rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	return nonce + "." + s.formTokenMAC(cur, purpose, nonce)
}

func (s *Service) formTokenMAC(cur *Current, purpose, nonce string) string {
	return base64.RawURLEncoding.EncodeToString(s.keyed("form", cur.ID, purpose, nonce))
}

// formTokenHash checks that token came from NewFormToken for the session and purpose, and
// returns the hash under which its use is stored.
func (s *Service) formTokenHash(cur *Current, purpose, token string) ([]byte, error) {
	nonce, mac, ok := strings.Cut(token, ".")
	if !ok || cur.ID == "" || len(nonce) != base64.RawURLEncoding.EncodedLen(formNonceBytes) {
		return nil, ErrFormTokenInvalid
	}
	if !hmac.Equal([]byte(mac), []byte(s.formTokenMAC(cur, purpose, nonce))) {
		return nil, ErrFormTokenInvalid
	}
	return hashToken(token), nil
}

// FormTokenUsed reports whether the form token has already taken effect. It returns
// ErrFormTokenInvalid for a token that NewFormToken did not make for this session and
// purpose.
func (s *Service) FormTokenUsed(ctx context.Context, cur *Current, purpose, token string) (bool, error) {
	hash, err := s.formTokenHash(cur, purpose, token)
	if err != nil {
		return false, err
	}
	return s.store.FormTokenUsed(ctx, hash)
}

// UseFormToken records that the form token takes effect now. It returns ErrFormUsed when
// it already has, also when another request with the same token won a race, and
// ErrFormTokenInvalid as FormTokenUsed does. Call it after the form's checks passed,
// right before the change, and ReleaseFormToken if the change then fails.
func (s *Service) UseFormToken(ctx context.Context, cur *Current, purpose, token string) error {
	hash, err := s.formTokenHash(cur, purpose, token)
	if err != nil {
		return err
	}
	err = s.store.UseFormToken(ctx, hash, s.now().UTC(), cur.Session.ExpiresAt.Add(formTokenMargin))
	if iogate.ErrorCodeOf(err) == iogate.CodeConflict {
		return ErrFormUsed
	}
	return err
}

// ReleaseFormToken deletes the record of the form token's use, after the change it
// guarded failed, so that the same form can be submitted again.
func (s *Service) ReleaseFormToken(ctx context.Context, token string) error {
	return s.store.ReleaseFormToken(ctx, hashToken(token))
}
