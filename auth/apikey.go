package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/iogate/iogate"
)

// CreateKeyRequest holds the fields of a new API key.
type CreateKeyRequest struct {
	AccountID   string
	Name        string
	Description string
	// Scopes defaults to iogate.DefaultScopes when empty.
	Scopes []string
	// AllowedIPs are allowlist entries as ParseAllowedIP accepts them; empty allows any
	// address.
	AllowedIPs []string
	// ExpiresIn is the key's lifetime; zero means it does not expire.
	ExpiresIn time.Duration
}

// CreateKey creates a key with a new random secret and returns both. The secret is not
// stored, only its keyed hash: this is the one time anyone can see it.
func (s *Service) CreateKey(ctx context.Context, req CreateKeyRequest) (*iogate.APIKey, iogate.Secret, error) {
	if _, err := s.store.FindAccountByID(ctx, req.AccountID); err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
			return nil, "", iogate.Errorf(iogate.CodeNotFound, "account %q not found: use an ID printed by \"iogate account create\" or \"iogate account list\"", req.AccountID)
		}
		return nil, "", err
	}
	allowed, err := iogate.ParseAllowedIPs(req.AllowedIPs)
	if err != nil {
		return nil, "", err
	}
	if req.ExpiresIn < 0 {
		return nil, "", iogate.Errorf(iogate.CodeInvalid, "invalid expiry: the duration must be positive")
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = iogate.DefaultScopes
	}
	secret, err := iogate.GenerateSecret()
	if err != nil {
		return nil, "", fmt.Errorf("generate secret: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	k := &iogate.APIKey{
		ClientID:         iogate.NewClientID(),
		AccountID:        req.AccountID,
		Name:             req.Name,
		Description:      req.Description,
		Scopes:           scopes,
		AllowedIPs:       allowed,
		CreatedAt:        now,
		UpdatedAt:        now,
		SecretHash:       iogate.HashSecret(s.pepper, secret.Reveal()),
		SecretGeneration: 1,
		SecretCreatedAt:  now,
	}
	if req.ExpiresIn > 0 {
		k.ExpiresAt = now.Add(req.ExpiresIn)
	}
	if err := k.Validate(); err != nil {
		return nil, "", err
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, secret, s.Sync(ctx)
}

// DeleteKey deletes a key. Its tokens fail on the next request in this process, and in
// other processes as soon as the change feed delivers the deletion.
func (s *Service) DeleteKey(ctx context.Context, clientID string) error {
	if !iogate.ValidClientID(clientID) {
		return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %q", clientID)
	}
	if err := s.store.DeleteAPIKey(ctx, clientID); err != nil {
		return err
	}
	// Drop the key from the view directly as well as through Sync, so that this process
	// refuses its tokens on the next request even if Sync fails here.
	s.view.remove(clientID)
	return s.Sync(ctx)
}

// HashSecret returns the keyed hash of a secret under this store's pepper, for importing a
// key whose secret was generated elsewhere.
func (s *Service) HashSecret(secret string) iogate.SecretHash {
	return iogate.HashSecret(s.pepper, secret)
}
