package auth

import (
	"context"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"github.com/iogate/iogate"
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
//
// Every issued token gets an audit record, and IssueToken returns only after that record
// has committed: a token the log does not show is never handed out. Concurrent issuances
// share one transaction (group commit). Denials of a known client ID are recorded too, but
// nobody waits for those records, because waiting would make a wrong secret for an
// existing client ID slower to answer than one for an unknown ID.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (*IssuedToken, error) {
	now := s.now()
	k, generation, ok := s.authenticateClient(req.ClientID, req.ClientSecret)
	switch {
	case !ok:
		s.recordDenial(k, req.RemoteAddr, iogate.DenyInvalidSecret)
		return nil, iogate.ErrInvalidClient
	case k.suspended:
		s.recordDenial(k, req.RemoteAddr, iogate.DenyAccountSuspended)
		return nil, iogate.ErrInvalidClient
	case k.expired(now):
		s.recordDenial(k, req.RemoteAddr, iogate.DenyKeyExpired)
		return nil, iogate.ErrInvalidClient
	case !iogate.IPAllowed(k.allowed, req.RemoteAddr):
		s.recordDenial(k, req.RemoteAddr, iogate.DenyIPNotAllowed)
		return nil, ErrIPNotAllowed
	}

	scopes := k.scopes
	if len(req.Scopes) > 0 {
		if !iogate.ScopeSubset(req.Scopes, k.scopes) {
			s.recordDenial(k, req.RemoteAddr, iogate.DenyScopeNotAllowed)
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
		return nil, iogate.WrapError(iogate.CodeInternal, err, "token signing failed")
	}
	if err := s.recordIssued(k, req.RemoteAddr, claims); err != nil {
		return nil, err
	}
	s.uses.record(iogate.KeyUse{ClientID: k.clientID, Generation: generation, At: now, IP: req.RemoteAddr.String()})
	return &IssuedToken{
		AccessToken: signed,
		ExpiresIn:   claims.Expiry - now.Unix(),
		Scopes:      scopes,
		ClientID:    k.clientID,
		AccountID:   k.accountID,
	}, nil
}

// recordIssued appends the audit record of an issued token and waits for its commit.
func (s *Service) recordIssued(k *keyState, remote netip.Addr, claims *token.Claims) error {
	rec, err := s.newRecord(k.accountID, iogate.AuditTokenIssued, clientActor(k.clientID, remote), map[string]any{
		"scopes":           claims.Scopes(),
		"secretGeneration": claims.Generation,
		"expiresAt":        claims.ExpiresAt().UTC(),
	})
	if err != nil {
		return err
	}
	rec.ClientID, rec.TokenID = k.clientID, claims.ID
	if err := s.audit.commit(rec); err != nil {
		return iogate.WrapError(iogate.CodeUnavailable, err, "the audit log could not be written; retry later")
	}
	return nil
}

// recordDenial queues the audit record of a denied token request. A request for an
// unknown client ID (k nil) has no account whose log could hold it.
//
// NOTE: queueing costs a lock and a slice append that an unknown client ID does not. The
// difference has not been measured; it is small next to network jitter but not zero.
func (s *Service) recordDenial(k *keyState, remote netip.Addr, reason string) {
	if k == nil {
		return
	}
	rec, err := s.newRecord(k.accountID, iogate.AuditTokenDenied, clientActor(k.clientID, remote), nil)
	if err != nil {
		s.log.Error("build audit record failed", "client_id", k.clientID, "error", err)
		return
	}
	rec.ClientID, rec.Reason = k.clientID, reason
	s.audit.enqueue(rec)
}

func clientActor(clientID string, remote netip.Addr) iogate.Actor {
	a := iogate.Actor{Type: iogate.ActorClient, ID: clientID}
	if remote.IsValid() {
		a.IP = remote.String()
	}
	return a
}

// authenticateClient returns the key of clientID (nil when unknown), the generation of
// the secret that matched, and whether one did. It hashes the secret and compares it with
// both of a key's secrets whether or not the ID is known, so the work done does not depend
// on which check fails.
func (s *Service) authenticateClient(clientID, secret string) (*keyState, int, bool) {
	if len(secret) == 0 || len(secret) > iogate.MaxSecretLength || len(clientID) > 64 {
		return nil, 0, false
	}
	k := s.view.get(clientID)

	// A generated secret with a bad checksum was mistyped or truncated: it cannot match
	// any key, whoever asks, so it is rejected before the hash.
	if iogate.HasGeneratedShape(secret) && !iogate.ChecksumValid(secret) {
		return k, 0, false
	}
	h := iogate.HashSecret(s.pepper, secret)
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
	return k, 0, false
}
