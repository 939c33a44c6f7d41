package auth

import (
	"context"
	"net/netip"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// ErrNotOwnToken is returned when a client asks to revoke a token that was issued to
// another client.
var ErrNotOwnToken = &iogate.Error{Code: iogate.CodeUnauthorizedClient, Message: "the token was not issued to this client"}

// RevokeToken revokes an access token of the client clientID, whose request came from
// remote, and appends a token.revoked record to the account's audit log in the same
// transaction. A string that is not a token of this server, or a token that has expired,
// is not an error: there is nothing to revoke. An unexpired token issued to another client
// is ErrNotOwnToken. None of these, nor a token revoked before, writes a record. The token
// fails on the next request in this process, and in other processes as soon as the change
// feed delivers the revocation. Once the revocation is stored, RevokeToken succeeds even
// when reading the change back into this process's view fails: that failure is logged,
// and the view is reloaded once the store responds.
func (s *Service) RevokeToken(ctx context.Context, clientID, raw string, remote netip.Addr) error {
	if len(raw) == 0 || len(raw) > token.MaxLength {
		return nil
	}
	claims, _, err := s.verifySignature(raw)
	if err != nil {
		return nil
	}
	// An expired token no longer works, so it is not rejected even when it was another
	// client's.
	now := s.now()
	if claims.Expiry <= now.Unix() || claims.ID == "" {
		return nil
	}
	if claims.ClientID != clientID {
		return ErrNotOwnToken
	}
	revoked := &iogate.RevokedToken{
		TokenID:   claims.ID,
		ClientID:  claims.ClientID,
		ExpiresAt: time.Unix(claims.Expiry, 0).UTC(),
		RevokedAt: now.UTC().Truncate(time.Microsecond),
	}
	rec, err := s.chain.NewRecord(claims.AccountID, iogate.AuditTokenRevoked, clientActor(clientID, remote), now,
		map[string]any{"expiresAt": revoked.ExpiresAt})
	if err != nil {
		return err
	}
	rec.ClientID, rec.TokenID = claims.ClientID, claims.ID
	// The store appends rec only when this call is the token's first revocation.
	if err := s.store.RevokeToken(ctx, revoked, rec); err != nil {
		// The key was deleted meanwhile, which ends its tokens anyway.
		if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
			return nil
		}
		return err
	}

	// The revocation is stored, so the call has succeeded whatever Sync returns. The token
	// goes into the view directly as well as through Sync, so that this process refuses it
	// on the next request even if Sync fails here.
	s.view.addRevoked(claims.ClientID, claims.ID)
	if err := s.Sync(ctx); err != nil {
		s.health.owe()
		s.log.ErrorContext(ctx, "apply stored token revocation to the key view failed; reloading every key once the store responds",
			"client_id", claims.ClientID, "account_id", claims.AccountID, "token_id", claims.ID, "error", err)
	}
	return nil
}

// IntrospectToken returns the claims of raw when it is an active token issued to the
// client clientID. Any other string, an inactive token and another client's token all
// return false, so that introspection reveals nothing to a client about tokens not its own.
func (s *Service) IntrospectToken(ctx context.Context, clientID, raw string) (*token.Claims, bool) {
	v, _, err := s.activeToken(raw, s.now())
	if err != nil || v.claims.ClientID != clientID {
		return nil, false
	}
	claims := v.claims
	return &claims, true
}
