package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// TestDashboardPendingSeedNeedsFreshConfirmation checks that the seed of an unfinished TOTP
// enrolment is shown, as text and as a QR code, only while the session's confirmation is
// fresh. Later, a copy of the session cookie alone must not read the seed that the user
// may still confirm, and starting again, which requires the password, replaces the seed.
func TestDashboardPendingSeedNeedsFreshConfirmation(t *testing.T) {
	// A 2s interval ages the confirmation within the test, and leaves time to read the
	// seed right after the enrolment began.
	f := &confirmFixture{d: startDashboard(t, "--confirm-interval", "2s"), serial: 10}
	a := f.newActor(t, false)
	seed := a.beginTOTP(t)
	if qr := a.w.get("/dashboard/security/totp/qr.png"); qr.status != http.StatusOK || qr.header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR code right after the enrolment began: status %d, type %q; want 200 image/png", qr.status, qr.header.Get("Content-Type"))
	}

	// thief holds a copy of the owner's session cookie and nothing else.
	thief := f.d.clientAt(t, "127.0.0.200")
	base, _ := url.Parse(f.d.base)
	thief.c.Jar.SetCookies(base, []*http.Cookie{{Name: "__Host-iogate_session", Value: a.w.cookie("__Host-iogate_session"), Path: "/", Secure: true}})
	a.waitUntilConfirmationDue(t)

	for _, c := range []struct {
		name string
		w    *webClient
	}{{"owner", a.w}, {"copied cookie", thief}} {
		page := c.w.get("/dashboard/security")
		if page.status != http.StatusOK {
			t.Fatalf("%s: GET /dashboard/security after the interval: status %d, want 200", c.name, page.status)
		}
		if strings.Contains(page.body, seed) || strings.Contains(page.body, `id="totp-secret"`) {
			t.Errorf("%s: the security page shows the pending seed after the confirmation interval", c.name)
		}
		if strings.Contains(page.body, "totp/qr.png") {
			t.Errorf("%s: the security page links the QR code after the confirmation interval", c.name)
		}
		if !strings.Contains(page.text(), "Start the setup again to get a new key") {
			t.Errorf("%s: the security page (%s) does not say to start the setup again", c.name, pageErrors(page))
		}
		if !strings.Contains(page.body, `<form method="post" action="/dashboard/security/totp">`) {
			t.Errorf("%s: the security page has no form that starts the setup again", c.name)
		}
		qr := c.w.get("/dashboard/security/totp/qr.png")
		if qr.status != http.StatusForbidden || qr.header.Get("Content-Type") == "image/png" {
			t.Errorf("%s: QR code after the interval: status %d, type %q; want 403 and no image", c.name, qr.status, qr.header.Get("Content-Type"))
		}
		if strings.Contains(qr.body, seed) {
			t.Errorf("%s: the QR code's error page contains the seed", c.name)
		}
	}

	// Starting again requires the password and replaces the seed, so that the old one,
	// which the copied cookie might have read before, cannot turn TOTP on.
	prompt := a.post(t, "/dashboard/security/totp", nil, "")
	if prompt.status != http.StatusBadRequest {
		t.Fatalf("start again without the password: %s, want status 400 with the confirmation page", pageErrors(prompt))
	}
	if p := a.submitConfirmation(t, prompt, a.password); p.status != http.StatusSeeOther {
		t.Fatalf("start again with the password: %s, want status 303", pageErrors(p))
	}
	m := totpSecretPattern.FindStringSubmatch(a.w.get("/dashboard/security").body)
	if m == nil {
		t.Fatal("the security page shows no seed right after the setup started again")
	}
	if m[1] == seed {
		t.Fatal("starting the setup again kept the old seed")
	}
	oldCode, err := totp.GenerateCode(seed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p := a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {oldCode}}, ""); p.status != http.StatusBadRequest {
		t.Errorf("turn TOTP on with a code of the replaced seed: %s, want status 400", pageErrors(p))
	}
	if f.d.findUser(t, a.email).TOTPEnabled {
		t.Fatal("a code of the replaced seed turned TOTP on")
	}
	newCode, err := totp.GenerateCode(m[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p := a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {newCode}}, a.password); p.status != http.StatusOK {
		t.Errorf("turn TOTP on with a code of the new seed: %s, want status 200", pageErrors(p))
	}
	if !f.d.findUser(t, a.email).TOTPEnabled {
		t.Error("TOTP is off after a code of the new seed was accepted")
	}
}

// TestDashboardPendingSeedCodeAfterInterval checks that a user who added the seed to an
// app in time can still turn TOTP on after the interval, with a code and the password,
// from the page that no longer shows the seed.
func TestDashboardPendingSeedCodeAfterInterval(t *testing.T) {
	f := &confirmFixture{d: startDashboard(t, "--confirm-interval", "2s"), serial: 10}
	a := f.newActor(t, false)
	seed := a.beginTOTP(t)
	a.waitUntilConfirmationDue(t)

	page := a.w.get("/dashboard/security")
	if !strings.Contains(page.body, `action="/dashboard/security/totp/confirm"`) || !strings.Contains(page.body, `id="confirm"`) {
		t.Fatal("the security page after the interval has no form for the first code with a confirm field")
	}
	code, err := totp.GenerateCode(seed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {code}}, "")
	if p.status != http.StatusBadRequest {
		t.Errorf("first code without the password after the interval: %s, want status 400", pageErrors(p))
	}
	checkConfirmError(t, p, confirmMissing)
	if strings.Contains(p.body, seed) {
		t.Error("the page for the missing confirmation shows the seed")
	}
	if p := a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {code}}, a.password); p.status != http.StatusOK {
		t.Errorf("first code with the password after the interval: %s, want status 200", pageErrors(p))
	}
	if !f.d.findUser(t, a.email).TOTPEnabled {
		t.Error("TOTP is off after the first code was confirmed with the password")
	}
}

// TestBrowserTOTPSetupAfterInterval follows a user who leaves the setup page open past the
// confirmation interval: the reloaded page hides the seed and its QR code, and starting
// the setup again with the password shows a new seed.
func TestBrowserTOTPSetupAfterInterval(t *testing.T) {
	d := startDashboard(t, "--confirm-interval", "2s")
	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")
	run(t, ctx, "open the security page",
		chromedp.Navigate(d.base+"/dashboard/security"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/dashboard/security/totp"] button`)),
	)
	submitConfirming(t, ctx, `form[action="/dashboard/security/totp"] button`, "#totp-secret", ownerPassword)
	first := textOf(t, ctx, "#totp-secret")

	hidden := pollUntil(10*time.Second, func() bool {
		run(t, ctx, "reload the security page", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("code")))
		return exists(t, ctx, "#totp-restart")
	})
	if !hidden {
		t.Fatal("the security page still shows the seed 10s into a 2s confirmation interval")
	}
	if exists(t, ctx, "#totp-secret") || exists(t, ctx, "img.qr") {
		t.Error("the security page shows the seed or its QR code beside the notice to start again")
	}
	if got := textOf(t, ctx, "#totp-restart"); !strings.Contains(got, "more than 2 seconds ago") {
		t.Errorf("notice to start again = %q, want it to name the 2 second interval", got)
	}
	saveScreenshot(t, ctx, "totp-setup-restart")

	submitConfirming(t, ctx, `form[action="/dashboard/security/totp"] button`, "#totp-secret", ownerPassword)
	if second := textOf(t, ctx, "#totp-secret"); second == first {
		t.Error("starting the setup again shows the old seed")
	}
	waitFor(t, ctx, `document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0`)
}
