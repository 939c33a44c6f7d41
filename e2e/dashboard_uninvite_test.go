package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// cliInvitation is a pending invitation as "iogate user list --json" prints it.
type cliInvitation struct {
	ID, AccountID, Email, Role, Status string
	InvitedBy                          *struct{ Type, ID string }
}

// pendingInvitations returns the account's pending invitations through the CLI.
func (d *dashboard) pendingInvitations(t *testing.T) []cliInvitation {
	t.Helper()
	var list struct{ Invitations []cliInvitation }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "user", "list", "--account", d.accountID)
	return list.Invitations
}

// pendingInvitation returns the account's pending invitation of email through the CLI, or
// nil.
func (d *dashboard) pendingInvitation(t *testing.T, email string) *cliInvitation {
	t.Helper()
	for _, l := range d.pendingInvitations(t) {
		if l.Email == email {
			return &l
		}
	}
	return nil
}

// inviteLink invites email with role through the CLI and returns the printed link.
func (d *dashboard) inviteLink(t *testing.T, email, role string) *url.URL {
	t.Helper()
	var out struct{ URL string }
	testenv.CLIJSON(t, d.srv.DataDir, &out, "user", "invite", "--account", d.accountID, "--email", email, "--role", role, "--url", d.base)
	u, err := url.Parse(out.URL)
	if err != nil {
		t.Fatalf("user invite printed a link that does not parse: %v", err)
	}
	return u
}

// cancelRecords returns the account's user.invitation_cancelled records through the CLI,
// newest first.
func (d *dashboard) cancelRecords(t *testing.T) []auditEntry {
	t.Helper()
	var records struct{ Data []auditEntry }
	testenv.CLIJSON(t, d.srv.DataDir, &records, "audit", "list", "--account", d.accountID, "--event", "user.invitation_cancelled")
	return records.Data
}

// auditEntry is an audit record as "iogate audit list --json" prints it.
type auditEntry struct {
	Event   string
	Actor   struct{ Type, ID string }
	Details map[string]any
}

// TestUserUninviteCLI cancels an invitation with "iogate user uninvite". The link then
// gets the page of a used link, the invitation leaves the pending list, and the audit log
// records who cancelled which invitation.
func TestUserUninviteCLI(t *testing.T) {
	d := startDashboard(t)
	dir := d.srv.DataDir
	link := d.inviteLink(t, "ops@acme.test", "admin")
	d.inviteLink(t, "kept@acme.test", "viewer")
	used := d.inviteLink(t, "used@acme.test", "viewer")
	w := d.client(t)
	p := w.get(used.RequestURI())
	password := joinPassword("viewer")
	p = w.post("/dashboard/invite", p.csrf(t), url.Values{"token": {used.Query().Get("token")}, "password": {password}, "password_confirm": {password}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("accept the invitation of used@acme.test: %s, want status 303", pageErrors(p))
	}

	pending := d.pendingInvitations(t)
	if len(pending) != 2 || pending[1].Email != "ops@acme.test" {
		t.Fatalf("pending invitations = %+v, want kept@acme.test and ops@acme.test", pending)
	}
	ops := pending[1]
	if ops.ID == "" || ops.InvitedBy == nil || ops.InvitedBy.Type != "operator" {
		t.Errorf("user list shows the invitation of ops@acme.test as %+v, want an ID and the operator who invited", ops)
	}

	var out struct{ Data []cliInvitation }
	testenv.CLIJSON(t, dir, &out, "user", "uninvite", "--account", d.accountID, "--email", "OPS@acme.test")
	if len(out.Data) != 1 || out.Data[0].ID != ops.ID || out.Data[0].Status != "cancelled" || out.Data[0].Role != "admin" {
		t.Errorf("user uninvite printed %+v, want the admin invitation %s, cancelled", out.Data, ops.ID)
	}
	if got := d.pendingInvitations(t); len(got) != 1 || got[0].Email != "kept@acme.test" {
		t.Errorf("pending invitations after user uninvite = %+v, want kept@acme.test alone", got)
	}

	// The cancelled link gets the page of a used one, word for word.
	cancelledPage, usedPage := d.client(t).get(link.RequestURI()), d.client(t).get(used.RequestURI())
	if cancelledPage.status != http.StatusNotFound {
		t.Errorf("GET the cancelled invitation link: status %d, want 404", cancelledPage.status)
	}
	if cancelledPage.text() != usedPage.text() {
		t.Errorf("page of the cancelled link = %q, want the page of a used link, %q", cancelledPage.text(), usedPage.text())
	}

	records := d.cancelRecords(t)
	if len(records) != 1 {
		t.Fatalf("user.invitation_cancelled records = %+v, want one", records)
	}
	r := records[0]
	if r.Actor.Type != "operator" || r.Details["email"] != "ops@acme.test" || r.Details["role"] != "admin" || r.Details["invitationId"] != ops.ID {
		t.Errorf("user.invitation_cancelled record = %+v, want one by the operator naming the admin invitation of ops@acme.test", r)
	}
	if _, ok := r.Details["reason"]; ok {
		t.Errorf("record of a requested cancellation has the reason %v, want none", r.Details["reason"])
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"again", []string{"user", "uninvite", "--account", d.accountID, "--email", "ops@acme.test"}, "no pending invitation for ops@acme.test"},
		{"an accepted invitation", []string{"user", "uninvite", "--account", d.accountID, "--email", "used@acme.test"}, "no pending invitation for used@acme.test"},
		{"of an unknown account", []string{"user", "uninvite", "--account", "0190f7a8-0000-7000-8000-000000000000", "--email", "kept@acme.test"}, "not found"},
		{"with an invalid email", []string{"user", "uninvite", "--account", d.accountID, "--email", "kept"}, `"kept"`},
		{"without --email", []string{"user", "uninvite", "--account", d.accountID}, "email"},
	} {
		res := testenv.RunCLI(t, dir, nil, c.args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("user uninvite %s: exit %d, stderr %q; want a failure that mentions %s", c.name, res.ExitCode, res.Stderr, c.want)
		}
	}
	if got := d.pendingInvitations(t); len(got) != 1 {
		t.Errorf("pending invitations after the failed commands = %+v, want kept@acme.test still", got)
	}
}
