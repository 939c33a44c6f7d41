package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// createForm returns the fields of the create-key form on page, filled in for a key named
// name, as the browser posts them.
func createForm(t *testing.T, page webPage, name string) url.Values {
	t.Helper()
	return url.Values{"csrf": {page.csrf(t)}, "form_token": {page.hidden(t, "form_token")}, "name": {name}, "scope": {"vaults:read"}}
}

func TestDashboardCreateKeyPostedTwice(t *testing.T) {
	d := startDashboard(t)
	w := d.signIn(t, ownerEmail, ownerPassword)
	form := createForm(t, w.get("/dashboard/keys/new"), "ledger")

	first := w.postRaw("/dashboard/keys", form, nil)
	secret := secretPattern.FindString(first.body)
	if first.status != http.StatusOK || secret == "" {
		t.Fatalf("POST /dashboard/keys: status %d, want 200 with the new secret", first.status)
	}
	// A reload of the secret page posts the same body again.
	again := w.postRaw("/dashboard/keys", form, nil)
	if again.status != http.StatusConflict {
		t.Errorf("the same form posted again: status %d, want 409", again.status)
	}
	if !strings.Contains(again.text(), "This form was already submitted, so no second key was created") {
		t.Errorf("page for the repeated post does not say that the key exists: %q", again.text())
	}
	if strings.Contains(again.body, secret) || strings.Contains(again.body, `id="client-secret"`) {
		t.Error("page for the repeated post shows the secret again")
	}
	if !strings.Contains(again.body, `href="/dashboard/keys"`) {
		t.Error("page for the repeated post has no link to the key list")
	}
	if got := again.header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
		t.Errorf("page for the repeated post has Content-Security-Policy %q, want the dashboard's", got)
	}
	if n := countKeys(t, d); n != 1 {
		t.Fatalf("%d keys after the same form was posted twice, want 1", n)
	}

	var list struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, d.srv.DataDir, &list, "key", "list", "--account", d.accountID)
	accessToken(t, d.srv, list.Data[0].ClientID, secret)

	t.Run("concurrent posts of one form", func(t *testing.T) {
		form := createForm(t, w.get("/dashboard/keys/new"), "double-click")
		const posts = 4
		statuses := make([]int, posts)
		errs := make([]error, posts)
		var wg sync.WaitGroup
		for i := range posts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], errs[i] = w.postStatus("/dashboard/keys", form)
			}()
		}
		wg.Wait()
		created := 0
		for i := range posts {
			switch {
			case errs[i] != nil:
				t.Errorf("post %d: %v", i+1, errs[i])
			case statuses[i] == http.StatusOK:
				created++
			case statuses[i] != http.StatusConflict:
				t.Errorf("post %d: status %d, want 200 or 409", i+1, statuses[i])
			}
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent posts of one form created a key, want 1", created, posts)
		}
		if n := countKeys(t, d); n != 2 {
			t.Errorf("%d keys after the concurrent posts, want 2", n)
		}
	})

	t.Run("post without a form token", func(t *testing.T) {
		form := createForm(t, w.get("/dashboard/keys/new"), "scripted")
		form.Del("form_token")
		p := w.postRaw("/dashboard/keys", form, nil)
		if p.status != http.StatusBadRequest {
			t.Errorf("POST /dashboard/keys without form_token: status %d, want 400", p.status)
		}
		if !strings.Contains(p.text(), "reload the page and submit it again") {
			t.Errorf("page text %q does not say how to recover", p.text())
		}
		if n := countKeys(t, d); n != 2 {
			t.Errorf("%d keys after a post without a form token, want still 2", n)
		}
	})
}

// postStatus posts form and returns the response status. Unlike postRaw it returns
// errors, so goroutines other than the test's may call it.
func (w *webClient) postStatus(path string, form url.Values) (int, error) {
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := w.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// TestDashboardRotateKeyPostedTwice rotates with no grace period, so that a second
// rotation would retire the secret that the first one showed.
func TestDashboardRotateKeyPostedTwice(t *testing.T) {
	d := startDashboard(t)
	k := createKey(t, d.srv.DataDir, d.accountID, "settlement")
	w := d.signIn(t, ownerEmail, ownerPassword)
	page := w.get("/dashboard/keys/" + k.ClientID + "/rotate")
	form := url.Values{"csrf": {page.csrf(t)}, "form_token": {page.hidden(t, "form_token")},
		"generation": {page.hidden(t, "generation")}, "grace": {"0"}}

	first := w.postRaw("/dashboard/keys/"+k.ClientID+"/rotate", form, nil)
	secret := secretPattern.FindString(first.body)
	if first.status != http.StatusOK || secret == "" || secret == k.ClientSecret {
		t.Fatalf("POST rotate: status %d, want 200 with a new secret", first.status)
	}
	again := w.postRaw("/dashboard/keys/"+k.ClientID+"/rotate", form, nil)
	if again.status != http.StatusConflict {
		t.Errorf("the same rotation form posted again: status %d, want 409", again.status)
	}
	if !strings.Contains(again.text(), "This rotation form was already submitted, so nothing was changed now") {
		t.Errorf("page for the repeated post does not say that the key was rotated: %q", again.text())
	}
	if strings.Contains(again.body, secret) {
		t.Error("page for the repeated post shows the new secret again")
	}

	var stored rotatedKey
	testenv.CLIJSON(t, d.srv.DataDir, &stored, "key", "show", k.ClientID)
	if stored.SecretGeneration != 2 {
		t.Errorf("secret generation after the repeated post = %d, want 2 (one rotation)", stored.SecretGeneration)
	}
	accessToken(t, d.srv, k.ClientID, secret)
}
