package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCancelInvitation creates an invitation on the users page in Chromium, finds
// it in the list of pending invitations, and cancels it with its Cancel button and the
// confirmation page, confirming with the password once the interval has run out.
func TestBrowserCancelInvitation(t *testing.T) {
	d := startDashboard(t, "--confirm-interval", "1s")
	d.inviteLink(t, "kept@acme.test", "viewer")
	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")

	run(t, ctx, "invite a user on the users page",
		chromedp.Navigate(d.base+"/dashboard/users"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ana@acme.test"),
		chromedp.SetValue(chromedp.ID("role"), "admin"),
	)
	submitConfirming(t, ctx, `form[action="/dashboard/users"] button[type=submit]`, "#invite-url", ownerPassword)
	invitation := d.pendingInvitation(t, "ana@acme.test")
	if invitation == nil {
		t.Fatal("no pending invitation of ana@acme.test after the invite form")
	}
	cancel := `a[href="/dashboard/users/invitations/` + invitation.ID + `/cancel"]`
	row := textOf(t, ctx, "table.invitations tbody")
	for _, want := range []string{"ana@acme.test", "admin", ownerEmail, "kept@acme.test", "viewer", "operator"} {
		if !strings.Contains(row, want) {
			t.Errorf("pending invitations table = %q, want it to show %q", row, want)
		}
	}
	saveScreenshot(t, ctx, "pending-invitations")

	// Wait until the sign-in is older than the interval, so that the cancel page requests
	// the password.
	due := pollUntil(5*time.Second, func() bool {
		run(t, ctx, "open the cancel page", chromedp.Navigate(d.base+"/dashboard/users"), chromedp.WaitVisible(chromedp.CSS(cancel)),
			chromedp.Click(chromedp.CSS(cancel)), chromedp.WaitVisible(chromedp.CSS("form .btn-danger")))
		return exists(t, ctx, "#confirm")
	})
	if !due {
		t.Fatal("the cancel page does not ask for a confirmation 5s into a 1s interval")
	}
	if got := textOf(t, ctx, "h1"); got != "Cancel the invitation of ana@acme.test?" {
		t.Errorf("cancel page heading = %q", got)
	}
	saveScreenshot(t, ctx, "cancel-page")
	submitConfirming(t, ctx, "form .btn-danger", ".notice", ownerPassword)
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, "invitation was cancelled") {
		t.Errorf("notice after the cancellation = %q, want the invitation-cancelled notice", got)
	}
	if exists(t, ctx, cancel) {
		t.Error("the users page still offers to cancel the cancelled invitation")
	}
	if d.pendingInvitation(t, "ana@acme.test") != nil {
		t.Error("the store still holds the cancelled invitation as pending")
	}
	if d.pendingInvitation(t, "kept@acme.test") == nil {
		t.Error("the other invitation is no longer pending")
	}
}
