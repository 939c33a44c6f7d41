package user

import (
	"context"

	"github.com/iogate/iogate"
)

// FindPendingInvitation returns the account's pending invitation id, as
// ListPendingInvitations lists it, or CodeNotFound, also when another account has one.
func (s *Service) FindPendingInvitation(ctx context.Context, accountID, id string) (*iogate.UserLink, error) {
	pending, err := s.ListPendingInvitations(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, l := range pending {
		if l.ID == id {
			return l, nil
		}
	}
	return nil, iogate.ErrInvitationNotPending
}

// CancelInvitation cancels the account's pending invitation id, with a
// user.invitation_cancelled record by the actor in ctx, and returns it. Its link then fails
// as a used or expired one does. It returns CodeNotFound when the account has no pending
// invitation id.
func (s *Service) CancelInvitation(ctx context.Context, accountID, id string) (*iogate.UserLink, error) {
	l, err := s.FindPendingInvitation(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	err = s.cancelInvitation(ctx, l)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, iogate.ErrInvitationNotPending
	}
	return l, err
}

// CancelInvitationsTo cancels every pending invitation of the account for email, each with
// a user.invitation_cancelled record by the actor in ctx, and returns them. An invitation
// accepted or cancelled by another request meanwhile is left out. It returns CodeNotFound
// naming the email when no pending invitation was cancelled.
func (s *Service) CancelInvitationsTo(ctx context.Context, accountID, email string) ([]*iogate.UserLink, error) {
	normalized, invalid := iogate.NormalizeEmail(email)
	if invalid == nil {
		email = normalized
	} else {
		// An invitation stored before a character of its address was disallowed can still
		// be cancelled, as FindUserByEmail finds such a user.
		email = lookupEmail(email)
	}
	pending, err := s.ListPendingInvitations(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var cancelled []*iogate.UserLink
	for _, l := range pending {
		if l.Email != email {
			continue
		}
		err := s.cancelInvitation(ctx, l)
		if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
			continue
		}
		if err != nil {
			return cancelled, err
		}
		cancelled = append(cancelled, l)
	}
	if len(cancelled) == 0 && invalid != nil {
		return nil, invalid
	}
	if len(cancelled) == 0 {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no pending invitation for %s in account %s; iogate user list --account %s shows the pending ones",
			email, accountID, accountID)
	}
	return cancelled, nil
}

// cancelInvitation cancels l with its record by the actor in ctx.
func (s *Service) cancelInvitation(ctx context.Context, l *iogate.UserLink) error {
	rec, err := s.cfg.AuditChain.NewInvitationCancelledRecord(l, iogate.ActorFrom(ctx), s.now(), "")
	if err != nil {
		return err
	}
	return s.store.CancelInvitation(ctx, l.ID, rec)
}
