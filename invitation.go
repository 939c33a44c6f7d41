package iogate

import "time"

// Reasons in the details of AuditUserInvitationCancelled records whose invitation a change
// of its creator cancelled. A cancellation that someone requested has no reason.
const (
	// InvitationInviterRemoved is the reason when the user who created the invitation was
	// removed.
	InvitationInviterRemoved = "inviter_removed"
	// InvitationInviterDemoted is the reason when the user who created the invitation got
	// a role that may not manage users, and so may not invite anyone.
	InvitationInviterDemoted = "inviter_demoted"
)

// ErrInvitationNotPending is the CodeNotFound error of cancelling an invitation that is not
// pending. It does not say whether the invitation was accepted, cancelled or has expired.
var ErrInvitationNotPending = Errorf(CodeNotFound, "no pending invitation with this ID: it was accepted, cancelled or has expired")

// ErrInviterNotOwner is the CodeForbidden error of an invitation whose creator is a user who
// may no longer invite, because their removal or demotion was stored first.
var ErrInviterNotOwner = Errorf(CodeForbidden, "only owners of the account can invite users, and you are no longer an owner")

// RoleChangeCancelReason returns the reason with which giving a user role cancels the
// user's pending invitations: InvitationInviterDemoted for a role that may not manage
// users, and "" for one that may, which cancels none. Only owners invite, so a demoted
// owner loses every invitation they made, not only those for roles above the new one.
func RoleChangeCancelReason(role Role) string {
	if role.CanManageUsers() {
		return ""
	}
	return InvitationInviterDemoted
}

// CheckNewUserLink returns a CodeInternal error for an invitation without an ID, and
// otherwise CheckLinkRecord's error. Stores call it before they store the link.
func CheckNewUserLink(l *UserLink, rec *AuditRecord) error {
	if l.Purpose == LinkInvite && l.ID == "" {
		return Errorf(CodeInternal, "invitation for %s has no ID", l.Email)
	}
	return CheckLinkRecord(rec, l)
}

// CheckInvitationCancelRecord returns a CodeInternal error unless rec is an
// AuditUserInvitationCancelled record. Stores call it before they cancel an invitation of
// rec's account.
func CheckInvitationCancelRecord(rec *AuditRecord) error {
	if rec == nil {
		return Errorf(CodeInternal, "missing %s audit record", AuditUserInvitationCancelled)
	}
	return CheckChangeRecord(rec, rec.AccountID, AuditUserInvitationCancelled)
}

// NewInvitationCancelledRecord returns the AuditUserInvitationCancelled record of
// cancelling the invitation l, by actor at time at. reason is "" for a cancellation that
// actor requested, and otherwise InvitationInviterRemoved or InvitationInviterDemoted. The
// details carry the invitation's ID, email and role, and who created it when that is
// known.
func (c *AuditChain) NewInvitationCancelledRecord(l *UserLink, actor Actor, at time.Time, reason string) (*AuditRecord, error) {
	details := map[string]any{"invitationId": l.ID, "email": l.Email, "role": l.Role}
	if l.CreatedBy.Type != "" {
		details["invitedBy"] = l.CreatedBy
	}
	if reason != "" {
		details["reason"] = reason
	}
	return c.NewRecord(l.AccountID, AuditUserInvitationCancelled, actor, at, details)
}

// InvitationCancelledBy returns the AuditUserInvitationCancelled record of the invitation
// l that the user change recorded by cause cancels: by cause's actor, at cause's time,
// with reason. Stores call it inside the transaction of DeleteUser and SetUserRole, for
// each invitation that the change cancels. It returns CodeInternal when cause did not come
// from an AuditChain or belongs to another account than l.
func InvitationCancelledBy(cause *AuditRecord, l *UserLink, reason string) (*AuditRecord, error) {
	if cause.chain == nil {
		return nil, Errorf(CodeInternal, "audit record %s was not created by an AuditChain", cause.ID)
	}
	if cause.AccountID != l.AccountID {
		return nil, Errorf(CodeInternal, "%s audit record of account %q given for an invitation of account %q", cause.Event, cause.AccountID, l.AccountID)
	}
	return cause.chain.NewInvitationCancelledRecord(l, cause.Actor, cause.Time, reason)
}
