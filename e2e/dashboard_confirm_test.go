package e2e

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
	"github.com/pquerna/otp/totp"
)

// Messages of the confirm field, as the dashboard shows them.
const (
	confirmMissing     = "Confirm this change with your password."
	confirmMissingTOTP = "Confirm this change with your password or a code from your authenticator app."
	confirmWrong       = "The password is incorrect."
	confirmWrongTOTP   = "The password or code is incorrect."
	confirmLimited     = "Too many sign-in attempts; wait a minute and try again."
)

// wrongConfirmation returns the message for a wrong confirmation by a user with TOTP on or
// off: only the first may have typed a code.
func wrongConfirmation(withTOTP bool) string {
	if withTOTP {
		return confirmWrongTOTP
	}
	return confirmWrong
}

// missingConfirmation returns the message for a change posted without its confirmation, by
// a user with TOTP on or off: only the first is asked for a code.
func missingConfirmation(withTOTP bool) string {
	if withTOTP {
		return confirmMissingTOTP
	}
	return confirmMissing
}

// protectedAction is a dashboard change that needs a fresh confirmation.
type protectedAction struct {
	name string
	// needsTOTP is set when only a user with TOTP on can make the change, and forbidsTOTP
	// when only a user without it can.
	needsTOTP   bool
	forbidsTOTP bool
	// prompt is set when the change is posted from a page with several forms, so that a
	// missing confirmation gets the confirmation page rather than the same form again.
	prompt bool
	// always is set when the change needs a confirmation however recent the last one is.
	always bool
	// success is the status of a change that went ahead.
	success int
	// prepare makes what the change needs. It returns a function that posts the change
	// with a confirm field ("" for none), and one that reports whether the store shows it.
	prepare func(t *testing.T, f *confirmFixture, a *actor) (post func(confirm string) webPage, changed func() bool)
}

// protectedActions lists every change that the dashboard protects besides key changes.
// The policy change comes last: while the account requires TOTP, users without it cannot
// open the pages that the other changes start from.
var protectedActions = []protectedAction{
	{
		name: "invite a user", prompt: true, success: http.StatusOK,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			email := "invitee-" + a.email
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/users", url.Values{"email": {email}, "role": {"admin"}}, confirm)
			}
			return post, func() bool { return f.invited(t, email) }
		},
	},
	{
		name: "change a role", prompt: true, success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			target := f.addUser(t, "viewer")
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/users/"+target.ID+"/role", url.Values{"role": {"admin"}}, confirm)
			}
			return post, func() bool { return f.d.findUser(t, target.Email).Role == "admin" }
		},
	},
	{
		name: "remove a user", success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			target := f.addUser(t, "viewer")
			if p := a.w.get("/dashboard/users/" + target.ID + "/remove"); p.status != http.StatusOK {
				t.Fatalf("GET the remove page: status %d, want 200", p.status)
			}
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/users/"+target.ID+"/remove", nil, confirm)
			}
			return post, func() bool { return f.d.findUser(t, target.Email) == nil }
		},
	},
	{
		name: "cancel an invitation", success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			email := fmt.Sprintf("cancelled-%d@acme.test", f.serial)
			f.serial++
			f.d.inviteLink(t, email, "admin")
			invitation := f.d.pendingInvitation(t, email)
			path := "/dashboard/users/invitations/" + invitation.ID + "/cancel"
			if p := a.w.get(path); p.status != http.StatusOK {
				t.Fatalf("GET the cancel page: status %d, want 200", p.status)
			}
			post := func(confirm string) webPage { return a.post(t, path, nil, confirm) }
			return post, func() bool { return f.d.pendingInvitation(t, email) == nil }
		},
	},
	{
		name: "begin TOTP enrolment", forbidsTOTP: true, prompt: true, success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/security/totp", nil, confirm)
			}
			// The form for the first code shows that an enrolment is in progress, also once
			// the interval has hidden its seed.
			changed := func() bool {
				return strings.Contains(a.w.get("/dashboard/security").body, `action="/dashboard/security/totp/confirm"`)
			}
			return post, changed
		},
	},
	{
		name: "turn TOTP on", forbidsTOTP: true, success: http.StatusOK,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			seed := a.beginTOTP(t)
			post := func(confirm string) webPage {
				code, err := totp.GenerateCode(seed, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {code}}, confirm)
			}
			return post, func() bool { return f.d.findUser(t, a.email).TOTPEnabled }
		},
	},
	{
		name: "replace recovery codes", needsTOTP: true, prompt: true, success: http.StatusOK,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/security/recovery-codes", nil, confirm)
			}
			// Each check signs in with the next old recovery code, and so uses it up.
			next := 0
			changed := func() bool {
				next++
				return !a.recoveryCodeWorks(t, f, a.recovery[next-1])
			}
			return post, changed
		},
	},
	{
		name: "turn TOTP off", needsTOTP: true, always: true, success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/security/totp/disable", nil, confirm)
			}
			return post, func() bool { return !f.d.findUser(t, a.email).TOTPEnabled }
		},
	},
	{
		name: "change the security policy", needsTOTP: true, prompt: true, success: http.StatusSeeOther,
		prepare: func(t *testing.T, f *confirmFixture, a *actor) (func(string) webPage, func() bool) {
			// Each case turns the policy over, so that the cases need no order.
			require := !a.accountRequiresTOTP(t)
			form := url.Values{}
			if require {
				form.Set("require_totp", "on")
			}
			post := func(confirm string) webPage {
				return a.post(t, "/dashboard/users/policy", form, confirm)
			}
			return post, func() bool { return a.accountRequiresTOTP(t) == require }
		},
	},
}

