package auth

import (
	"context"
)

// ExposedCredential is a credential that arrived over plain HTTP: a client ID and secret,
// or a bearer token.
type ExposedCredential struct {
	ClientID     string
	ClientSecret string
	BearerToken  string
}

// VerifyExposed checks cred the way the token endpoints and bearer verification do, with
// the same constant-work secret comparison, but issues no token and ignores the caller's
// address: a credential is exposed wherever it was sent from. It returns the client ID of
// the key the credential belongs to, and false when the credential does not verify.
func (s *Service) VerifyExposed(cred ExposedCredential) (string, bool) {
	if cred.BearerToken != "" {
		claims, _, err := s.verifyToken(cred.BearerToken)
		if err != nil {
			return "", false
		}
		return claims.ClientID, true
	}
	k, _, ok := s.authenticateClient(cred.ClientID, cred.ClientSecret)
	if !ok || k.expired(s.now()) {
		return "", false
	}
	return k.clientID, true
}

// MarkExposed records that a valid credential of the key crossed a network in clear text.
// With revoke it deletes the key instead, which ends its tokens on the next request.
func (s *Service) MarkExposed(ctx context.Context, clientID string, revoke bool) error {
	s.metrics.ExposedCredential()
	if revoke {
		return s.DeleteKey(ctx, clientID)
	}
	if err := s.store.MarkAPIKeyExposed(ctx, clientID); err != nil {
		return err
	}
	return s.Sync(ctx)
}
