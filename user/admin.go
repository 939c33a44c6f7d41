package user

import (
	"context"
	"strings"
	"time"

	"github.com/iogate/iogate"
)

// ListUsers returns the account's users ordered by email.
func (s *Service) ListUsers(ctx context.Context, accountID string) ([]*iogate.User, error) {
	return s.store.ListUsers(ctx, accountID)
}

// FindUserByEmail returns the user with the email, or CodeNotFound naming it. An email that
// NormalizeEmail rejects still finds a user stored with it, so that a user whose address was
// stored before one of its characters was disallowed can be removed or reset.
func (s *Service) FindUserByEmail(ctx context.Context, email string) (*iogate.User, error) {
	normalized, err := iogate.NormalizeEmail(email)
	if err != nil {
		if u, findErr := s.store.FindUserByEmail(ctx, lookupEmail(email)); findErr == nil {
			return u, nil
		}
		return nil, err
	}
	email = normalized
	u, err := s.store.FindUserByEmail(ctx, email)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return nil, iogate.Errorf(iogate.CodeNotFound, "no dashboard user with email %s", email)
	}
	return u, err
}

// findAccountUser returns the user if it belongs to the account. A user of another account
// is reported as not found, so that IDs of other accounts reveal nothing.
func (s *Service) findAccountUser(ctx context.Context, accountID, userID string) (*iogate.User, error) {
	u, err := s.store.FindUserByID(ctx, userID)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound || err == nil && u.AccountID != accountID {
		return nil, iogate.Errorf(iogate.CodeNotFound, "user not found")
	}
	return u, err
}

// errLastOwner keeps every account with at least one owner, who alone can manage users.
var errLastOwner = iogate.Errorf(iogate.CodeConflict, "an account needs at least one owner: make another user owner first")

// ChangeRole gives the account's user a new role, with a user.role_changed record by the
// actor in ctx. It refuses to demote the last owner. Giving a user the role they have
// changes and records nothing. A role that may not manage users cancels every pending
// invitation the user created, each with a user.invitation_cancelled record.
func (s *Service) ChangeRole(ctx context.Context, accountID, userID string, role iogate.Role) (*iogate.User, error) {
	if _, err := iogate.ParseRole(string(role)); err != nil {
		return nil, err
	}
	u, err := s.findAccountUser(ctx, accountID, userID)
	if err != nil {
		return nil, err
	}
	if u.Role == role {
		return u, nil
	}
	if u.Role == iogate.RoleOwner {
		if err := s.requireAnotherOwner(ctx, u); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	changed := *u
	changed.Role, changed.UpdatedAt = role, now
	rec, err := s.userRecord(ctx, &changed, iogate.AuditUserRoleChanged, now, map[string]any{"role": role})
	if err != nil {
		return nil, err
	}
	if err := s.store.SetUserRole(ctx, u.ID, role, now, rec); err != nil {
		return nil, err
	}
	return &changed, nil
}

// RemoveUser deletes the account's user and their sessions, with a user.removed record by
// the actor in ctx. It refuses to remove the last owner. It cancels every pending
// invitation the user created, each with a user.invitation_cancelled record.
func (s *Service) RemoveUser(ctx context.Context, accountID, userID string) (*iogate.User, error) {
	u, err := s.findAccountUser(ctx, accountID, userID)
	if err != nil {
		return nil, err
	}
	if u.Role == iogate.RoleOwner {
		if err := s.requireAnotherOwner(ctx, u); err != nil {
			return nil, err
		}
	}
	rec, err := s.userRecord(ctx, u, iogate.AuditUserRemoved, s.now(), map[string]any{"role": u.Role})
	if err != nil {
		return nil, err
	}
	return u, s.store.DeleteUser(ctx, u.ID, rec)
}

// RemoveUserByEmail deletes the user with the email, whatever the account, for the CLI.
func (s *Service) RemoveUserByEmail(ctx context.Context, email string) (*iogate.User, error) {
	u, err := s.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return s.RemoveUser(ctx, u.AccountID, u.ID)
}

// NOTE: the owner count is read before the write, so two owners demoting each other at the
// same moment could both succeed. The window is one request long and needs two owners
// acting together; the CLI can always add an owner back with "iogate user invite".
func (s *Service) requireAnotherOwner(ctx context.Context, u *iogate.User) error {
	users, err := s.store.ListUsers(ctx, u.AccountID)
	if err != nil {
		return err
	}
	for _, other := range users {
		if other.ID != u.ID && other.Role == iogate.RoleOwner {
			return nil
		}
	}
	return errLastOwner
}

// SetRequireTOTP changes whether every user of the account must enrol in TOTP, with an
// account.policy_changed record by the actor in ctx. Users without it are sent to
// enrolment on their next page view.
func (s *Service) SetRequireTOTP(ctx context.Context, accountID string, require bool) error {
	rec, err := s.cfg.AuditChain.NewRecord(accountID, iogate.AuditAccountPolicyChanged, iogate.ActorFrom(ctx), s.now(),
		map[string]any{"requireTotp": require})
	if err != nil {
		return err
	}
	return s.store.SetAccountRequireTOTP(ctx, accountID, require, rec)
}

// RequiresTOTP reports whether the account requires TOTP of its users.
func (s *Service) RequiresTOTP(ctx context.Context, accountID string) (bool, error) {
	return s.store.AccountRequiresTOTP(ctx, accountID)
}

// ListPendingInvitations returns the account's invitations that are neither used nor
// expired, ordered by email, with their IDs and creators but without their token hashes.
func (s *Service) ListPendingInvitations(ctx context.Context, accountID string) ([]*iogate.UserLink, error) {
	return s.store.ListPendingInvitations(ctx, accountID, s.now())
}

// lookupEmail returns email in the form the store holds it, lower case and trimmed, without
// the checks of NormalizeEmail. Sign-in and lookups of stored addresses use it.
func lookupEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}
