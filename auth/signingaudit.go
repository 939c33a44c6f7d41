package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// signingKeyRecorder returns the recorder that the store calls for the audit records of a
// signing-key change by actor. It writes one record per retired key for a retirement and
// one record for any other change. The records hold the keys' KIDs, algorithms and
// schedules, never their private keys.
func (s *Service) signingKeyRecorder(actor iogate.Actor) iogate.SigningKeyRecorder {
	return func(c iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) {
		at := s.now()
		if c.Event == iogate.AuditSigningKeyRetired {
			records := make([]*iogate.AuditRecord, 0, len(c.Retired))
			for _, k := range c.Retired {
				rec, err := s.chain.NewRecord(iogate.SigningKeyLogID, c.Event, actor, at, signingKeySchedule(k))
				if err != nil {
					return nil, err
				}
				records = append(records, rec)
			}
			return records, nil
		}

		details := signingKeySchedule(c.Key)
		switch c.Event {
		case iogate.AuditSigningKeyRotated:
			retired := make([]map[string]any, 0, len(c.Retired))
			for _, k := range c.Retired {
				retired = append(retired, signingKeySchedule(k))
			}
			details["retired"] = retired
		case iogate.AuditSigningKeyRevoked:
			if c.Replacement != nil {
				details["replacement"] = signingKeySchedule(c.Replacement)
			}
		}
		rec, err := s.chain.NewRecord(iogate.SigningKeyLogID, c.Event, actor, at, details)
		if err != nil {
			return nil, err
		}
		return []*iogate.AuditRecord{rec}, nil
	}
}

// signingKeySchedule returns the details of k that its audit records hold: the KID, the
// algorithm and when it signs. retiredAt is left out while no retirement is scheduled.
func signingKeySchedule(k *iogate.SigningKey) map[string]any {
	details := map[string]any{"kid": k.KID, "algorithm": k.Algorithm, "activeAt": k.ActiveAt.UTC().Format(time.RFC3339Nano)}
	if !k.RetiredAt.IsZero() {
		details["retiredAt"] = k.RetiredAt.UTC().Format(time.RFC3339Nano)
	}
	return details
}

// signingKeyCoverage checks that the signing-key log names every signing key that must
// have a record. A chain verifies record by record, so deleting the whole log or its tail
// would otherwise pass verification unnoticed.
type signingKeyCoverage struct {
	// keys are the signing keys that the store contained before the log was read. Each
	// one committed with its record, and only retention deletes records, so the records
	// read afterwards contain them.
	keys []*iogate.SigningKey
	// logCreatedAt is when the migration that added the log ran. Keys created before it
	// have no records.
	logCreatedAt time.Time
	// recorded is the set of KIDs that a created or rotated record names as its key, or
	// that a revoked record names as its replacement.
	recorded map[string]bool
}

// newSigningKeyCoverage reads the signing keys and the creation time of their log. Call it
// before the log's records are read.
func (s *Service) newSigningKeyCoverage(ctx context.Context) (*signingKeyCoverage, error) {
	created, err := s.store.SigningKeyLogCreatedAt(ctx)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, fmt.Errorf("the account row %q of the signing-key log is missing, so the log was deleted", iogate.SigningKeyLogID)
	}
	if err != nil {
		return nil, err
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	return &signingKeyCoverage{keys: keys, logCreatedAt: created, recorded: map[string]bool{}}, nil
}

// signingKeyRecordDetails is the part of a signing-key record's details that names the key
// that the change created.
type signingKeyRecordDetails struct {
	KID         string `json:"kid"`
	Replacement *struct {
		KID string `json:"kid"`
	} `json:"replacement"`
}

// add notes the key that r created, when r is a record of the signing-key log that
// creates one. r must have verified in its chain already, so its details are those that
// signingKeyRecorder wrote.
func (c *signingKeyCoverage) add(r *iogate.AuditRecord) error {
	if r.AccountID != iogate.SigningKeyLogID {
		return nil
	}
	switch r.Event {
	case iogate.AuditSigningKeyCreated, iogate.AuditSigningKeyRotated, iogate.AuditSigningKeyRevoked:
	default:
		return nil
	}
	var d signingKeyRecordDetails
	if err := json.Unmarshal(r.Details, &d); err != nil {
		return fmt.Errorf("record %d of the signing-key log has invalid details: %w", r.Seq, err)
	}
	if r.Event == iogate.AuditSigningKeyRevoked {
		if d.Replacement != nil {
			c.recorded[d.Replacement.KID] = true
		}
		return nil
	}
	c.recorded[d.KID] = true
	return nil
}

// check returns an error naming the first signing key that was created after the log
// existed, and after prunedUntil when retention pruned the log, but that no record names.
// It returns the KIDs of the keys without a record that it exempts, because an operator
// who knows no such key should look at them: an attacker who can write to the database
// can backdate a key's creation time.
func (c *signingKeyCoverage) check(prunedUntil time.Time, pruned bool) (exempt []string, err error) {
	for _, k := range c.keys {
		// Records name a key by its KID, the thumbprint of its public key, so a public key
		// replaced under a recorded KID must not pass for the recorded one.
		if kid, err := token.KeyIDOf(k.PublicJWK); err != nil || kid != k.KID {
			return exempt, fmt.Errorf("signing key %s (%s) does not match its KID: its stored public key is not the key that the KID names, so it was replaced outside iogate",
				k.KID, k.Algorithm)
		}
		if c.recorded[k.KID] {
			continue
		}
		// A key created at or before the last pruned record may have lost its record to
		// pruning, because the record is written after the key's creation time.
		if k.CreatedAt.Before(c.logCreatedAt) || (pruned && !k.CreatedAt.After(prunedUntil)) {
			exempt = append(exempt, k.KID)
			continue
		}
		return exempt, fmt.Errorf("the signing-key log is incomplete: signing key %s (%s, created %s) exists but no signing_key.created, signing_key.rotated or signing_key.revoked record names it, so records were deleted or the key was inserted without iogate",
			k.KID, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339))
	}
	return exempt, nil
}
