package auth

import (
	"context"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/token"
)

// TokenRequest is a client-credentials token request, from either token endpoint.
type TokenRequest struct {
	ClientID     string
	ClientSecret string
	// Scopes narrows the token to a subset of the key's scopes; empty means all of them.
	Scopes []string
	// RemoteAddr is the client's address, checked against the key's IP allowlist.
	RemoteAddr netip.Addr
}

// IssuedToken is a freshly signed access token.
type IssuedToken struct {
	AccessToken string
	ExpiresIn   int64
	Scopes      []string
	ClientID    string
	AccountID   string
}

// ErrIPNotAllowed is returned when the secret verified but the request came from an
// address outside the key's allowlist. It names neither the address nor the list.
var ErrIPNotAllowed = &iogate.Error{Code: iogate.CodeForbidden, Message: "requests from this IP address are not allowed for this API key"}

// dummyHash stands in for the stored hash of an unknown client ID, so that an unknown ID
// costs the same keyed hash and comparison as a known one.
var dummyHash iogate.SecretHash

// IssueToken authenticates the client and signs an access token. Every authentication
// failure returns iogate.ErrInvalidClient; the IP allowlist is checked only after the secret
// verified, so that a denial never tells a stranger that a client ID exists.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (*IssuedToken, error) {
	now := s.now()
	k, generation, ok := s.authenticateClient(req.ClientID, req.ClientSecret)
	if !ok || k.expired(now) {
		s.metrics.TokenDenied(metrics.ReasonInvalidClient)
		return nil, iogate.ErrInvalidClient
	}
	if !iogate.IPAllowed(k.allowed, req.RemoteAddr) {
		s.metrics.TokenDenied(metrics.ReasonIPNotAllowed)
		return nil, ErrIPNotAllowed
	}

	scopes := k.scopes
	if len(req.Scopes) > 0 {
		if !iogate.ScopeSubset(req.Scopes, k.scopes) {
			s.metrics.TokenDenied(metrics.ReasonInvalidScope)
			return nil, iogate.Errorf(iogate.CodeInvalidScope, "the requested scope exceeds the scopes of this API key")
		}
		scopes = req.Scopes
	}

	exp := now.Add(s.cfg.TokenTTL)
	if !k.expiresAt.IsZero() && k.expiresAt.Before(exp) {
		exp = k.expiresAt
	}
	claims := &token.Claims{
		Issuer:     s.cfg.Issuer,
		Subject:    k.clientID,
		Audience:   s.cfg.Issuer,
		ClientID:   k.clientID,
		AccountID:  k.accountID,
		Scope:      strings.Join(scopes, " "),
		IssuedAt:   now.Unix(),
		NotBefore:  now.Unix(),
		Expiry:     exp.Unix(),
		ID:         uuid.NewString(),
		Generation: generation,
	}
	signed, err := s.keyring.Sign(claims)
	if err != nil {
		s.metrics.TokenDenied(metrics.ReasonInternal)
		return nil, iogate.WrapError(iogate.CodeInternal, err, "token signing failed")
	}
	s.metrics.TokenIssued()
	s.uses.record(iogate.KeyUse{ClientID: k.clientID, Generation: generation, At: now, IP: req.RemoteAddr.String()})
	return &IssuedToken{
		AccessToken: signed,
		ExpiresIn:   claims.Expiry - now.Unix(),
		Scopes:      scopes,
		ClientID:    k.clientID,
		AccountID:   k.accountID,
	}, nil
}

// authenticateClient returns the key and the generation of the secret that matched. It
// hashes the secret and compares it with both of a key's secrets whether or not the ID is
// known, so the work done does not depend on which check fails.
func (s *Service) authenticateClient(clientID, secret string) (*keyState, int, bool) {
	if len(secret) == 0 || len(secret) > iogate.MaxSecretLength || len(clientID) > 64 {
		return nil, 0, false
	}
	// A generated secret with a bad checksum was mistyped or truncated: it cannot match
	// any key, whoever asks, so it is rejected before the hash.
	if iogate.HasGeneratedShape(secret) && !iogate.ChecksumValid(secret) {
		return nil, 0, false
	}
	h := iogate.HashSecret(s.pepper, secret)
	k := s.view.get(clientID)
	if k == nil {
		h.Equal(dummyHash)
		h.Equal(dummyHash)
		return nil, 0, false
	}
	now := s.now()
	currentOK := h.Equal(k.current)
	previousOK := false
	if p := k.previous; p != nil {
		previousOK = h.Equal(p.Hash) && now.Before(p.ExpiresAt)
	} else {
		h.Equal(dummyHash)
	}
	switch {
	case currentOK:
		return k, k.currentG, true
	case previousOK:
		return k, k.previous.Generation, true
	}
	return nil, 0, false
}
