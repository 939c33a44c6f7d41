package auth

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/token"
)

// Principal is the authenticated caller of a bearer request.
type Principal struct {
	ClientID  string
	AccountID string
	// Scopes are the token's scopes. The slice may be shared with every token and key that
	// has the same scopes, so writing to it would change theirs: do not modify it.
	Scopes  []string
	TokenID string
}

// HasScope reports whether the principal's token carries scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Authenticate verifies a bearer token against the live view of its key. It reads no
// store: the signature is checked once per token and cached, and everything that can change
// after issuance (the key's existence, expiry, secret generations, scopes, allowlist,
// revoked tokens) is checked against the view on every call. It returns an error that
// errors.Is matches to iogate.ErrInvalidToken for a token that is not valid (see
// IsOutdatedCredential for the tokens that iogate issued), and ErrStale while the view
// may be out of date. For a valid token from an address that the key does not allow, it
// returns the principal together with an error matching ErrIPNotAllowed, so that the
// caller can log whose token it was, and queues an access.denied audit record.
func (s *Service) Authenticate(ctx context.Context, raw string, remote netip.Addr) (*Principal, error) {
	return s.authenticate(raw, remote, s.metrics)
}

// Recheck verifies a token again that Authenticate accepted earlier in the same request, as
// Authenticate does, but leaves the verification metrics alone, which counted the request.
func (s *Service) Recheck(ctx context.Context, raw string, remote netip.Addr) (*Principal, error) {
	return s.authenticate(raw, remote, nil)
}

// authenticate is Authenticate with the metrics m, nil to record none.
func (s *Service) authenticate(raw string, remote netip.Addr, m *metrics.Metrics) (*Principal, error) {
	start := time.Now()
	v, k, err := s.activeToken(raw, s.now())
	if err != nil {
		m.TokenVerified(time.Since(start), metrics.ReasonInvalidToken)
		if f := TokenFailureOf(err); f != NoTokenFailure {
			m.TokenFailed(f.String())
		}
		return nil, err
	}
	claims := &v.claims
	p := &Principal{ClientID: claims.ClientID, AccountID: claims.AccountID, Scopes: v.scopeList, TokenID: claims.ID}
	if !iogate.IPAllowed(k.allowed(), remote) {
		m.TokenVerified(time.Since(start), metrics.ReasonIPNotAllowed)
		// The token verified, so its client ID and token ID are facts, not input.
		s.audit.deny(denial{event: iogate.AuditAccessDenied, accountID: claims.AccountID, clientID: claims.ClientID,
			tokenID: claims.ID, reason: iogate.DenyIPNotAllowed, remote: remote, at: s.now()})
		return p, ipNotAllowed(remote)
	}
	m.TokenVerified(time.Since(start), metrics.ResultOK)
	return p, nil
}

// activeToken returns a token that is valid now, and the state of its key. It checks
// everything Authenticate checks except the client's address. Every rejection carries a
// TokenFailure, and once the signature has verified, it also wraps errOutdatedToken.
func (s *Service) activeToken(raw string, now time.Time) (*verifiedToken, key, error) {
	if err := s.checkFresh(now); err != nil {
		return nil, key{}, err
	}
	if len(raw) == 0 || len(raw) > token.MaxLength {
		return nil, key{}, errTokenMalformed
	}
	nowUnix := now.Unix()

	h := token.Hash(raw)
	v := s.cache.get(h)
	var k key
	var found bool
	if v != nil {
		k, found = s.view.getParsed(v.claims.ClientID, v.keyID, v.canonical)
	} else {
		c, kid, err := s.verifySignature(raw)
		if err != nil {
			return nil, key{}, err
		}
		if c.Expiry <= nowUnix {
			return nil, key{}, errTokenExpired
		}
		k, found = s.view.get(c.ClientID)
		// The new cache entry shares the view's copy of the account ID.
		accountID := ""
		if found {
			accountID = k.accountID
		}
		v = newVerifiedToken(c, kid, s.cfg.Issuer, accountID)
		// A reload may have dropped the signing key since it verified the token. put then
		// rejects the entry, so that the entry cannot outlive the key in the cache. The key
		// may have been revoked, whose tokens are not outdated (see IsOutdatedCredential).
		if !s.cache.put(h, v, nowUnix, s.keyring.Published) {
			return nil, key{}, errTokenUnknownKey
		}
	}
	claims := &v.claims
	if claims.Expiry <= nowUnix || claims.NotBefore > nowUnix+60 {
		return nil, key{}, errTokenExpired
	}
	if err := k.tokenFailure(found, v, now); err != nil {
		return nil, key{}, err
	}
	return v, k, nil
}

// verifySignature returns the claims of a token signed by a published key for this
// issuer, whatever its expiry and whatever its key's state, and the KID of that signing
// key. A token that a retired key verifies, one that has left the JWKS, gets
// errTokenRetiredKey. Any other token that does not verify gets an error that wraps
// iogate.ErrInvalidToken but not errOutdatedToken.
func (s *Service) verifySignature(raw string) (*token.Claims, string, error) {
	c, kid, err := s.keyring.VerifyKey(raw)
	switch {
	case err != nil && err != token.ErrUnpublished:
		return nil, "", signatureFailure(err)
	case c.Issuer != s.cfg.Issuer || c.Audience != s.cfg.Issuer:
		return nil, "", errTokenWrongIssuer
	case err != nil:
		return nil, "", errTokenRetiredKey
	}
	return c, kid, nil
}

// tokenFailure returns the error for a token of key k, which found reports present in the
// view, that k's state no longer allows at now, and nil when k allows it.
func (k *key) tokenFailure(found bool, v *verifiedToken, now time.Time) error {
	claims := &v.claims
	switch {
	case !found || k.accountID != claims.AccountID:
		return errTokenKeyDeleted
	case k.suspended:
		return errTokenAccountSuspended
	case k.expired(now):
		return errTokenKeyExpired
	case !k.generationValid(claims.Generation, now):
		return errTokenSecretRetired
	case k.revoked(claims.ID):
		return errTokenRevoked
	case !k.allowsScopes(v.scopes, v.scopesKnown, v.scopeList):
		return errTokenScopeRemoved
	}
	return nil
}
