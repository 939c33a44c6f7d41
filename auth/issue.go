package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

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

// ErrIPNotAllowed is the cause of the error returned when the credential verified but the
// request came from an address outside the key's allowlist: errors.Is matches it.
var ErrIPNotAllowed = errors.New("IP address not allowed")

// ipNotAllowed returns the error for a request from remote that the key's allowlist does
// not cover. It names the address that the server saw, which is the caller's own (behind a
// trusted proxy, the one X-Forwarded-For gave), so that a client behind NAT or a proxy can
// tell which address to allow. It never names the allowed addresses.
func ipNotAllowed(remote netip.Addr) error {
	addr := "this IP address"
	if remote.IsValid() {
		addr = remote.String()
	}
	return &iogate.Error{
		Code:    iogate.CodeForbidden,
		Message: "requests from " + addr + " are not allowed for this API key; add the address to the key's allowed IPs, or call from an address that they cover",
		Cause:   ErrIPNotAllowed,
	}
}

// dummyHash replaces a secret hash that the view does not hold, so that an unknown client
// ID or a key without a previous secret costs the same keyed hash and comparisons as a
// key with two secrets. It is the zero hash, which no secret hashes to (see
// formerSecrets).
var dummyHash iogate.SecretHash

// Client is a client that authenticated with its ID and secret.
type Client struct {
	ClientID  string
	AccountID string
	// Scopes are the key's scopes. The slice may be shared: do not modify it.
	Scopes []string

	generation int
	// expiresAt is when the secret that authenticated stops working, or zero for never.
	expiresAt time.Time
}

// AuthenticateClient checks a client ID and secret, for the token endpoints and for the
// introspection and revocation endpoints, where clients authenticate the same way. Every
// authentication failure returns an error that errors.Is matches to
// iogate.ErrInvalidClient. IsOutdatedCredential distinguishes the errors of credentials
// that iogate issued. The IP allowlist is checked only after the secret verified, so that
// ErrIPNotAllowed never reveals to a stranger that a client ID exists.
//
// A deleted key's client ID gets the outdated error only with a secret that the key had
// when it was deleted. Callers treat outdated errors differently (the HTTP server does not
// count them as failed authentications). With any other secret the error must be that of
// an unknown client ID, or the difference would reveal to someone with only the client ID
// that it belonged to a deleted key.
//
// Denials of a known client ID, and of a deleted key whose deletion the view remembers,
// with any secret, are recorded in its account's audit log. No caller waits for those
// records, because waiting would delay the response to a wrong secret for an existing
// client ID beyond that to an unknown ID.
func (s *Service) AuthenticateClient(ctx context.Context, clientID, secret string, remote netip.Addr) (*Client, error) {
	now := s.now()
	if err := s.checkFresh(now); err != nil {
		return nil, err
	}
	k, generation, match := s.authenticateClient(clientID, secret)
	switch {
	case k == nil:
		s.recordUnknownClientDenial(clientID, remote)
		if match == secretOfDeletedKey {
			return nil, errOutdatedClient
		}
		return nil, invalidClient(secret)
	case match == secretRetired:
		s.recordDenial(k.accountID, k.clientID, remote, iogate.DenySecretRetired)
		return nil, errOutdatedClient
	case match != secretValid:
		s.recordDenial(k.accountID, k.clientID, remote, iogate.DenyInvalidSecret)
		return nil, invalidClient(secret)
	case k.suspended:
		s.recordDenial(k.accountID, k.clientID, remote, iogate.DenyAccountSuspended)
		return nil, errOutdatedClient
	case k.expired(now):
		s.recordDenial(k.accountID, k.clientID, remote, iogate.DenyKeyExpired)
		return nil, errOutdatedClient
	case !iogate.IPAllowed(k.allowed(), remote):
		s.recordDenial(k.accountID, k.clientID, remote, iogate.DenyIPNotAllowed)
		return nil, ipNotAllowed(remote)
	}
	s.uses.record(iogate.KeyUse{ClientID: k.clientID, Generation: generation, At: now, IP: remote.String()})
	return &Client{ClientID: k.clientID, AccountID: k.accountID, Scopes: k.scopes(), generation: generation, expiresAt: k.credentialExpiry(generation)}, nil
}

// credentialExpiry returns when the secret of generation stops authenticating: the key's
// expiry, or the end of the grace period for the previous secret if that comes first. The
// zero time means never. Tokens minted with the secret stop working then (see
// generationValid), so IssueToken caps their exp claim at it.
func (k *key) credentialExpiry(generation int) time.Time {
	expiresAt := k.expiresAt()
	if int64(generation) == k.state.currentG {
		return expiresAt
	}
	if p := k.previous(); p != nil && (expiresAt.IsZero() || p.ExpiresAt.Before(expiresAt)) {
		return p.ExpiresAt
	}
	return expiresAt
}

