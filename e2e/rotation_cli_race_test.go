package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestRotationFormRacingCLI checks that a rotation form posted while an operator rotates the
// same key with "iogate key rotate" either rotates the key before the CLI does, or gets the
// 409 page without a secret. The key
// must end one generation further per rotation that reported success, and no post may fail
// with a server error.
func TestRotationFormRacingCLI(t *testing.T) {
	d := startDashboard(t)
	k := createKey(t, d.srv.DataDir, d.accountID, "settlement")
	w := d.signIn(t, ownerEmail, ownerPassword)
	path := "/dashboard/keys/" + k.ClientID + "/rotate"
	generation := func() int {
		t.Helper()
		var v struct {
			SecretGeneration int `json:"secretGeneration"`
		}
		testenv.CLIJSON(t, d.srv.DataDir, &v, "key", "show", k.ClientID)
		return v.SecretGeneration
	}

	const rounds = 5
	statuses := map[int]int{}
	for round := range rounds {
		before := generation()
		page := w.get(path)
		form := url.Values{"csrf": {page.csrf(t)}, "form_token": {page.hidden(t, "form_token")},
			"generation": {page.hidden(t, "generation")}, "grace": {"0"}}

		var cli testenv.CLIResult
		var rotating sync.WaitGroup
		rotating.Add(1)
		go func() {
			defer rotating.Done()
			cli = testenv.RunCLI(t, d.srv.DataDir, nil, "key", "rotate", k.ClientID, "--grace", "0", "--json")
		}()
		posted := w.postRaw(path, form, nil)
		rotating.Wait()

		statuses[posted.status]++
		if cli.ExitCode != 0 {
			t.Fatalf("round %d: iogate key rotate: exit %d, stderr: %s", round+1, cli.ExitCode, cli.Stderr)
		}
		want := before + 1
		switch posted.status {
		case http.StatusOK:
			want++
		case http.StatusConflict:
			if strings.Contains(posted.body, `id="client-secret"`) {
				t.Errorf("round %d: the 409 page of a rotation form shows a client secret", round+1)
			}
		default:
			t.Fatalf("round %d: rotation form racing the CLI: status %d, want 200 or 409: %s", round+1, posted.status, posted.text())
		}
		if got := generation(); got != want {
			t.Errorf("round %d: generation after the race = %d, want %d (form status %d)", round+1, got, want, posted.status)
		}
	}
	// Which side won each round depends on scheduling, so the log shows which cases ran.
	t.Logf("form statuses over %d rounds: %v", rounds, statuses)
}

// TestRotationFormAfterCLIRotate checks that a rotation form loaded before "iogate key
// rotate" ran gets the 409 page without a secret.
func TestRotationFormAfterCLIRotate(t *testing.T) {
	d := startDashboard(t)
	k := createKey(t, d.srv.DataDir, d.accountID, "settlement")
	w := d.signIn(t, ownerEmail, ownerPassword)
	path := "/dashboard/keys/" + k.ClientID + "/rotate"
	page := w.get(path)
	form := url.Values{"csrf": {page.csrf(t)}, "form_token": {page.hidden(t, "form_token")},
		"generation": {page.hidden(t, "generation")}, "grace": {"0"}}

	if res := testenv.RunCLI(t, d.srv.DataDir, nil, "key", "rotate", k.ClientID, "--grace", "0", "--json"); res.ExitCode != 0 {
		t.Fatalf("iogate key rotate: exit %d, stderr: %s", res.ExitCode, res.Stderr)
	}
	posted := w.postRaw(path, form, nil)

	if posted.status != http.StatusConflict {
		t.Fatalf("rotation form after a CLI rotation: status %d, want 409: %s", posted.status, posted.text())
	}
	if strings.Contains(posted.body, `id="client-secret"`) {
		t.Error("the 409 page of a stale rotation form shows a client secret")
	}
	if !strings.Contains(posted.text(), "rotated since this page was loaded") {
		t.Errorf("the 409 page does not say the key was rotated meanwhile: %s", posted.text())
	}
}
