package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/iogate/iogate/internal/testenv"
	"github.com/pquerna/otp/totp"
)

func TestBrowserFirstRunSetup(t *testing.T) {
	srv := testenv.Start(t, filepath.Join(t.TempDir(), "data"), testenv.Options{})
	link := srv.SetupLink(t)
	ctx := newBrowser(t, spkiHash(t, srv.CACert))

	run(t, ctx, "open the setup link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("account_name")),
	)
	// A password mismatch is reported on its field and keeps the link usable.
	run(t, ctx, "submit mismatched passwords",
		chromedp.SendKeys(chromedp.ID("account_name"), "Acme Custody"),
		chromedp.SendKeys(chromedp.ID("email"), ownerEmail),
		chromedp.SendKeys(chromedp.ID("password"), ownerPassword),
		chromedp.SendKeys(chromedp.ID("password_confirm"), ownerPassword+"x"),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("password_confirm-error")),
	)
	run(t, ctx, "submit the setup form",
		chromedp.SetValue(chromedp.ID("password"), ownerPassword),
		chromedp.SetValue(chromedp.ID("password_confirm"), ownerPassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, "Your account is ready") {
		t.Errorf("notice after setup = %q, want the account-ready notice", got)
	}
	browserSignIn(t, ctx, baseOf(link), ownerEmail, ownerPassword, ".empty")
	if got := textOf(t, ctx, "h1"); got != "API Keys" {
		t.Errorf("first page after sign-in has heading %q, want API Keys", got)
	}
	if got := textOf(t, ctx, ".who-account"); got != "Acme Custody" {
		t.Errorf("header names account %q, want Acme Custody", got)
	}

	t.Run("setup link works once", func(t *testing.T) {
		w := (&dashboard{srv: srv, base: baseOf(link)}).client(t)
		u, _ := url.Parse(link)
		if p := w.get(u.RequestURI()); p.status != http.StatusNotFound {
			t.Errorf("GET the used setup link: status %d, want 404", p.status)
		}
	})
}

