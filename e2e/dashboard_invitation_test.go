package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

var inviteURLPattern = regexp.MustCompile(`id="invite-url">([^<]+)<`)

// inviteOnPage creates an invitation of email with role on the users page, as w's user, and
// returns the page that follows and the link it shows once.
func (d *dashboard) inviteOnPage(t *testing.T, w *webClient, email, role string) (webPage, string) {
	t.Helper()
	p := w.post("/dashboard/users", w.get("/dashboard/users").csrf(t), url.Values{"email": {email}, "role": {role}})
	m := inviteURLPattern.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("invite %s on the users page: %s, want status 200 with the link", email, pageErrors(p))
	}
	return p, html.UnescapeString(m[1])
}

// invitationRow returns the row of the users page's pending invitations that shows email,
// as text, or "" when the page lists no such invitation.
func invitationRow(p webPage, email string) string {
	start := strings.Index(p.body, `<table class="table invitations">`)
	if start < 0 {
		return ""
	}
	table := p.body[start:]
	table = table[:strings.Index(table, "</table>")]
	for _, row := range strings.Split(table, "<tr>")[1:] {
		text := strings.Join(strings.Fields(tagPattern.ReplaceAllString(row, " ")), " ")
		if strings.HasPrefix(text, email+" ") {
			return text
		}
	}
	return ""
}

// TestDashboardCancelInvitation lists pending invitations on the users page and cancels
// one with its Cancel button, which goes through a confirmation page with the CSRF token
// and confirm field of the other destructive changes. Only owners see the list and may
// cancel, and only invitations of their own account.
func TestDashboardCancelInvitation(t *testing.T) {
	d := startDashboard(t)
	owner := d.signIn(t, ownerEmail, ownerPassword)
	p, link := d.inviteOnPage(t, owner, "ana@acme.test", "admin")
	row := invitationRow(p, "ana@acme.test")
	if !strings.HasPrefix(row, "ana@acme.test admin "+ownerEmail+" ") || !strings.Contains(row, "UTC Cancel") {
		t.Errorf("row of the new invitation on the page that shows its link = %q, want email, role, inviter, expiry and Cancel", row)
	}
	d.inviteLink(t, "ops@acme.test", "viewer")
	users := owner.get("/dashboard/users")
	if row := invitationRow(users, "ops@acme.test"); !strings.HasPrefix(row, "ops@acme.test viewer operator ") {
		t.Errorf("row of the operator's invitation = %q, want it to name the operator as the inviter", row)
	}
	if strings.Contains(users.body, "token=") {
		t.Error("the users page shows an invitation link after the page that created it")
	}
	ana := d.pendingInvitation(t, "ana@acme.test")
	cancelPath := "/dashboard/users/invitations/" + ana.ID + "/cancel"
	if !strings.Contains(users.body, `href="`+cancelPath+`"`) {
		t.Errorf("the users page has no Cancel button to %s", cancelPath)
	}

	t.Run("hidden from admins and viewers", func(t *testing.T) {
		for _, role := range []string{"admin", "viewer"} {
			w := d.inviteAndJoin(t, role+"-member@acme.test", role)
			page := w.get("/dashboard/users")
			if page.status != http.StatusOK || strings.Contains(page.body, "Pending invitations") || strings.Contains(page.body, "ana@acme.test") {
				t.Errorf("users page of a %s: status %d, pending invitations shown %v; want 200 without them",
					role, page.status, strings.Contains(page.body, "ana@acme.test"))
			}
			if got := w.get(cancelPath); got.status != http.StatusForbidden {
				t.Errorf("GET the cancel page as a %s: status %d, want 403", role, got.status)
			}
			if got := w.post(cancelPath, page.csrf(t), nil); got.status != http.StatusForbidden {
				t.Errorf("POST the cancel form as a %s: status %d, want 403", role, got.status)
			}
		}
		if d.pendingInvitation(t, "ana@acme.test") == nil {
			t.Fatal("the invitation is no longer pending after posts by an admin and a viewer")
		}
	})

	t.Run("another account's invitation", func(t *testing.T) {
		other := createAccount(t, d.srv.DataDir, "Other", "other@acme.test")
		var out struct{ URL string }
		testenv.CLIJSON(t, d.srv.DataDir, &out, "user", "invite", "--account", other, "--email", "foreign@acme.test", "--role", "owner")
		var list struct{ Invitations []cliInvitation }
		testenv.CLIJSON(t, d.srv.DataDir, &list, "user", "list", "--account", other)
		if len(list.Invitations) != 1 {
			t.Fatalf("invitations of the other account = %+v, want one", list.Invitations)
		}
		path := "/dashboard/users/invitations/" + list.Invitations[0].ID + "/cancel"
		if got := owner.get(path); got.status != http.StatusNotFound {
			t.Errorf("GET the cancel page of another account's invitation: status %d, want 404", got.status)
		}
		if got := owner.post(path, users.csrf(t), nil); got.status != http.StatusNotFound {
			t.Errorf("POST the cancel form of another account's invitation: status %d, want 404", got.status)
		}
		testenv.CLIJSON(t, d.srv.DataDir, &list, "user", "list", "--account", other)
		if len(list.Invitations) != 1 {
			t.Errorf("invitations of the other account after the posts = %+v, want the one still pending", list.Invitations)
		}
	})

	page := owner.get(cancelPath)
	if page.status != http.StatusOK {
		t.Fatalf("GET the cancel page: status %d, want 200", page.status)
	}
	if text := page.text(); !strings.Contains(text, "Cancel the invitation of ana@acme.test?") || !strings.Contains(text, "as admin, sent by "+ownerEmail) {
		t.Errorf("cancel page text = %q, want the email, the role and who sent it", text)
	}
	if got := owner.post(cancelPath, "", nil); got.status != http.StatusForbidden {
		t.Errorf("POST the cancel form without its CSRF token: status %d, want 403", got.status)
	}
	if d.pendingInvitation(t, "ana@acme.test") == nil {
		t.Fatal("the invitation is no longer pending after a post without a CSRF token")
	}

	done := owner.post(cancelPath, page.csrf(t), nil)
	if done.status != http.StatusSeeOther || done.location != "/dashboard/users?notice=invitation-cancelled" {
		t.Fatalf("POST the cancel form: %s, location %q; want 303 to the users page with its notice", pageErrors(done), done.location)
	}
	users = owner.get(done.location)
	if !strings.Contains(users.text(), "The invitation was cancelled. Its link no longer works.") {
		t.Error("the users page after the cancellation lacks its notice")
	}
	if row := invitationRow(users, "ana@acme.test"); row != "" {
		t.Errorf("the users page still lists the cancelled invitation: %q", row)
	}
	if got := d.client(t).get(strings.TrimPrefix(link, d.base)); got.status != http.StatusNotFound {
		t.Errorf("GET the cancelled link: status %d, want 404", got.status)
	}
	if again := owner.post(cancelPath, page.csrf(t), nil); again.status != http.StatusNotFound {
		t.Errorf("POST the cancel form again: status %d, want 404", again.status)
	}

	records := d.cancelRecords(t)
	ownerID := d.findUser(t, ownerEmail).ID
	if len(records) != 1 || records[0].Actor.Type != "user" || records[0].Actor.ID != ownerID || records[0].Details["invitationId"] != ana.ID {
		t.Errorf("user.invitation_cancelled records = %+v, want one by the owner for %s", records, ana.ID)
	}
}