func TestDashboardSensitiveChangesNeedConfirmation(t *testing.T) {
	// A 1s interval, the shortest the server accepts, ages a confirmation within a test.
	short := &confirmFixture{d: startDashboard(t, "--confirm-interval", "1s"), serial: 10}
	// The default interval, 5 minutes, does not run out during the test.
	fresh := &confirmFixture{d: startDashboard(t), serial: 150}

	for _, act := range protectedActions {
		t.Run(act.name, func(t *testing.T) {
			t.Run("rejected after the interval", func(t *testing.T) {
				a := short.newActor(t, act.needsTOTP)
				post, changed := act.prepare(t, short, a)
				a.waitUntilConfirmationDue(t)
				for _, c := range []struct{ confirm, message string }{
					{"", missingConfirmation(act.needsTOTP)},
					{"wrong password here", wrongConfirmation(act.needsTOTP)},
				} {
					p := post(c.confirm)
					if p.status != http.StatusBadRequest {
						t.Errorf("post with confirm %q: %s, want status 400", c.confirm, pageErrors(p))
					}
					checkConfirmError(t, p, c.message)
				}
				if changed() {
					t.Error("the store shows the change after two rejected confirmations")
				}
			})

			t.Run("accepted with the password", func(t *testing.T) {
				a := short.newActor(t, act.needsTOTP)
				post, changed := act.prepare(t, short, a)
				a.waitUntilConfirmationDue(t)
				var p webPage
				if act.prompt {
					// Post as the page does, without a confirm field, then submit the
					// confirmation page that comes back.
					prompt := post("")
					if prompt.status != http.StatusBadRequest {
						t.Fatalf("post without confirmation: status %d, want 400 with the confirmation page", prompt.status)
					}
					p = a.submitConfirmation(t, prompt, a.password)
				} else {
					p = post(a.password)
				}
				if p.status != act.success {
					t.Errorf("post confirmed with the password: %s, want status %d", pageErrors(p), act.success)
				}
				if !changed() {
					t.Error("the store does not show the change confirmed with the password")
				}
			})

			if !act.forbidsTOTP {
				t.Run("accepted with a TOTP code", func(t *testing.T) {
					a := short.newActor(t, true)
					post, changed := act.prepare(t, short, a)
					a.waitUntilConfirmationDue(t)
					p := post(a.nextTOTPCode(t))
					if p.status != act.success {
						t.Errorf("post confirmed with a TOTP code: %s, want status %d", pageErrors(p), act.success)
					}
					if !changed() {
						t.Error("the store does not show the change confirmed with a TOTP code")
					}
				})
			}

			t.Run("within the interval", func(t *testing.T) {
				a := fresh.newActor(t, act.needsTOTP)
				post, changed := act.prepare(t, fresh, a)
				p := post("")
				if !act.always {
					if p.status != act.success {
						t.Errorf("post without confirmation right after sign-in: %s, want status %d", pageErrors(p), act.success)
					}
					if !changed() {
						t.Error("the store does not show the change made right after sign-in")
					}
					return
				}
				if p.status != http.StatusBadRequest {
					t.Errorf("post without confirmation right after sign-in: %s, want status 400", pageErrors(p))
				}
				checkConfirmError(t, p, missingConfirmation(act.needsTOTP))
				if changed() {
					t.Error("the store shows the change posted without confirmation")
				}
				if p := post(a.password); p.status != act.success {
					t.Errorf("post confirmed with the password: %s, want status %d", pageErrors(p), act.success)
				}
			})
		})
	}
}