// baseOf returns the scheme, host and port of a link.
func baseOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func TestBrowserKeyLifecycle(t *testing.T) {
	d := startDashboard(t, "--confirm-interval", "2s")
	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	grantClipboard(t, ctx, d.base)
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")

	// A malformed allowlist entry is named on its field, and nothing is created.
	run(t, ctx, "fill the new key form",
		chromedp.Click(chromedp.CSS(`.page-head a[href="/dashboard/keys/new"]`)),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "treasury-bot"),
		chromedp.SendKeys(chromedp.ID("description"), "Moves funds between vaults"),
		chromedp.SendKeys(chromedp.ID("allowed_ips"), "127.0.0.1\n10.0.0.01"),
	)
	submitConfirming(t, ctx, `main form button[type=submit]`, "#allowed_ips-error", ownerPassword)
	if got := textOf(t, ctx, "#allowed_ips-error"); !strings.Contains(got, "Entry 2") || !strings.Contains(got, `"10.0.0.01"`) {
		t.Errorf("allowed IPs error = %q, want it to name entry 2, \"10.0.0.01\"", got)
	}
	if n := countKeys(t, d); n != 0 {
		t.Fatalf("%d keys exist after a rejected form, want 0", n)
	}

	run(t, ctx, "correct the allowlist", chromedp.SetValue(chromedp.ID("allowed_ips"), "127.0.0.1"))
	submitConfirming(t, ctx, `main form button[type=submit]`, "#client-secret", ownerPassword)
	if got := textOf(t, ctx, ".alert-strong"); !strings.Contains(got, "will not be shown again") {
		t.Errorf("secret page warning = %q, want it to say the secret will not be shown again", got)
	}
	saveScreenshot(t, ctx, "one-time-secret")

	// Copy the secret with the page's button and read it back from the clipboard.
	clientID := textOf(t, ctx, "#client-id")
	shown := textOf(t, ctx, "#client-secret")
	run(t, ctx, "click the copy button", chromedp.Click(chromedp.ID("copy-secret")))
	waitFor(t, ctx, `document.getElementById('copy-secret').textContent === 'Copied'`)
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if secret != shown || !strings.HasPrefix(secret, "iogs_") {
		t.Fatalf("clipboard holds %d characters that differ from the %d shown, want the secret", len(secret), len(shown))
	}

	// The copied secret gets a token from the allowed address, and a 403 from another.
	tok := accessToken(t, d.srv, clientID, secret)
	if r := getVaults(t, d.srv, tok); r.status != http.StatusOK {
		t.Fatalf("GET /v1/vaults with the new key's token: status %d, want 200", r.status)
	}
	other := clientFrom(t, d.srv, "127.0.0.2")
	r := do(t, other, "POST", d.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(clientID, secret))
	if r.status != http.StatusForbidden {
		t.Errorf("token request from 127.0.0.2 for a key allowed only 127.0.0.1: status %d, want 403", r.status)
	}

	// Reloading the secret page posts the create form again: it must create no second key
	// and not show the secret again.
	run(t, ctx, "reload the secret page",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`main .alert-warn`)),
	)
	if got := textOf(t, ctx, "main"); !strings.Contains(got, "no second key was created") {
		t.Errorf("page after reloading the secret page = %q, want it to say that no second key was created", got)
	}
	if exists(t, ctx, "#client-secret") {
		t.Error("reloading the secret page shows a secret again")
	}
	if n := countKeys(t, d); n != 1 {
		t.Fatalf("%d keys after reloading the secret page, want 1", n)
	}
	saveScreenshot(t, ctx, "key-already-created")

	run(t, ctx, "go to the key list",
		chromedp.Click(chromedp.CSS(`a.btn[href="/dashboard/keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-client-id="`+clientID+`"]`)),
	)
	row := textOf(t, ctx, `tr[data-client-id="`+clientID+`"]`)
	for _, want := range []string{"treasury-bot", "vaults:read", "127.0.0.1", "none in progress", "Never"} {
		if !strings.Contains(row, want) {
			t.Errorf("key row %q lacks %q", row, want)
		}
	}
	waitForLastUse(t, ctx, clientID, "from 127.0.0.1")

	// Edit the allowlist to 127.0.0.2: the token issued to 127.0.0.1 stops working there
	// and works from the new address.
	run(t, ctx, "open the edit form",
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/keys/`+clientID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("allowed_ips")),
		chromedp.SetValue(chromedp.ID("allowed_ips"), "127.0.0.2"),
	)
	submitConfirming(t, ctx, `main form button[type=submit]`, ".notice", ownerPassword)
	if got := textOf(t, ctx, `tr[data-client-id="`+clientID+`"]`); !strings.Contains(got, "127.0.0.2") || strings.Contains(got, "Allowed IPs 127.0.0.1") {
		t.Errorf("key row after the edit = %q, want the allowlist 127.0.0.2", got)
	}
	if !pollUntil(time.Second, func() bool { return getVaults(t, d.srv, tok).status == http.StatusForbidden }) {
		t.Error("the token still works from 127.0.0.1 1s after the allowlist became 127.0.0.2")
	}
	if vaults := vaultsWith(t, other, d.srv, tok); vaults.status != http.StatusOK {
		t.Errorf("GET /v1/vaults from 127.0.0.2 after the edit: status %d, want 200", vaults.status)
	}

	// Rotate with a grace period of 1 hour: both secrets work, and the list shows
	// whether clients still use the old one.
	run(t, ctx, "open the rotate page",
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/keys/`+clientID+`/rotate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=grace][value="1h"]`)),
		chromedp.Click(chromedp.CSS(`input[name=grace][value="1h"]`)),
	)
	submitConfirming(t, ctx, `main form button[type=submit]`, "#client-secret", ownerPassword)
	newSecret := textOf(t, ctx, "#client-secret")
	if newSecret == secret || !strings.HasPrefix(newSecret, "iogs_") {
		t.Fatal("rotation did not show a new secret")
	}
	if got := textOf(t, ctx, "main"); !strings.Contains(got, "previous secret keeps working until") {
		t.Errorf("rotation page does not say until when the previous secret works: %q", got)
	}
	newTok := tokenFrom(t, other, d.srv, clientID, newSecret)
	// Reloading the new secret's page must not rotate again: a second rotation would
	// retire the original secret at once and leave the secret just shown only its grace.
	run(t, ctx, "reload the new secret's page",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`main .alert-warn`)),
	)
	if got := textOf(t, ctx, "main"); !strings.Contains(got, "This rotation form was already submitted") {
		t.Errorf("page after reloading the new secret's page = %q, want it to say that the form was already submitted", got)
	}
	run(t, ctx, "go back to the key list",
		chromedp.Click(chromedp.CSS(`a.btn[href="/dashboard/keys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-client-id="`+clientID+`"]`)),
	)
	if got := textOf(t, ctx, `tr[data-client-id="`+clientID+`"]`); !strings.Contains(got, "Old secret unused") {
		t.Errorf("key row right after the rotation = %q, want the previous secret not used since", got)
	}
	oldTok := tokenFrom(t, other, d.srv, clientID, secret)
	waitForLastUse(t, ctx, clientID, "Old secret still used")
	saveScreenshot(t, ctx, "key-list")
	run(t, ctx, "view the key list on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || overflow {
		t.Errorf("the key list is wider than a 390px phone screen (err %v)", err)
	}
	saveScreenshot(t, ctx, "key-list-phone")
	run(t, ctx, "back to the desktop size", chromedp.EmulateViewport(1280, 900))

	// Delete after the confirmation interval, so the page must ask for the password.
	time.Sleep(2100 * time.Millisecond)
	run(t, ctx, "open the delete page",
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/keys/`+clientID+`/delete"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm_name")),
	)
	if got := textOf(t, ctx, "h1"); !strings.Contains(got, "treasury-bot") {
		t.Errorf("delete page heading %q does not name the key", got)
	}
	if !exists(t, ctx, "#confirm") {
		t.Error("delete page does not ask for a re-confirmation after the interval")
	}
	run(t, ctx, "type the key name", chromedp.SendKeys(chromedp.ID("confirm_name"), "treasury-bot"))
	submitConfirming(t, ctx, `main form button.btn-danger`, ".notice", ownerPassword)
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, "deleted") {
		t.Errorf("notice after delete = %q", got)
	}
	for _, tk := range []string{newTok, oldTok} {
		refused := pollUntil(time.Second, func() bool {
			return vaultsWith(t, other, d.srv, tk).status == http.StatusUnauthorized
		})
		if !refused {
			t.Error("a token of the deleted key still works 1s after the delete")
		}
	}

	// The audit log names every step, newest first.
	run(t, ctx, "open the audit log",
		chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.audit")),
	)
	first := textOf(t, ctx, "table.audit tbody tr:first-child")
	if !strings.Contains(first, "key.deleted") || !strings.Contains(first, ownerEmail) {
		t.Errorf("newest audit row = %q, want the deletion by %s", first, ownerEmail)
	}
	all := textOf(t, ctx, "table.audit")
	for _, event := range []string{"key.created", "key.updated", "key.rotated", "token.issued", "token.denied", "user.signed_in"} {
		if !strings.Contains(all, event) {
			t.Errorf("the audit log lacks a %s record", event)
		}
	}
}

