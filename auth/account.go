package auth

import (
	"context"

	"github.com/iogate/iogate"
)

// SuspendAccount suspends an account: the tokens of its keys are refused and no new ones are
// issued, in this process on the next request and in other processes as soon as the change
// feed delivers the change. The store also ends the account's dashboard sessions.
func (s *Service) SuspendAccount(ctx context.Context, accountID string) error {
	return s.setAccountStatus(ctx, accountID, iogate.AccountSuspended)
}

// ResumeAccount lifts a suspension: the account's keys work again, tokens issued before the
// suspension included, until they expire.
func (s *Service) ResumeAccount(ctx context.Context, accountID string) error {
	return s.setAccountStatus(ctx, accountID, iogate.AccountActive)
}

// setAccountStatus changes the account's status with its audit record, by the actor in ctx,
// in one transaction, and then applies it to this process's view at once.
func (s *Service) setAccountStatus(ctx context.Context, accountID, status string) error {
	rec, err := s.newRecord(accountID, iogate.AccountStatusEvent(status), iogate.ActorFrom(ctx), nil)
	if err != nil {
		return err
	}
	if err := s.store.SetAccountStatus(ctx, accountID, status, rec); err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
			return iogate.Errorf(iogate.CodeNotFound, "account %s not found", iogate.QuoteInput(accountID))
		}
		return err
	}
	// The change is stored, so a failed Sync is logged rather than returned, and this
	// process applies the status at once either way.
	if s.started {
		s.view.setSuspended(accountID, status == iogate.AccountSuspended)
	}
	s.applyOwnWrite(ctx, nil)
	return nil
}

// accountSuspended reports whether the account is suspended. An account that no longer
// exists counts as suspended.
func (s *Service) accountSuspended(ctx context.Context, accountID string) (bool, error) {
	a, err := s.store.FindAccountByID(ctx, accountID)
	switch {
	case iogate.ErrorCodeOf(err) == iogate.CodeNotFound:
		return true, nil
	case err != nil:
		return false, err
	}
	return a.Status == iogate.AccountSuspended, nil
}