// TestDashboardRemovalCancelsInvitations removes one owner and demotes another on the
// users page. Each change cancels the invitations that its user sent from the dashboard,
// records why, and keeps the invitations of others.
func TestDashboardRemovalCancelsInvitations(t *testing.T) {
	d := startDashboard(t)
	owner := d.signIn(t, ownerEmail, ownerPassword)
	_, keptLink := d.inviteOnPage(t, owner, "kept@acme.test", "viewer")
	leaving := d.inviteAndJoin(t, "leaving@acme.test", "owner")
	_, leavingLink := d.inviteOnPage(t, leaving, "friend@acme.test", "owner")
	demoted := d.inviteAndJoin(t, "demoted@acme.test", "owner")
	_, demotedLink := d.inviteOnPage(t, demoted, "helper@acme.test", "viewer")

	leaver := d.findUser(t, "leaving@acme.test")
	page := owner.get("/dashboard/users/" + leaver.ID + "/remove")
	if !strings.Contains(page.text(), "Invitations they sent that are still pending are cancelled.") {
		t.Errorf("remove page text = %q, want it to say that pending invitations are cancelled", page.text())
	}
	if p := owner.post("/dashboard/users/"+leaver.ID+"/remove", page.csrf(t), nil); p.status != http.StatusSeeOther {
		t.Fatalf("remove leaving@acme.test: %s, want status 303", pageErrors(p))
	}
	target := d.findUser(t, "demoted@acme.test")
	if p := owner.post("/dashboard/users/"+target.ID+"/role", page.csrf(t), url.Values{"role": {"viewer"}}); p.status != http.StatusSeeOther {
		t.Fatalf("demote demoted@acme.test: %s, want status 303", pageErrors(p))
	}

	for what, link := range map[string]string{"the removed owner's invitation": leavingLink, "the demoted owner's invitation": demotedLink} {
		if got := d.client(t).get(strings.TrimPrefix(link, d.base)); got.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", what, got.status)
		}
	}
	if got := d.client(t).get(strings.TrimPrefix(keptLink, d.base)); got.status != http.StatusOK {
		t.Errorf("GET the invitation of the owner who stayed: status %d, want 200", got.status)
	}
	if pending := d.pendingInvitations(t); len(pending) != 1 || pending[0].Email != "kept@acme.test" {
		t.Errorf("pending invitations = %+v, want kept@acme.test alone", pending)
	}

	ownerID := d.findUser(t, ownerEmail).ID
	want := map[string]string{"friend@acme.test": "inviter_removed", "helper@acme.test": "inviter_demoted"}
	records := d.cancelRecords(t)
	if len(records) != len(want) {
		t.Fatalf("user.invitation_cancelled records = %+v, want %d", records, len(want))
	}
	for _, r := range records {
		email, _ := r.Details["email"].(string)
		if r.Actor.ID != ownerID || r.Details["reason"] != want[email] {
			t.Errorf("cancellation record of %s = %+v, want one by the owner with the reason %s", email, r, want[email])
		}
	}
}