// IssueToken authenticates the client with AuthenticateClient and signs an access token
// for the requested scopes, or for all of the key's scopes when none are requested.
//
// Every issued token gets an audit record, and IssueToken returns the token only after
// that record has committed: a token the log does not show is never handed out.
// Concurrent issuances share one transaction (group commit). IssueToken waits for the
// commit at most the store timeout (see WithStoreTimeout) and then returns an
// iogate.CodeUnavailable error without the token. The record may still commit after that,
// so the log can show a token that no client received, but never the reverse.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (*IssuedToken, error) {
	c, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret, req.RemoteAddr)
	if err != nil {
		s.metrics.TokenDenied(denialReason(err))
		return nil, err
	}
	scopes := c.Scopes
	if len(req.Scopes) > 0 {
		if !iogate.ScopeSubset(req.Scopes, c.Scopes) {
			s.metrics.TokenDenied(metrics.ReasonInvalidScope)
			if k, ok := s.view.get(c.ClientID); ok {
				s.recordDenial(k.accountID, k.clientID, req.RemoteAddr, iogate.DenyScopeNotAllowed)
			}
			return nil, iogate.Errorf(iogate.CodeInvalidScope, "the requested scope exceeds the scopes of this API key")
		}
		scopes = req.Scopes
	}

	now := s.now()
	exp := now.Add(s.cfg.TokenTTL)
	if !c.expiresAt.IsZero() && c.expiresAt.Before(exp) {
		exp = c.expiresAt
	}
	// Claims count whole seconds, so a credential that stops working within the current
	// second would get a token that is expired when issued.
	if exp.Unix() <= now.Unix() {
		reason := iogate.DenyKeyExpired
		k, ok := s.view.get(c.ClientID)
		if ok && int64(c.generation) != k.state.currentG {
			reason = iogate.DenySecretRetired
		}
		if ok {
			s.recordDenial(k.accountID, k.clientID, req.RemoteAddr, reason)
		}
		s.metrics.TokenDenied(metrics.ReasonInvalidClient)
		return nil, errOutdatedClient
	}
	claims := &token.Claims{
		Issuer:     s.cfg.Issuer,
		Subject:    c.ClientID,
		Audience:   s.cfg.Issuer,
		ClientID:   c.ClientID,
		AccountID:  c.AccountID,
		Scope:      strings.Join(scopes, " "),
		IssuedAt:   now.Unix(),
		NotBefore:  now.Unix(),
		Expiry:     exp.Unix(),
		ID:         uuid.NewString(),
		Generation: c.generation,
	}
	signed, err := s.keyring.Sign(claims)
	if err != nil {
		s.metrics.TokenDenied(metrics.ReasonInternal)
		return nil, iogate.WrapError(iogate.CodeInternal, err, "token signing failed")
	}
	if err := s.recordIssued(ctx, c, req.RemoteAddr, claims); err != nil {
		s.metrics.TokenDenied(denialReason(err))
		return nil, err
	}
	s.metrics.TokenIssued()
	return &IssuedToken{
		AccessToken: signed,
		ExpiresIn:   claims.Expiry - now.Unix(),
		Scopes:      scopes,
		ClientID:    c.ClientID,
		AccountID:   c.AccountID,
	}, nil
}

// denialReason returns the metrics label of a failed token request.
func denialReason(err error) string {
	switch {
	case errors.Is(err, ErrIPNotAllowed):
		return metrics.ReasonIPNotAllowed
	case iogate.ErrorCodeOf(err) == iogate.CodeInvalidClient:
		return metrics.ReasonInvalidClient
	case iogate.ErrorCodeOf(err) == iogate.CodeUnavailable:
		return metrics.ReasonUnavailable
	}
	return metrics.ReasonInternal
}

// recordIssued appends the audit record of an issued token and waits for its commit, at
// most the store timeout.
func (s *Service) recordIssued(ctx context.Context, c *Client, remote netip.Addr, claims *token.Claims) error {
	rec, err := s.newRecord(c.AccountID, iogate.AuditTokenIssued, clientActor(c.ClientID, remote), map[string]any{
		"scopes":           claims.Scopes(),
		"secretGeneration": claims.Generation,
		"expiresAt":        claims.ExpiresAt().UTC(),
	})
	if err != nil {
		return err
	}
	rec.ClientID, rec.TokenID = c.ClientID, claims.ID
	if err := s.audit.commit(ctx, rec, true, s.cfg.StoreTimeout); err != nil {
		return StoreError(ctx, iogate.WrapError(iogate.CodeUnavailable, err, "the audit log could not be written; retry later"))
	}
	return nil
}

// maxClientIDLength bounds the client IDs that authentication looks up. Client IDs are
// UUIDs of 36 characters, and imported keys keep theirs in the same form.
const maxClientIDLength = 64

