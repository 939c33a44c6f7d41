package auth

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
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
	// ExpiresAt is the key's expiry, in place of ExpiresIn. Zero means ExpiresIn decides.
	ExpiresAt time.Time
}

// CreateKey creates a key with a new random secret and returns both. The secret is not
// stored, only its keyed hash: this is the one time anyone can see it.
func (s *Service) CreateKey(ctx context.Context, req CreateKeyRequest) (*iogate.APIKey, iogate.Secret, error) {
	secret, err := iogate.GenerateSecret()
	if err != nil {
		return nil, "", fmt.Errorf("generate secret: %w", err)
	}
	k, err := s.insertKey(ctx, req, iogate.NewClientID(), secret)
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// insertKey stores a new key with the given client ID and secret, with its audit record,
// and applies it to the view.
func (s *Service) insertKey(ctx context.Context, req CreateKeyRequest, clientID string, secret iogate.Secret) (*iogate.APIKey, error) {
	if _, err := s.store.FindAccountByID(ctx, req.AccountID); err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
			return nil, iogate.Errorf(iogate.CodeNotFound, "account %s not found: use an ID printed by \"iogate account create\" or \"iogate account list\"", iogate.QuoteInput(req.AccountID))
		}
		return nil, err
	}
	allowed, err := iogate.ParseAllowedIPs(req.AllowedIPs)
	if err != nil {
		return nil, err
	}
	if req.ExpiresIn < 0 {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid expiry: the duration must be positive")
	}
	if req.ExpiresIn != 0 && !req.ExpiresAt.IsZero() {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid expiry: give a lifetime or an expiry time, not both")
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = iogate.DefaultScopes
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	k := &iogate.APIKey{
		ClientID:         clientID,
		AccountID:        req.AccountID,
		Name:             req.Name,
		Description:      req.Description,
		Scopes:           scopes,
		AllowedIPs:       allowed,
		CreatedAt:        now,
		UpdatedAt:        now,
		SecretHash:       s.secrets.Hash(secret.Reveal()),
		SecretGeneration: 1,
		SecretCreatedAt:  now,
	}
	if req.ExpiresIn > 0 {
		k.ExpiresAt = now.Add(req.ExpiresIn)
	}
	if !req.ExpiresAt.IsZero() {
		k.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !k.ExpiresAt.After(now) {
			return nil, iogate.Errorf(iogate.CodeInvalid, "invalid expiry %s: it must be in the future", k.ExpiresAt.Format(time.RFC3339))
		}
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}

	// The key and its audit record commit together, or neither does.
	details := map[string]any{"name": k.Name, "scopes": k.Scopes, "allowedIps": iogate.FormatAllowedIPs(k.AllowedIPs)}
	if !k.ExpiresAt.IsZero() {
		details["expiresAt"] = k.ExpiresAt
	}
	rec, err := s.newKeyRecord(ctx, k, iogate.AuditKeyCreated, details)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateAPIKey(ctx, k, rec); err != nil {
		return nil, err
	}
	s.applyOwnWrite(ctx, k)
	return k, nil
}

// newKeyRecord returns the audit record of a change to key k by the actor in ctx.
func (s *Service) newKeyRecord(ctx context.Context, k *iogate.APIKey, event string, details map[string]any) (*iogate.AuditRecord, error) {
	rec, err := s.newRecord(k.AccountID, event, iogate.ActorFrom(ctx), details)
	if err != nil {
		return nil, err
	}
	rec.ClientID = k.ClientID
	return rec, nil
}

// DeleteKey deletes a key. Its tokens fail on the next request in this process, and in
// other processes as soon as the change feed delivers the deletion.
func (s *Service) DeleteKey(ctx context.Context, clientID string) error {
	if !iogate.ValidClientID(clientID) {
		return iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", iogate.QuoteInput(clientID))
	}
	k, err := s.store.FindAPIKey(ctx, clientID)
	if err != nil {
		return err
	}
	rec, err := s.newKeyRecord(ctx, k, iogate.AuditKeyDeleted, map[string]any{"name": k.Name})
	if err != nil {
		return err
	}
	if err := s.store.DeleteAPIKey(ctx, clientID, rec); err != nil {
		return err
	}
	// Drop the key from the view directly as well as through Sync, so that this process
	// refuses its tokens on the next request even if Sync fails here.
	s.view.remove(clientID)
	s.applyOwnWrite(ctx, nil)
	return nil
}

