package auth

import (
	"time"

	"github.com/iogate/iogate"
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