// recordDenial queues the audit record of a denied token request by clientID. The writer
// builds the record, and discards it when accountID is empty: a request for an unknown
// client ID queues a denial too, so that it costs the same work as one for a known ID.
func (s *Service) recordDenial(accountID, clientID string, remote netip.Addr, reason string) {
	// The client ID can be a substring of the request body, which the queued denial would
	// otherwise keep in memory whole until it is written.
	s.audit.deny(denial{event: iogate.AuditTokenDenied, accountID: accountID, clientID: strings.Clone(clientID), reason: reason, remote: remote, at: s.now()})
}

// recordUnknownClientDenial queues the denial of a token request for a client ID that the
// view holds no key for. When the view remembers the key's deletion, the record goes to the
// log of the account the key belonged to, whatever the secret. For a client ID that never
// existed, the denial is queued with no account and nothing is written. Either way the
// caller returns the same response as for a wrong secret.
func (s *Service) recordUnknownClientDenial(clientID string, remote netip.Addr) {
	accountID, _ := s.view.deletedAccount(clientID)
	// No client ID is longer than this, and a request body may hold a much longer one.
	if len(clientID) > maxClientIDLength {
		clientID = clientID[:maxClientIDLength]
	}
	s.recordDenial(accountID, clientID, remote, iogate.DenyKeyDeleted)
}

func clientActor(clientID string, remote netip.Addr) iogate.Actor {
	a := iogate.Actor{Type: iogate.ActorClient, ID: clientID}
	if remote.IsValid() {
		a.IP = remote.String()
	}
	return a
}

// secretMatch is the result of comparing a client secret with a key's secrets.
type secretMatch uint8

const (
	// secretWrong matches no secret of the key, or there is no key.
	secretWrong secretMatch = iota
	// secretValid matches the current secret, or the previous one in its grace period.
	secretValid
	// secretRetired matches the previous secret after its grace period ended.
	secretRetired
	// secretOfDeletedKey matches a secret that the deleted key of the client ID had when
	// it was deleted. There is no key.
	secretOfDeletedKey
)

// invalidClient returns iogate.ErrInvalidClient, with a hint when secret is a generated
// secret followed by whitespace, as a secret read from a file written with echo or jq -r
// is. The hint depends on the secret alone, so it does not reveal whether the client ID
// exists.
func invalidClient(secret string) error {
	if _, ok := trailingSpaceTrimmed(secret); !ok {
		return iogate.ErrInvalidClient
	}
	return iogate.WrapError(iogate.CodeInvalidClient, iogate.ErrInvalidClient,
		"client authentication failed: the client secret ends with whitespace or a line break that is not part of it. Remove it: a file written with echo or jq -r ends with a line break")
}

// trailingSpaceTrimmed returns secret without the whitespace and line breaks at its end,
// and whether secret had some there and is a valid generated secret without them.
func trailingSpaceTrimmed(secret string) (string, bool) {
	trimmed := strings.TrimRight(secret, " \t\r\n")
	return trimmed, trimmed != secret && iogate.ChecksumValid(trimmed)
}

// authenticateClient returns the key of clientID (nil when unknown), the generation of
// the secret that matched, and how the secret matched. It hashes the secret and makes two
// comparisons whether the ID names a key, a deleted key or nothing, so the work done does
// not depend on which check fails.
func (s *Service) authenticateClient(clientID, secret string) (*key, int, secretMatch) {
	if len(secret) == 0 || len(secret) > iogate.MaxSecretLength || len(clientID) > maxClientIDLength {
		return nil, 0, secretWrong
	}
	var k *key
	if found, ok := s.view.get(clientID); ok {
		k = &found
	}

	// A generated secret with a bad checksum was mistyped or truncated: it cannot match
	// any key, whoever asks, so it is rejected before the hash.
	if iogate.HasGeneratedShape(secret) && !iogate.ChecksumValid(secret) {
		return k, 0, secretWrong
	}
	h := s.secrets.Hash(secret)
	if k == nil {
		// A deleted key's former secrets take the place of a key's two secrets. The view
		// returns zero hashes, equal to dummyHash, for the ones it does not hold.
		_, former, _ := s.view.lookupDeleted(clientID)
		currentOK := h.Equal(former.current)
		previousOK := h.Equal(former.previous)
		if currentOK || previousOK {
			return nil, 0, secretOfDeletedKey
		}
		return nil, 0, secretWrong
	}

	now := s.now()
	currentOK := h.Equal(k.state.current)
	previousOK := false
	p := k.previous()
	if p != nil {
		previousOK = h.Equal(p.Hash)
	} else {
		h.Equal(dummyHash)
	}
	switch {
	case currentOK:
		return k, int(k.state.currentG), secretValid
	case previousOK && now.Before(p.ExpiresAt):
		return k, p.Generation, secretValid
	case previousOK:
		// The view keeps the previous secret's hash after its grace period, until the
		// next rotation, so that a client still sending it is distinguished from a guess.
		return k, p.Generation, secretRetired
	}
	return k, 0, secretWrong
}