// HashSecret returns the keyed hash of a secret under this store's pepper, for importing a
// key whose secret was generated elsewhere.
func (s *Service) HashSecret(secret string) iogate.SecretHash {
	return s.secrets.Hash(secret)
}

// UpdateKeyRequest holds the changes to a key. A nil field leaves that part of the key as
// it is.
type UpdateKeyRequest struct {
	Name, Description *string
	// Scopes replaces the key's scopes; nil leaves them unchanged.
	Scopes []string
	// AllowedIPs replaces the key's allowlist; nil leaves it unchanged, and an empty
	// non-nil list clears it, so that any address may use the key.
	AllowedIPs []string
	// ExpiresAt replaces the key's expiry; nil leaves it unchanged, and a pointer to the
	// zero time removes it, so that the key does not expire.
	ExpiresAt *time.Time
}

// UpdateKey changes a key's name, description, scopes or allowlist and records the change
// in the audit log with the old and new values. Tokens already issued are checked against
// the new scopes and allowlist on their next request: in this process at once, elsewhere
// when the change feed delivers the change. A request that changes nothing writes nothing.
func (s *Service) UpdateKey(ctx context.Context, clientID string, req UpdateKeyRequest) (*iogate.APIKey, error) {
	if !iogate.ValidClientID(clientID) {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", iogate.QuoteInput(clientID))
	}
	if req.Name == nil && req.Description == nil && req.Scopes == nil && req.AllowedIPs == nil && req.ExpiresAt == nil {
		return nil, iogate.Errorf(iogate.CodeInvalid, "nothing to update: give a new name, description, scopes, allowed IPs or expiry")
	}
	var scopes []string
	if req.Scopes != nil {
		var err error
		if scopes, err = iogate.ValidateScopes(req.Scopes); err != nil {
			return nil, err
		}
	}
	var allowed []netip.Prefix
	if req.AllowedIPs != nil {
		var err error
		if allowed, err = iogate.ParseAllowedIPs(req.AllowedIPs); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var expiresAt time.Time
	if req.ExpiresAt != nil {
		expiresAt = req.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !expiresAt.IsZero() && !expiresAt.After(now) {
			return nil, iogate.Errorf(iogate.CodeInvalid, "invalid expiry %s: it must be in the future", expiresAt.Format(time.RFC3339))
		}
	}

	k, err := s.store.UpdateAPIKey(ctx, clientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		changes := map[string]any{}
		change := func(field string, from, to any) { changes[field] = map[string]any{"from": from, "to": to} }
		// Only a changed name or description is checked, so that one stored before a
		// character was disallowed does not block the key's other changes.
		if req.Name != nil && *req.Name != k.Name {
			if err := iogate.ValidateKeyName(*req.Name); err != nil {
				return nil, err
			}
			change("name", k.Name, *req.Name)
			k.Name = *req.Name
		}
		if req.Description != nil && *req.Description != k.Description {
			if err := iogate.ValidateKeyDescription(*req.Description); err != nil {
				return nil, err
			}
			change("description", k.Description, *req.Description)
			k.Description = *req.Description
		}
		if req.Scopes != nil && !slices.Equal(scopes, k.Scopes) {
			change("scopes", k.Scopes, scopes)
			k.Scopes = scopes
		}
		if req.AllowedIPs != nil && !slices.Equal(allowed, k.AllowedIPs) {
			change("allowedIps", iogate.FormatAllowedIPs(k.AllowedIPs), iogate.FormatAllowedIPs(allowed))
			k.AllowedIPs = allowed
		}
		if req.ExpiresAt != nil && !expiresAt.Equal(k.ExpiresAt) {
			change("expiresAt", timeOrNil(k.ExpiresAt), timeOrNil(expiresAt))
			k.ExpiresAt = expiresAt
		}
		if len(changes) == 0 {
			return nil, nil
		}
		k.UpdatedAt = now
		return s.newKeyRecord(ctx, k, iogate.AuditKeyUpdated, map[string]any{"changes": changes})
	})
	if err != nil {
		return nil, err
	}
	s.applyOwnWrite(ctx, k)
	return k, nil
}

