package auth

import (
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

// VerifyExposed checks cred the way the token endpoints and bearer verification do, with
// the same constant-work secret comparison, but issues no token and ignores the caller's
// address: a credential is exposed wherever it was sent from. It returns the client ID of
// the key the credential belongs to, and false when the credential does not verify.
func (s *Service) VerifyExposed(cred ExposedCredential) (string, bool) {
	if cred.BearerToken != "" {
		v, _, err := s.activeToken(cred.BearerToken, s.now())
		if err != nil {
			return "", false
		}
		return v.claims.ClientID, true
	}
	k, _, match := s.authenticateClient(cred.ClientID, cred.ClientSecret)
	if match != secretValid || k.expired(s.now()) {
		return "", false
	}
	return k.clientID, true
}

// MarkExposed records that a valid credential of the key crossed a network in clear text:
// it sets the key's exposed flag (keeping the time of the first exposure) with a
// key.exposed audit record. With revoke it then deletes the key, which ends its tokens on
// the next request. kind names the credential ("client_secret" or "access_token") in the
// audit record; the actor is the one in ctx.
func (s *Service) MarkExposed(ctx context.Context, clientID, kind string, revoke bool) error {
	s.metrics.ExposedCredential()
	now := s.now().UTC().Truncate(time.Microsecond)
	k, err := s.store.UpdateAPIKey(ctx, clientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		if !k.Exposed {
			k.Exposed, k.ExposedAt = true, now
		}
		return s.newKeyRecord(ctx, k, iogate.AuditKeyExposed, map[string]any{"credential": kind, "revoked": revoke})
	})
	if err != nil {
		return err
	}
	s.applyOwnWrite(ctx, k)
	if revoke {
		return s.DeleteKey(ctx, clientID)
	}
	return nil
}

// RecordAddressBlocked appends an address.blocked audit record to the account of each of
// clientIDs that exists, so that owners learn that someone guessed at their key. It does
// not wait for the records to commit. Client IDs that do not exist have no account whose
// log could hold the record.
func (s *Service) RecordAddressBlocked(address string, clientIDs []string, failures int, until time.Time) {
	actor := iogate.Actor{Type: iogate.ActorSystem, IP: address}
	for _, id := range clientIDs {
		k, ok := s.view.get(id)
		if !ok {
			continue
		}
		rec, err := s.newRecord(k.accountID, iogate.AuditAddressBlocked, actor, map[string]any{
			"address": address, "failures": failures, "blockedUntil": until.UTC(),
		})
		if err != nil {
			s.log.Error("build audit record failed", "client_id", id, "error", err)
			continue
		}
		rec.ClientID = id
		s.audit.enqueue(rec)
	}
}