// waitForLastUse reloads the key list until the key's row contains want, which shows a
// use that the server records in batches once a second.
func waitForLastUse(t *testing.T, ctx context.Context, clientID, want string) {
	t.Helper()
	sel := `tr[data-client-id="` + clientID + `"]`
	ok := pollUntil(5*time.Second, func() bool {
		run(t, ctx, "reload the key list", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(sel)))
		return strings.Contains(textOf(t, ctx, sel), want)
	})
	if !ok {
		t.Errorf("key row %q never showed %q", textOf(t, ctx, sel), want)
	}
}

func TestBrowserSignInWithTOTP(t *testing.T) {
	d := startDashboard(t)
	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")

	// Enrol: scan (here: read) the seed, confirm with its current code, keep the codes.
	// Turning TOTP on is a sensitive change, so each step enters the password when the
	// page requests it.
	run(t, ctx, "open the security page",
		chromedp.Navigate(d.base+"/dashboard/security"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/dashboard/security/totp"] button`)),
	)
	submitConfirming(t, ctx, `form[action="/dashboard/security/totp"] button`, "#totp-secret", ownerPassword)
	waitFor(t, ctx, `document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0`)
	seed := textOf(t, ctx, "#totp-secret")
	code, err := totp.GenerateCode(seed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "type the first code", chromedp.SendKeys(chromedp.ID("code"), code))
	submitConfirming(t, ctx, `form[action="/dashboard/security/totp/confirm"] button`, "#recovery-codes", ownerPassword)
	codes := strings.Fields(textOf(t, ctx, "#recovery-codes"))
	if len(codes) != 10 {
		t.Fatalf("enrolment showed %d recovery codes, want 10", len(codes))
	}

	t.Run("TOTP code", func(t *testing.T) {
		signOut(t, ctx)
		browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, "#code")
		// The enrolment used this period's code, and a code works once, so use the next
		// period's, which the server accepts as clock skew.
		next, err := totp.GenerateCode(seed, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "enter the TOTP code",
			chromedp.SendKeys(chromedp.ID("code"), next),
			chromedp.Click(chromedp.CSS(`main form[action="/dashboard/signin/verify"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".empty")),
		)
	})

	t.Run("recovery code", func(t *testing.T) {
		signOut(t, ctx)
		browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, "#code")
		run(t, ctx, "enter a recovery code",
			chromedp.SendKeys(chromedp.ID("code"), strings.ToUpper(codes[3])),
			chromedp.Click(chromedp.CSS(`main form[action="/dashboard/signin/verify"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		)
		waitFor(t, ctx, `location.pathname === "/dashboard/security"`)
		if got := textOf(t, ctx, "main"); !strings.Contains(got, "signed in with a recovery code") || !strings.Contains(got, "9 recovery codes are left") {
			t.Errorf("security page after a recovery sign-in says %q, want the used-code warning with 9 left", got)
		}

		signOut(t, ctx)
		browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, "#code")
		run(t, ctx, "reuse the recovery code",
			chromedp.SendKeys(chromedp.ID("code"), codes[3]),
			chromedp.Click(chromedp.CSS(`main form[action="/dashboard/signin/verify"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".alert-error")),
		)
		if got := textOf(t, ctx, ".alert-error"); !strings.Contains(got, "already used") {
			t.Errorf("reused recovery code: error %q, want it refused as used", got)
		}
	})
}

// signOut clicks the header's sign-out button and waits for the sign-in page.
func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form[action="/dashboard/signout"] button`)),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
}

func TestBrowserRoleChangeConfirmation(t *testing.T) {
	d := startDashboard(t, "--confirm-interval", "1s")
	d.inviteAndAccept(t, "", "analyst@acme.test", "viewer")
	analyst := d.findUser(t, "analyst@acme.test")
	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")

	// The users page has one role form per row and no confirm field. Once the sign-in is
	// older than the interval, which the new key form shows, a role change brings up the
	// confirmation page.
	due := pollUntil(5*time.Second, func() bool {
		run(t, ctx, "open the new key form", chromedp.Navigate(d.base+"/dashboard/keys/new"), chromedp.WaitVisible(chromedp.ID("name")))
		return exists(t, ctx, "#confirm")
	})
	if !due {
		t.Fatal("the new key form does not ask for a confirmation 5s into a 1s interval")
	}
	roleForm := `form[action="/dashboard/users/` + analyst.ID + `/role"]`
	run(t, ctx, "make the analyst an admin",
		chromedp.Navigate(d.base+"/dashboard/users"),
		chromedp.WaitVisible(chromedp.ID("role-"+analyst.ID)),
		chromedp.SetValue(chromedp.ID("role-"+analyst.ID), "admin"),
		chromedp.Click(chromedp.CSS(roleForm+" button")),
		chromedp.WaitVisible(chromedp.ID("confirm-error")),
	)
	if got := textOf(t, ctx, "h1"); got != "Change role" {
		t.Errorf("confirmation page heading = %q, want Change role", got)
	}
	if got := textOf(t, ctx, "main .muted"); !strings.Contains(got, "analyst@acme.test from viewer to admin") {
		t.Errorf("confirmation page summary = %q, want it to name the user and both roles", got)
	}
	if got := textOf(t, ctx, `label[for="confirm"]`); got != "Confirm with your password" {
		t.Errorf("confirm field label = %q, want Confirm with your password for a user without TOTP", got)
	}
	if got := textOf(t, ctx, "#confirm-hint"); !strings.Contains(got, "more than 1 second ago") {
		t.Errorf("confirm field hint = %q, want it to name the 1 second interval", got)
	}
	saveScreenshot(t, ctx, "confirmation-page")

	// Type the password and press Enter, as a keyboard user does.
	run(t, ctx, "confirm with the keyboard",
		chromedp.Focus(chromedp.ID("confirm")),
		chromedp.KeyEvent(ownerPassword+"\r"),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, "role was changed") {
		t.Errorf("notice after the confirmation = %q, want the role-changed notice", got)
	}
	if role := d.findUser(t, "analyst@acme.test").Role; role != "admin" {
		t.Errorf("analyst's role after the confirmation = %q, want admin", role)
	}
}

func TestBrowserViewerCannotManageKeys(t *testing.T) {
	d := startDashboard(t)
	createKey(t, d.srv.DataDir, d.accountID, "reporting")
	var out struct{ URL string }
	testenv.CLIJSON(t, d.srv.DataDir, &out, "user", "invite", "--account", d.accountID, "--email", "auditor@acme.test", "--role", "viewer", "--url", d.base)

	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	const password = "auditor passphrase 2026"
	run(t, ctx, "accept the invitation",
		chromedp.Navigate(out.URL),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("password_confirm"), password),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	browserSignIn(t, ctx, d.base, "auditor@acme.test", password, "table.keys")
	if exists(t, ctx, `a[href="/dashboard/keys/new"]`) {
		t.Error("the key list offers a viewer the create button")
	}
	if exists(t, ctx, `a[href$="/delete"]`) {
		t.Error("the key list offers a viewer delete buttons")
	}
	if got := textOf(t, ctx, ".who-user"); !strings.Contains(got, "viewer") {
		t.Errorf("header shows %q, want the viewer role", got)
	}
	run(t, ctx, "open the new key form by its address",
		chromedp.Navigate(d.base+"/dashboard/keys/new"),
		chromedp.WaitVisible(chromedp.CSS(".alert-error")),
	)
	if got := textOf(t, ctx, "main"); !strings.Contains(got, "403") || !strings.Contains(got, "role does not allow") {
		t.Errorf("viewer at /dashboard/keys/new sees %q, want a 403 that names the role", got)
	}
}

func TestBrowserCSRFAttemptFails(t *testing.T) {
	d := startDashboard(t)

	// The attacker's page is on another port of localhost: the same site as the dashboard,
	// so SameSite=Strict still sends the session cookie, and only the CSRF defences stand
	// between the page and the key.
	attacker := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title>
<form method="post" action="%s/dashboard/keys">
<input type="hidden" name="name" value="attacker-key">
<input type="hidden" name="scope" value="vaults:write">
<input type="hidden" name="csrf" value="guessed-token">
<button id="go" type="submit">Claim prize</button>
</form>`, d.base)
	}))
	defer attacker.Close()
	attackerSPKI := spkiOf(attacker)

	ctx := newBrowser(t, spkiHash(t, d.srv.CACert), attackerSPKI)
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, ".empty")
	_, port, _ := net.SplitHostPort(attacker.Listener.Addr().String())
	run(t, ctx, "open the attacker's page and submit its form",
		chromedp.Navigate("https://localhost:"+port+"/"),
		chromedp.WaitVisible(chromedp.ID("go")),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS(".alert-error")),
	)
	if got := textOf(t, ctx, "main"); !strings.Contains(got, "403") || !strings.Contains(got, "did not come from this site") {
		t.Errorf("forged post shows %q, want a 403 rejecting the form", got)
	}
	if n := countKeys(t, d); n != 0 {
		t.Errorf("%d keys exist after the forged post, want 0", n)
	}
}

// spkiOf returns the public-key hash of an httptest TLS server's certificate.
func spkiOf(s *httptest.Server) string {
	return spkiFromDER(s.Certificate().RawSubjectPublicKeyInfo)
}

func TestBrowserSuspendedAccount(t *testing.T) {
	d := startDashboard(t)
	k := createKey(t, d.srv.DataDir, d.accountID, "settlement")
	waitForKey(t, d.srv, k.ClientID, k.ClientSecret)
	tok := accessToken(t, d.srv, k.ClientID, k.ClientSecret)

	ctx := newBrowser(t, spkiHash(t, d.srv.CACert))
	browserSignIn(t, ctx, d.base, ownerEmail, ownerPassword, "table.keys")

	res := testenv.RunCLI(t, d.srv.DataDir, nil, "account", "suspend", d.accountID)
	if res.ExitCode != 0 {
		t.Fatalf("account suspend: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	refused := pollUntil(time.Second, func() bool { return getVaults(t, d.srv, tok).status == http.StatusUnauthorized })
	if !refused {
		t.Error("a token of the suspended account still works 1s after the suspension")
	}
	r := do(t, d.srv.Client, "POST", d.srv.URL+"/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(k.ClientID, k.ClientSecret))
	if r.status != http.StatusUnauthorized {
		t.Errorf("token request for a suspended account's key: status %d, want 401", r.status)
	}

	run(t, ctx, "reload the key list",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("email")),
	)
	if loc := location(t, ctx); !strings.HasPrefix(loc, "/dashboard/signin") {
		t.Errorf("the suspended account's session shows %s, want the sign-in page", loc)
	}
	run(t, ctx, "sign in to the suspended account",
		chromedp.SendKeys(chromedp.ID("email"), ownerEmail),
		chromedp.SendKeys(chromedp.ID("password"), ownerPassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-error")),
	)
	if got := textOf(t, ctx, ".alert-error"); !strings.Contains(got, "suspended") {
		t.Errorf("sign-in to a suspended account says %q, want it to say the account is suspended", got)
	}

	t.Run("resume", func(t *testing.T) {
		res := testenv.RunCLI(t, d.srv.DataDir, nil, "account", "resume", d.accountID)
		if res.ExitCode != 0 {
			t.Fatalf("account resume: exit %d, stderr %s", res.ExitCode, res.Stderr)
		}
		if !pollUntil(time.Second, func() bool { return getVaults(t, d.srv, tok).status == http.StatusOK }) {
			t.Error("the token does not work again 1s after the account was resumed")
		}
	})
}