// Rotation grace periods: how long the previous secret keeps working after a rotation.
const (
	DefaultRotationGrace = 24 * time.Hour
	MaxRotationGrace     = 30 * 24 * time.Hour
)

// RotateKey gives a key a new secret and returns the key and the secret, which is shown
// this once. The secret it replaces keeps working for grace (zero retires it at once, and
// at most MaxRotationGrace), so that clients can switch without downtime. A key has at most
// one previous secret: a rotation during another's grace period retires the older secret
// at once. Tokens minted with a retired secret stop working when it retires.
func (s *Service) RotateKey(ctx context.Context, clientID string, grace time.Duration) (*iogate.APIKey, iogate.Secret, error) {
	return s.RotateKeyFrom(ctx, clientID, 0, grace)
}

// ErrRotatedMeanwhile is the error of a rotation whose key was rotated since the caller
// read its secret generation, so that two rotations posted at once rotate it once.
var ErrRotatedMeanwhile = iogate.Errorf(iogate.CodeConflict, "the key was rotated meanwhile; reload it to see its state")

// RotateKeyFrom rotates the key as RotateKey does if its secret is still of generation,
// checked in the same transaction as the rotation, and returns ErrRotatedMeanwhile
// otherwise. A generation of 0 rotates whatever the current one is.
func (s *Service) RotateKeyFrom(ctx context.Context, clientID string, generation int, grace time.Duration) (*iogate.APIKey, iogate.Secret, error) {
	if !iogate.ValidClientID(clientID) {
		return nil, "", iogate.Errorf(iogate.CodeNotFound, "no API key with client ID %s", iogate.QuoteInput(clientID))
	}
	if grace < 0 || grace > MaxRotationGrace {
		return nil, "", iogate.Errorf(iogate.CodeInvalid, "invalid grace period %s: it must be from 0 (retire the old secret at once) to 30d", iogate.FormatDuration(grace))
	}
	secret, err := iogate.GenerateSecret()
	if err != nil {
		return nil, "", fmt.Errorf("generate secret: %w", err)
	}
	hash := s.secrets.Hash(secret.Reveal())
	now := s.now().UTC().Truncate(time.Microsecond)

	k, err := s.store.UpdateAPIKey(ctx, clientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		if generation != 0 && k.SecretGeneration != generation {
			return nil, ErrRotatedMeanwhile
		}
		details := map[string]any{"secretGeneration": k.SecretGeneration + 1, "graceSeconds": int64(grace / time.Second)}
		retired := []int{}
		if p := k.Previous; p != nil && now.Before(p.ExpiresAt) {
			retired = append(retired, p.Generation)
		}
		// A rotation without grace keeps the replaced secret's hash too, so that a client
		// still sending that secret is recorded as using a retired secret, not as guessing.
		// Its ExpiresAt stays zero, which no clock is before: a node whose clock is behind
		// this one's must not accept the secret either.
		k.Previous = &iogate.PreviousSecret{Hash: k.SecretHash, Generation: k.SecretGeneration, RotatedAt: now}
		if grace > 0 {
			k.Previous.ExpiresAt = now.Add(grace)
		}
		if grace > 0 {
			details["previousGeneration"] = k.SecretGeneration
			details["previousExpiresAt"] = k.Previous.ExpiresAt
		} else {
			retired = append(retired, k.SecretGeneration)
		}
		details["retiredGenerations"] = retired
		if k.Exposed && k.ExposedGeneration == 0 {
			// An exposure recorded without its generation, by an iogate older than the
			// field, counts as one of the current secret. Pinning it to that secret
			// lets the exposure end when this rotation retires it.
			k.ExposedGeneration = k.SecretGeneration
		}
		k.SecretHash = hash
		k.SecretGeneration++
		k.SecretCreatedAt = now
		k.UpdatedAt = now
		return s.newKeyRecord(ctx, k, iogate.AuditKeyRotated, details)
	})
	if err != nil {
		return nil, "", err
	}
	s.applyOwnWrite(ctx, k)
	return k, secret, nil
}

// timeOrNil returns t, or nil for the zero time, for audit details where no time means
// "never".
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
