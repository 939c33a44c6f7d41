package auth

import (
	"cmp"
	"context"
	"time"

	"github.com/iogate/iogate"
)

// ExposedCredential is a credential that arrived over plain HTTP: a client ID and secret,
// or a bearer token.
type ExposedCredential struct {
	ClientID     string
	ClientSecret string
	BearerToken  string
}

// Exposure is a credential of a key that verified on the plain HTTP listener.
type Exposure struct {
	ClientID string
	// Generation is the secret generation of the credential: the secret's own, or for
	// an access token the generation of the secret that minted it.
	Generation int
	// Kind names the credential in the audit record: "client_secret" or "access_token".
	Kind string
}

// VerifyExposed checks cred the way the token endpoints and bearer verification do, with
// the same constant-work secret comparison, but issues no token and ignores the caller's
// address: a credential is exposed wherever it was sent from. It returns the key and the
// secret generation the credential belongs to, and false when the credential does not
// verify.
func (s *Service) VerifyExposed(cred ExposedCredential) (Exposure, bool) {
	if cred.BearerToken != "" {
		v, _, err := s.activeToken(cred.BearerToken, s.now())
		if err != nil {
			return Exposure{}, false
		}
		return Exposure{ClientID: v.claims.ClientID, Generation: v.claims.Generation, Kind: "access_token"}, true
	}
	secret := cred.ClientSecret
	// A generated secret followed by a line break, as read from a file written with echo,
	// is the real secret in clear text all the same.
	if trimmed, ok := trailingSpaceTrimmed(secret); ok {
		secret = trimmed
	}
	k, generation, match := s.authenticateClient(cred.ClientID, secret)
	if match != secretValid || k.expired(s.now()) {
		return Exposure{}, false
	}
	return Exposure{ClientID: k.clientID, Generation: generation, Kind: "client_secret"}, true
}

// MarkExposed records that a valid credential of the key crossed a network in clear text,
// with a key.exposed audit record that names the credential's kind and secret generation.
// It sets the key's exposed fields: the key counts as exposed until the secret of that
// generation retires (see iogate.APIKey.ExposedSecretValid). The time of the first
// exposure is kept while an exposed secret still works. With revoke it then deletes the
// key, which ends its tokens on the next request. The actor is the one in ctx.
func (s *Service) MarkExposed(ctx context.Context, e Exposure, revoke bool) error {
	return s.markExposed(ctx, e, revoke, false)
}

// MarkExposedOnce is MarkExposed that writes nothing when the key is already marked
// exposed for a secret of e's generation or a later one, for senders whose requests are
// not rate limited otherwise.
func (s *Service) MarkExposedOnce(ctx context.Context, e Exposure, revoke bool) error {
	return s.markExposed(ctx, e, revoke, true)
}

func (s *Service) markExposed(ctx context.Context, e Exposure, revoke, once bool) error {
	s.metrics.ExposedCredential()
	now := s.now().UTC().Truncate(time.Microsecond)
	k, err := s.store.UpdateAPIKey(ctx, e.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		if !k.ExposedSecretValid(now) {
			k.Exposed, k.ExposedAt, k.ExposedGeneration = true, now, e.Generation
		} else if once && !revoke && cmp.Or(k.ExposedGeneration, k.SecretGeneration) >= e.Generation {
			return nil, nil
		} else {
			// An exposure recorded without a generation counts as one of the current
			// secret.
			k.ExposedGeneration = max(cmp.Or(k.ExposedGeneration, k.SecretGeneration), e.Generation)
		}
		return s.newKeyRecord(ctx, k, iogate.AuditKeyExposed, map[string]any{
			"credential": e.Kind, "secretGeneration": e.Generation, "revoked": revoke,
		})
	})
	if err != nil {
		return err
	}
	s.applyOwnWrite(ctx, k)
	if revoke {
		return s.DeleteKey(ctx, e.ClientID)
	}
	return nil
}

// RecordAddressBlocked appends an address.blocked audit record to the account of each of
// clientIDs that exists, so that owners learn that someone guessed at their key. It does
// not wait for the records to commit. Client IDs that do not exist have no account whose
// log could hold the record.
func (s *Service) RecordAddressBlocked(address string, clientIDs []string, failures int, until time.Time) {
	actor := iogate.Actor{Type: iogate.ActorSystem, IP: address}
	s.recordAddressEvent(iogate.AuditAddressBlocked, actor, clientIDs, map[string]any{
		"address": address, "failures": failures, "blockedUntil": until.UTC(),
	})
}

// RecordAddressUnblocked appends an address.unblocked audit record, with operator as the
// actor, to the account of each of clientIDs that exists. clientIDs are those of the
// lifted block, so the records go to the logs that hold its address.blocked records.
// blockedUntil is when the block would have ended. It does not wait for the records to
// commit, and it takes no lock of the engine, so an OnChange listener may call it.
func (s *Service) RecordAddressUnblocked(address string, clientIDs []string, operator string, blockedUntil time.Time) {
	actor := iogate.Actor{Type: iogate.ActorOperator, ID: operator}
	s.recordAddressEvent(iogate.AuditAddressUnblocked, actor, clientIDs, map[string]any{
		"address": address, "blockedUntil": blockedUntil.UTC(),
	})
}

// recordAddressEvent queues a record of event about an address, with details, in the
// account of each of clientIDs that exists. The records wait with the denials (see
// denialDelay), and the writer builds them. Each client ID that does not exist queues a
// denial with no account, which the writer discards. So the request that triggers a block
// does the same work, and is followed by a transaction at the same moment, whether or not
// the client IDs it named exist.
func (s *Service) recordAddressEvent(event string, actor iogate.Actor, clientIDs []string, details map[string]any) {
	at := s.now()
	for _, id := range clientIDs {
		k, _ := s.view.get(id)
		s.audit.deny(denial{event: event, accountID: k.accountID, clientID: id, actor: actor, details: details, at: at})
	}
}
