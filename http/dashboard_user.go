package http

import (
	"fmt"
	"net/http"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/user"
)

// userList is the data of the users page.
type userList struct {
	Users []*iogate.User
	// Invitations are the pending invitations, listed for owners only.
	Invitations []invitationRow
	Roles       []iogate.Role
	RequireTOTP bool
	// InviteURL is the link of an invitation just made, shown once to the owner.
	InviteURL   string
	InviteEmail string
	Fields      map[string]string
	Email       string
	Role        iogate.Role
}

func (d *Dashboard) userListData(r *http.Request, c *user.Current) (*userList, error) {
	users, err := d.users.ListUsers(r.Context(), c.Account.ID)
	if err != nil {
		return nil, err
	}
	required, err := d.users.RequiresTOTP(r.Context(), c.Account.ID)
	if err != nil {
		return nil, err
	}
	var invitations []invitationRow
	if c.User.Role.CanManageUsers() {
		if invitations, err = d.invitationRows(r, c.Account.ID, users); err != nil {
			return nil, err
		}
	}
	return &userList{Users: users, Invitations: invitations, Roles: iogate.Roles, RequireTOTP: required, Role: iogate.RoleViewer}, nil
}

func (d *Dashboard) handleUsers(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	data, err := d.userListData(r, c)
	if err != nil {
		return err
	}
	v := d.newView(c, "Users", "users")
	v.Notice = noticeFrom(r)
	v.Data = data
	d.render(w, r, http.StatusOK, "users", v)
	return nil
}

func (d *Dashboard) handleInviteUser(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	data, err := d.userListData(r, c)
	if err != nil {
		return err
	}
	data.Email = r.PostForm.Get("email")
	role, err := iogate.ParseRole(r.PostForm.Get("role"))
	var email string
	if err == nil {
		data.Role = role
		// A malformed address is reported before the confirmation is requested, so that no
		// one types a password for an invitation that cannot be made.
		email, err = iogate.NormalizeEmail(data.Email)
	}
	if err == nil {
		confirmed, cerr := d.confirmOrPrompt(w, r, c, "users", confirmPrompt{
			Heading: "Invite a user",
			Summary: fmt.Sprintf("Create a single-use invitation for %s as %s.", email, role),
			Submit:  "Create invitation",
			Page:    "Users",
			Cancel:  "/dashboard/users",
		})
		if !confirmed || cerr != nil {
			return cerr
		}
		var token string
		token, _, err = d.users.InviteUser(actorContext(r, c), c.Account.ID, data.Email, role)
		if err == nil {
			data.InviteURL = user.LinkURL(d.cfg.PublicURL, iogate.LinkInvite, token)
			data.InviteEmail, data.Email = data.Email, ""
			// The list was read before the invitation was stored.
			if data.Invitations, err = d.invitationRows(r, c.Account.ID, data.Users); err != nil {
				return err
			}
		}
	}
	status := http.StatusOK
	switch iogate.ErrorCodeOf(err) {
	case "":
	case iogate.CodeInvalid, iogate.CodeConflict:
		field := "email"
		if data.Role == "" {
			field = "role"
		}
		data.Fields = map[string]string{field: capitalize(iogate.ErrorMessageOf(err)) + "."}
		status = http.StatusBadRequest
	default:
		return err
	}
	v := d.newView(c, "Users", "users")
	v.Data = data
	d.render(w, r, status, "users", v)
	return nil
}

// findAccountUser returns the user with the ID in the path if they belong to the signed-in
// account. A user of another account is reported as not found.
func (d *Dashboard) findAccountUser(r *http.Request, c *user.Current) (*iogate.User, error) {
	u, err := d.cfg.Store.FindUserByID(r.Context(), r.PathValue("id"))
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound || err == nil && u.AccountID != c.Account.ID {
		return nil, iogate.Errorf(iogate.CodeNotFound, "No such user in this account.")
	}
	return u, err
}

func (d *Dashboard) handleChangeRole(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	role, err := iogate.ParseRole(r.PostForm.Get("role"))
	if err != nil {
		return err
	}
	target, err := d.findAccountUser(r, c)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("Change the role of %s from %s to %s.", target.Email, target.Role, role)
	if target.Role.CanManageUsers() && !role.CanManageUsers() {
		summary += " The invitations they sent that are still pending are cancelled."
	}
	ok, err := d.confirmOrPrompt(w, r, c, "users", confirmPrompt{
		Heading: "Change role",
		Summary: summary,
		Submit:  "Change role",
		Page:    "Users",
		Cancel:  "/dashboard/users",
	})
	if !ok || err != nil {
		return err
	}
	if _, err := d.users.ChangeRole(actorContext(r, c), c.Account.ID, target.ID, role); err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/users", "role-changed")
	return nil
}

// userRemove is the data of the remove confirmation page.
type userRemove struct {
	User *iogate.User
	confirmForm
}

func (d *Dashboard) handleRemoveUser(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	target, err := d.findAccountUser(r, c)
	if err != nil {
		return err
	}
	data := &userRemove{User: target}
	return d.serveConfirmPage(w, r, c, &data.confirmForm, "user_remove", "Remove "+target.Email, "users", data,
		func() error { return d.removeUser(w, r, c, target) })
}

// removeUser removes target and ends their sessions. A user who removes themself is signed
// out.
func (d *Dashboard) removeUser(w http.ResponseWriter, r *http.Request, c *user.Current, target *iogate.User) error {
	u, err := d.users.RemoveUser(actorContext(r, c), c.Account.ID, target.ID)
	if err != nil {
		return err
	}
	if u.ID == c.User.ID {
		setCookie(w, sessionCookie, "", -1)
		seeOther(w, r, "/dashboard/signin", "session-ended")
		return nil
	}
	seeOther(w, r, "/dashboard/users", "user-removed")
	return nil
}

func (d *Dashboard) handleSecurityPolicy(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	require := r.PostForm.Get("require_totp") == "on"
	if require && !c.User.TOTPEnabled {
		return iogate.Errorf(iogate.CodeConflict, "Turn on two-factor authentication for yourself first, so that you are not locked out.")
	}
	summary := "Stop requiring two-factor authentication. Users who have it keep it, and users without it are no longer sent to enrolment."
	if require {
		summary = "Require two-factor authentication for every user of this account. Users without it are sent to enrolment."
	}
	ok, err := d.confirmOrPrompt(w, r, c, "users", confirmPrompt{
		Heading: "Change the security policy",
		Summary: summary,
		Submit:  "Save policy",
		Page:    "Users",
		Cancel:  "/dashboard/users",
	})
	if !ok || err != nil {
		return err
	}
	if err := d.users.SetRequireTOTP(actorContext(r, c), c.Account.ID, require); err != nil {
		return err
	}
	seeOther(w, r, "/dashboard/users", "policy-saved")
	return nil
}
