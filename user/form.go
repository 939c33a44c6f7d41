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
// It is the store's iogate.ErrFormTokenUsed, so that errors.Is matches either.
var ErrFormUsed = iogate.ErrFormTokenUsed

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
// is valid only in this session and for this purpose. Nothing is stored until the form
// takes effect (see WithFormToken).
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

// WithFormToken returns ctx carrying the use of the form token, which the key change made
// with the returned context records in its own transaction (see iogate.WithFormTokenUse).
// So the token is used up exactly when the key is created or rotated: a change that fails,
// also because the client disconnected and canceled it, leaves the form usable. The change
// fails with ErrFormUsed when the token has already taken effect, also when another request
// with it won a race. WithFormToken itself returns ErrFormTokenInvalid as FormTokenUsed
// does.
func (s *Service) WithFormToken(ctx context.Context, cur *Current, purpose, token string) (context.Context, error) {
	use, err := s.formTokenUse(cur, purpose, token)
	if err != nil {
		return ctx, err
	}
	return iogate.WithFormTokenUse(ctx, use), nil
}

// UseFormToken records on its own that the form token takes effect now, where a key change
// records it in its own transaction (see WithFormToken). It returns ErrFormUsed when it
// already has, also when another request with the same token won a race, and
// ErrFormTokenInvalid as FormTokenUsed does.
func (s *Service) UseFormToken(ctx context.Context, cur *Current, purpose, token string) error {
	use, err := s.formTokenUse(cur, purpose, token)
	if err != nil {
		return err
	}
	return s.store.UseFormToken(ctx, use.Hash, use.UsedAt, use.ExpiresAt)
}

// formTokenUse checks the form token as FormTokenUsed does and returns its use now. The
// record outlives the session the token is bound to by formTokenMargin.
func (s *Service) formTokenUse(cur *Current, purpose, token string) (iogate.FormTokenUse, error) {
	hash, err := s.formTokenHash(cur, purpose, token)
	if err != nil {
		return iogate.FormTokenUse{}, err
	}
	return iogate.FormTokenUse{Hash: hash, UsedAt: s.now().UTC(), ExpiresAt: cur.Session.ExpiresAt.Add(formTokenMargin)}, nil
}
