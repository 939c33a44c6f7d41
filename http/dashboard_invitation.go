package http

import (
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// invitationRow is a pending invitation as the users page lists it.
type invitationRow struct {
	*iogate.UserLink
	// InvitedBy names who created the invitation, or is "" when that is unknown.
	InvitedBy string
}

// invitationRows returns the account's pending invitations, each with its creator named as
// the audit page names actors. users are the account's users, whose emails name them.
func (d *Dashboard) invitationRows(r *http.Request, accountID string, users []*iogate.User) ([]invitationRow, error) {
	pending, err := d.users.ListPendingInvitations(r.Context(), accountID)
	if err != nil {
		return nil, err
	}
	emails := make(map[string]string, len(users))
	for _, u := range users {
		emails[u.ID] = u.Email
	}
	rows := make([]invitationRow, 0, len(pending))
	for _, l := range pending {
		row := invitationRow{UserLink: l}
		if l.CreatedBy.Type != "" {
			row.InvitedBy = actorLabel(l.CreatedBy, emails, nil)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// invitationCancel is the data of the page that confirms the cancellation of an
// invitation.
type invitationCancel struct {
	Invitation invitationRow
	confirmForm
}

// handleCancelInvitation shows the page that confirms the cancellation of a pending
// invitation, and cancels it when that page is posted with the confirmation it needs, as
// the removal of a user does.
func (d *Dashboard) handleCancelInvitation(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	row, err := d.findInvitationRow(r, c)
	if err != nil {
		return err
	}
	data := &invitationCancel{Invitation: row}
	return d.serveConfirmPage(w, r, c, &data.confirmForm, "invitation_cancel", "Cancel the invitation of "+row.Email, "users", data,
		func() error { return d.cancelInvitation(w, r, c, row.UserLink) })
}

// findInvitationRow returns the signed-in account's pending invitation with the ID in the
// path, or iogate.ErrInvitationNotPending, also for an invitation of another account.
func (d *Dashboard) findInvitationRow(r *http.Request, c *user.Current) (invitationRow, error) {
	users, err := d.users.ListUsers(r.Context(), c.Account.ID)
	if err != nil {
		return invitationRow{}, err
	}
	rows, err := d.invitationRows(r, c.Account.ID, users)
	if err != nil {
		return invitationRow{}, err
	}
	for _, row := range rows {
		if row.ID == r.PathValue("id") {
			return row, nil
		}
	}
	return invitationRow{}, iogate.ErrInvitationNotPending
}

// cancelInvitation cancels l and sends the owner back to the users page.
func (d *Dashboard) cancelInvitation(w http.ResponseWriter, r *http.Request, c *user.Current, l *iogate.UserLink) error {
	if _, err := d.users.CancelInvitation(actorContext(r, c), c.Account.ID, l.ID); err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/users", "invitation-cancelled")
	return nil
}
