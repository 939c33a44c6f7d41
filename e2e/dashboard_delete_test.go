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

// nameMismatch is the error of the delete form's name field for the key "ledger-bot".
const nameMismatch = "Type the key's name, ledger-bot, exactly to confirm."

// TestDashboardDeleteKeyNameMismatch checks that a mistyped key name on the delete form is
// reported on the name field alone and keeps what was typed. It neither throws away nor
// counts a confirmation. A password typed beside it still confirms the session, and a
// mistyped name alone never counts against the sign-in limit.
func TestDashboardDeleteKeyNameMismatch(t *testing.T) {
	short := &confirmFixture{d: startDashboard(t, "--confirm-interval", "1s"), serial: 10}
	fresh := &confirmFixture{d: startDashboard(t), serial: 10}

	t.Run("fresh confirmation", func(t *testing.T) {
		a := fresh.newActor(t, false)
		k := createKey(t, fresh.d.srv.DataDir, fresh.d.accountID, "ledger-bot")
		p := a.deleteKey(t, k.ClientID, "ledger-bott", "")
		checkNameMismatch(t, p, "ledger-bott")
		if strings.Contains(p.body, `id="confirm"`) {
			t.Error("the page asks for the password again although the session's confirmation is fresh")
		}
		if !keyListed(t, fresh.d, k.ClientID) {
			t.Fatal("the key was deleted although its name was mistyped")
		}
		if p := a.deleteKey(t, k.ClientID, "ledger-bot", ""); p.status != http.StatusSeeOther {
			t.Errorf("delete with the right name: %s, want status 303", pageErrors(p))
		}
	})

	t.Run("password typed beside a mistyped name", func(t *testing.T) {
		a := short.newActor(t, false)
		k := createKey(t, short.d.srv.DataDir, short.d.accountID, "ledger-bot")
		a.waitUntilConfirmationDue(t)
		p := a.deleteKey(t, k.ClientID, "ledger", a.password)
		checkNameMismatch(t, p, "ledger")
		if strings.Contains(p.body, `id="confirm"`) {
			t.Error("the page asks for the password again although the right one was typed")
		}
		if !keyListed(t, short.d, k.ClientID) {
			t.Fatal("the key was deleted although its name was mistyped")
		}
		// The password confirmed the session, so the corrected name alone deletes the key
		// within the interval. The interval is 1s, so a slow run may need the password.
		p = a.deleteKey(t, k.ClientID, "ledger-bot", "")
		if p.status == http.StatusBadRequest {
			p = a.deleteKey(t, k.ClientID, "ledger-bot", a.password)
		}
		if p.status != http.StatusSeeOther {
			t.Errorf("delete with the right name: %s, want status 303", pageErrors(p))
		}
		if keyListed(t, short.d, k.ClientID) {
			t.Error("the key is still listed after the delete with the right name")
		}
	})

	t.Run("mistyped name after the interval", func(t *testing.T) {
		a := short.newActor(t, false)
		k := createKey(t, short.d.srv.DataDir, short.d.accountID, "ledger-bot")
		a.waitUntilConfirmationDue(t)
		// More posts than the limit allows confirmations: none of them checks one.
		for i := range 7 {
			p := a.deleteKey(t, k.ClientID, "ledger-bot-2", "")
			checkNameMismatch(t, p, "ledger-bot-2")
			if !strings.Contains(p.body, `id="confirm"`) {
				t.Errorf("post %d: the page does not ask for the password, which the interval requires", i+1)
			}
		}
		if p := a.deleteKey(t, k.ClientID, "ledger-bot", a.password); p.status != http.StatusSeeOther {
			t.Errorf("delete with the right name and password after 7 mistyped names: %s, want status 303", pageErrors(p))
		}
	})

	t.Run("mistyped name and wrong password", func(t *testing.T) {
		a := short.newActor(t, false)
		k := createKey(t, short.d.srv.DataDir, short.d.accountID, "ledger-bot")
		a.waitUntilConfirmationDue(t)
		p := a.deleteKey(t, k.ClientID, "ledger", "wrong password here")
		if p.status != http.StatusBadRequest {
			t.Errorf("delete with a mistyped name and a wrong password: %s, want status 400", pageErrors(p))
		}
		if !strings.Contains(p.body, `id="confirm_name-error">`+html.EscapeString(nameMismatch)+`</p>`) {
			t.Errorf("page (%s) lacks the name field error %q", pageErrors(p), nameMismatch)
		}
		checkConfirmError(t, p, confirmWrong)
		if !keyListed(t, short.d, k.ClientID) {
			t.Error("the key was deleted although its name was mistyped")
		}
	})
}

// deleteKey posts the delete form of the key with the typed name, and with confirm as the
// confirm field unless it is "".
func (a *actor) deleteKey(t *testing.T, clientID, typed, confirm string) webPage {
	t.Helper()
	path := "/dashboard/keys/" + clientID + "/delete"
	page := a.w.get(path)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", path, page.status)
	}
	form := url.Values{"csrf": {page.csrf(t)}, "confirm_name": {typed}}
	if confirm != "" {
		form.Set("confirm", confirm)
	}
	return a.w.postRaw(path, form, nil)
}

var fieldErrorPattern = regexp.MustCompile(`class="field-error" id="([^"]+)-error"`)

// checkNameMismatch fails the test unless page is the delete form shown again with 400, an
// error on the name field and no other, and the typed name in that field.
func checkNameMismatch(t *testing.T, page webPage, typed string) {
	t.Helper()
	if page.status != http.StatusBadRequest {
		t.Errorf("delete with the mistyped name %q: %s, want status 400", typed, pageErrors(page))
	}
	var fields []string
	for _, m := range fieldErrorPattern.FindAllStringSubmatch(page.body, -1) {
		fields = append(fields, m[1])
	}
	if len(fields) != 1 || fields[0] != "confirm_name" {
		t.Errorf("delete with the mistyped name %q: errors on fields %q, want only confirm_name", typed, fields)
	}
	if !strings.Contains(page.body, `id="confirm_name-error">`+html.EscapeString(nameMismatch)+`</p>`) {
		t.Errorf("page (%s) lacks the name field error %q", pageErrors(page), nameMismatch)
	}
	if !strings.Contains(page.body, `name="confirm_name" type="text" value="`+html.EscapeString(typed)+`"`) {
		t.Errorf("the name field does not keep the typed name %q", typed)
	}
}

// keyListed reports whether the CLI lists the key with clientID in the dashboard's account.
func keyListed(t *testing.T, d *dashboard, clientID string) bool {
	t.Helper()
	var list struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "key", "list", "--account", d.accountID)
	for _, k := range list.Data {
		if k.ClientID == clientID {
			return true
		}
	}
	return false
}
