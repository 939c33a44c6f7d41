package auth

import (
	"context"

	"github.com/iogate/iogate"
)

// RecordEvent appends an audit record of event to the account's log, by the actor in ctx,
// and waits until it is committed or ctx ends. A record whose caller stopped waiting is
// still written. The dashboard records sign-ins, sign-outs
// and exports with it. Changes are recorded by the store methods that make them, in the
// same transaction, so that no change commits without its record.
func (s *Service) RecordEvent(ctx context.Context, accountID, event string, details map[string]any) error {
	rec, err := s.newRecord(accountID, event, iogate.ActorFrom(ctx), details)
	if err != nil {
		return err
	}
	if err := s.audit.commit(ctx, rec, false, 0); err != nil {
		return StoreError(ctx, iogate.WrapError(iogate.CodeUnavailable, err, "the audit log could not be written; retry later"))
	}
	return nil
}