// TestDashboardConfirmationRateLimit checks that every kind of confirmation form rejects a
// confirmation beyond the limit with 429 and Retry-After, as sign-in does, and still shows
// why on the confirm field. The kinds are the confirmation page of a multi-form page, a
// key form, and the form that turns TOTP off, which requires a confirmation every time.
func TestDashboardConfirmationRateLimit(t *testing.T) {
	short := &confirmFixture{d: startDashboard(t, "--confirm-interval", "1s"), serial: 10}
	// Turning TOTP off needs no aged confirmation. Its actor enrols on a server with the
	// default interval, so that enrolling checks no confirmation that would count against
	// the limit under test.
	fresh := &confirmFixture{d: startDashboard(t), serial: 10}
	cases := []struct {
		name     string
		f        *confirmFixture
		withTOTP bool
		// prepare returns a function that posts the change with a confirm field, and one
		// that reports whether the store shows the change.
		prepare func(t *testing.T, a *actor) (post func(confirm string) webPage, changed func() bool)
	}{
		{
			name: "change a role",
			f:    short,
			prepare: func(t *testing.T, a *actor) (func(string) webPage, func() bool) {
				target := short.addUser(t, "viewer")
				post := func(confirm string) webPage {
					return a.post(t, "/dashboard/users/"+target.ID+"/role", url.Values{"role": {"admin"}}, confirm)
				}
				return post, func() bool { return short.d.findUser(t, target.Email).Role != "viewer" }
			},
		},
		{
			name: "create a key",
			f:    short,
			prepare: func(t *testing.T, a *actor) (func(string) webPage, func() bool) {
				post := func(confirm string) webPage {
					form := createForm(t, a.w.get("/dashboard/keys/new"), "limited")
					if confirm != "" {
						form.Set("confirm", confirm)
					}
					return a.w.postRaw("/dashboard/keys", form, nil)
				}
				return post, func() bool { return countKeys(t, short.d) != 0 }
			},
		},
		{
			name:     "turn TOTP off",
			f:        fresh,
			withTOTP: true,
			prepare: func(t *testing.T, a *actor) (func(string) webPage, func() bool) {
				post := func(confirm string) webPage {
					return a.post(t, "/dashboard/security/totp/disable", nil, confirm)
				}
				return post, func() bool { return !fresh.d.findUser(t, a.email).TOTPEnabled }
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.f.newActor(t, c.withTOTP)
			post, changed := c.prepare(t, a)
			if c.f == short {
				a.waitUntilConfirmationDue(t)
			}

			// A user may try 5 confirmations at once from one address, as many as sign-ins.
			for i := range 5 {
				p := post("wrong password here")
				if p.status != http.StatusBadRequest {
					t.Errorf("wrong confirmation %d: %s, want status 400", i+1, pageErrors(p))
				}
				if p.header.Get("Retry-After") != "" {
					t.Errorf("wrong confirmation %d within the limit has Retry-After", i+1)
				}
				checkConfirmError(t, p, wrongConfirmation(c.withTOTP))
			}
			p := post(a.password)
			if p.status != http.StatusTooManyRequests {
				t.Errorf("right password after 5 wrong ones: %s, want status 429", pageErrors(p))
			}
			if got := p.header.Get("Retry-After"); got != "60" {
				t.Errorf("right password after 5 wrong ones: Retry-After %q, want 60", got)
			}
			checkConfirmError(t, p, confirmLimited)
			if changed() {
				t.Error("the store shows the change after rate-limited confirmations")
			}
		})
	}
}

// checkConfirmError fails the test unless page shows message as the error of a labelled
// confirm field.
func checkConfirmError(t *testing.T, page webPage, message string) {
	t.Helper()
	if !strings.Contains(page.body, `<label for="confirm">`) {
		t.Error("the page has no labelled confirm field")
	}
	if !strings.Contains(page.body, `aria-errormessage="confirm-error"`) {
		t.Error("the confirm field is not tied to its error with aria-errormessage")
	}
	if !strings.Contains(page.body, `id="confirm-error">`+html.EscapeString(message)+`</p>`) {
		t.Errorf("page (%s) lacks the confirm field error %q", pageErrors(page), message)
	}
}

