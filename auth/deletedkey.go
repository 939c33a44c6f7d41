package auth

import (
	"context"
	"time"

	"github.com/iogate/iogate"
)

// DeletedKey is a deleted API key as FindDeletedKey returns it. It leaves out the secret
// hashes of the tombstone.
type DeletedKey struct {
	ClientID  string
	AccountID string
	// DeletedAt is the time of the deletion's key.deleted record.
	DeletedAt time.Time
	// DeletedBy is the actor of the deletion's key.deleted record, or nil when the audit
	// retention has pruned that record. Tombstones are kept forever, records are not.
	DeletedBy *iogate.Actor
}

// FindDeletedKey returns the latest deletion of the key clientID, or CodeNotFound when the
// store holds neither a tombstone nor a key.deleted record of it. It reads every tombstone,
// as Start does, because the store looks tombstones up only by account. So it is for the
// CLI's error messages and other rare callers, never for a request.
func (s *Service) FindDeletedKey(ctx context.Context, clientID string) (*DeletedKey, error) {
	var found *iogate.DeletedAPIKey
	// DeletedAPIKeys calls fn in the order of the deletion times, so the last match is the
	// latest deletion.
	err := s.store.DeletedAPIKeys(ctx, func(k iogate.DeletedAPIKey) error {
		if k.ClientID == clientID {
			found = &k
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no deleted API key with client ID %s", iogate.QuoteInput(clientID))
	}

	out := &DeletedKey{ClientID: found.ClientID, AccountID: found.AccountID, DeletedAt: found.DeletedAt}
	filter := iogate.AuditFilter{AccountID: found.AccountID, ClientID: clientID, Event: iogate.AuditKeyDeleted}
	recs, _, err := s.store.ListAuditRecords(ctx, filter, iogate.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		out.DeletedBy = &recs[0].Actor
	}
	return out, nil
}