var errorTextPattern = regexp.MustCompile(`class="(?:field-error|alert alert-error)"[^>]*>([^<]*)<`)

// pageErrors returns the status and the error messages of a page, for failure messages.
// The pages of these tests can contain invitation links, TOTP seeds and recovery codes,
// so a failure shows no other text.
func pageErrors(page webPage) string {
	var errs []string
	for _, m := range errorTextPattern.FindAllStringSubmatch(page.body, -1) {
		errs = append(errs, html.UnescapeString(m[1]))
	}
	return fmt.Sprintf("status %d, errors %q", page.status, errs)
}

// confirmFixture is a dashboard server whose tests act as users of their own, each from a
// loopback address of its own so that one user's attempts do not reach another's limits.
type confirmFixture struct {
	d *dashboard
	// serial numbers the users the fixture adds. The actor with serial N signs in from
	// 127.0.0.N.
	serial int
}

// actor is a signed-in owner that a confirmation test acts as.
type actor struct {
	w        *webClient
	ip       string
	email    string
	password string
	// seed and recovery are the TOTP seed and recovery codes of an actor with TOTP on.
	seed     string
	recovery []string
}

// newActor returns a new owner, signed in from an address of its own, with TOTP turned on
// when withTOTP is set.
func (f *confirmFixture) newActor(t *testing.T, withTOTP bool) *actor {
	t.Helper()
	if f.serial > 254 {
		t.Fatal("the fixture has used every loopback address it hands out")
	}
	ip := fmt.Sprintf("127.0.0.%d", f.serial)
	a := &actor{ip: ip, email: fmt.Sprintf("owner-%d@acme.test", f.serial), password: joinPassword("owner")}
	f.serial++
	a.w = f.d.inviteAndJoinFrom(t, ip, a.email, "owner")
	if withTOTP {
		a.seed = a.beginTOTP(t)
		code, err := totp.GenerateCode(a.seed, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p := a.post(t, "/dashboard/security/totp/confirm", url.Values{"code": {code}}, a.password)
		m := recoveryCodesPattern.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil {
			t.Fatalf("turn TOTP on: %s, want status 200 with recovery codes", pageErrors(p))
		}
		a.recovery = strings.Fields(m[1])
	}
	return a
}

var (
	totpSecretPattern    = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryCodesPattern = regexp.MustCompile(`id="recovery-codes">([^<]*)</pre>`)
)

// post submits form to path with the actor's CSRF token, and with confirm as the confirm
// field unless it is "".
func (a *actor) post(t *testing.T, path string, form url.Values, confirm string) webPage {
	t.Helper()
	values := url.Values{}
	for k, v := range form {
		values[k] = v
	}
	if confirm != "" {
		values.Set("confirm", confirm)
	}
	return a.w.post(path, a.w.get("/dashboard/security").csrf(t), values)
}

// beginTOTP starts a TOTP enrolment, confirming with the password in case the interval has
// run out, and returns the seed.
func (a *actor) beginTOTP(t *testing.T) string {
	t.Helper()
	if p := a.post(t, "/dashboard/security/totp", nil, a.password); p.status != http.StatusSeeOther {
		t.Fatalf("begin TOTP enrolment: %s, want status 303", pageErrors(p))
	}
	m := totpSecretPattern.FindStringSubmatch(a.w.get("/dashboard/security").body)
	if m == nil {
		t.Fatal("the security page shows no TOTP seed after the enrolment began")
	}
	return m[1]
}

// nextTOTPCode returns the code of the next 30-second period. The server accepts it as
// clock skew, and no earlier code of the actor can have used that period.
func (a *actor) nextTOTPCode(t *testing.T) string {
	t.Helper()
	code, err := totp.GenerateCode(a.seed, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// waitUntilConfirmationDue waits until the actor's last confirmation is older than the
// interval, which the new key form shows by asking for one.
func (a *actor) waitUntilConfirmationDue(t *testing.T) {
	t.Helper()
	due := pollUntil(5*time.Second, func() bool {
		return strings.Contains(a.w.get("/dashboard/keys/new").body, `id="confirm"`)
	})
	if !due {
		t.Fatal("the new key form does not ask for a confirmation 5s into a 1s interval")
	}
}

// submitConfirmation submits the form of page that holds the confirm field, with its
// hidden fields and confirm as the confirmation.
func (a *actor) submitConfirmation(t *testing.T, page webPage, confirm string) webPage {
	t.Helper()
	field := strings.Index(page.body, `id="confirm"`)
	start := strings.LastIndex(page.body[:max(field, 0)], "<form ")
	if field < 0 || start < 0 {
		t.Fatalf("page (%s) has no form with a confirm field", pageErrors(page))
	}
	form := page.body[start:]
	form = form[:strings.Index(form, "</form>")]
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(form)
	if action == nil {
		t.Fatal("the confirmation form has no action")
	}
	values := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(form, -1) {
		values.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if values.Get("csrf") == "" {
		t.Error("the confirmation form carries no CSRF token")
	}
	values.Set("confirm", confirm)
	return a.w.postRaw(html.UnescapeString(action[1]), values, nil)
}

// recoveryCodeWorks signs in as the actor with code as the second factor, from a client
// of its own, and reports whether that succeeded.
func (a *actor) recoveryCodeWorks(t *testing.T, f *confirmFixture, code string) bool {
	t.Helper()
	w := f.d.clientAt(t, a.ip)
	p := w.get("/dashboard/signin")
	p = w.post("/dashboard/signin", p.csrf(t), url.Values{"email": {a.email}, "password": {a.password}})
	if p.status != http.StatusSeeOther || p.location != "/dashboard/signin/verify" {
		t.Fatalf("sign in as %s: status %d, location %q; want 303 to the second-factor page", a.email, p.status, p.location)
	}
	p = w.get("/dashboard/signin/verify")
	p = w.post("/dashboard/signin/verify", p.csrf(t), url.Values{"code": {code}})
	return p.status == http.StatusSeeOther
}

// accountRequiresTOTP reports whether the users page shows the policy that requires TOTP.
func (a *actor) accountRequiresTOTP(t *testing.T) bool {
	t.Helper()
	p := a.w.get("/dashboard/users")
	if p.status != http.StatusOK {
		t.Fatalf("GET /dashboard/users: status %d, want 200", p.status)
	}
	return strings.Contains(p.body, `name="require_totp" checked`)
}

// cliUser is a user as "iogate user list --json" prints it.
type cliUser struct {
	ID          string
	Email       string
	Role        string
	TOTPEnabled bool `json:"totpEnabled"`
}

// findUser returns the account's user with email, from the store through the CLI, or nil.
func (d *dashboard) findUser(t *testing.T, email string) *cliUser {
	t.Helper()
	var list struct{ Data []cliUser }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "user", "list", "--account", d.accountID)
	for _, u := range list.Data {
		if u.Email == email {
			return &u
		}
	}
	return nil
}

// addUser adds a user with role, who accepts an invitation but never signs in, and
// returns them.
func (f *confirmFixture) addUser(t *testing.T, role string) *cliUser {
	t.Helper()
	email := fmt.Sprintf("%s-%d@acme.test", role, f.serial)
	f.serial++
	f.d.inviteAndAccept(t, "", email, role)
	added := f.d.findUser(t, email)
	if added == nil {
		t.Fatalf("user list lacks %s after the invitation was accepted", email)
	}
	return added
}

// invited reports whether the audit log records an invitation of email.
func (f *confirmFixture) invited(t *testing.T, email string) bool {
	t.Helper()
	var list struct {
		Data []struct{ Details map[string]any }
	}
	testenv.CLIJSON(t, f.d.srv.DataDir, &list, "audit", "list", "--account", f.d.accountID, "--event", "user.invited", "--limit", "200")
	for _, r := range list.Data {
		if r.Details["email"] == email {
			return true
		}
	}
	return false
}

// TestKeyFormConfirmLabel checks that the key form requests the password alone from a user
// without TOTP, and the password or a code from a user with TOTP.
func TestKeyFormConfirmLabel(t *testing.T) {
	f := &confirmFixture{d: startDashboard(t, "--confirm-interval", "1s"), serial: 40}
	for _, c := range []struct {
		totp bool
		want string
	}{
		{false, `<label for="confirm">Confirm with your password</label>`},
		{true, `<label for="confirm">Confirm with your password or a 6-digit code</label>`},
	} {
		a := f.newActor(t, c.totp)
		a.waitUntilConfirmationDue(t)
		if body := a.w.get("/dashboard/keys/new").body; !strings.Contains(body, c.want) {
			t.Errorf("new key form of a user with TOTP %v lacks %s", c.totp, c.want)
		}
	}
}
