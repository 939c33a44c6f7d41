package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// keyExposure is the exposure part of a key in the JSON of "key show" and "key list".
type keyExposure struct {
	ClientID          string     `json:"clientId"`
	Exposed           bool       `json:"exposed"`
	ExposedAt         *time.Time `json:"exposedAt"`
	ExposedGeneration int        `json:"exposedGeneration"`
	ExposedUntil      *time.Time `json:"exposedUntil"`
}

// exposureViews returns the exposure of key clientID as "key show --json" and
// "key list --json" print it.
func exposureViews(t *testing.T, dir, accountID, clientID string) map[string]keyExposure {
	t.Helper()
	var show keyExposure
	testenv.CLIJSON(t, dir, &show, "key", "show", clientID)
	var list struct{ Data []keyExposure }
	testenv.CLIJSON(t, dir, &list, "key", "list", "--account", accountID)
	views := map[string]keyExposure{"key show --json": show}
	for _, k := range list.Data {
		if k.ClientID == clientID {
			views["key list --json"] = k
		}
	}
	if _, ok := views["key list --json"]; !ok {
		t.Fatalf("key list --json does not list key %s", clientID)
	}
	return views
}

// dashboardKeyRow returns the table row of key clientID on the dashboard's key list, and
// the whole page.
func dashboardKeyRow(t *testing.T, w *webClient, clientID string) (row string, page webPage) {
	t.Helper()
	page = w.get("/dashboard/keys")
	if page.status != http.StatusOK {
		t.Fatalf("GET /dashboard/keys: status %d, want 200", page.status)
	}
	start := strings.Index(page.body, `<tr data-client-id="`+clientID+`">`)
	if start < 0 {
		t.Fatalf("the dashboard's key list has no row for key %s: %s", clientID, page.text())
	}
	end := strings.Index(page.body[start:], "</tr>")
	if end < 0 {
		t.Fatalf("the row of key %s on the dashboard's key list does not end", clientID)
	}
	return page.body[start : start+end], page
}

// exposeSecret sends the key's client ID and secret to the plain HTTP listener.
func exposeSecret(t *testing.T, srv *testenv.Server, k createdKey) {
	t.Helper()
	plainRequest(t, srv, "POST", "/v1/auth/accessToken", map[string]string{"Content-Type": "application/json"}, credentialsJSON(k.ClientID, k.ClientSecret))
}

// startWithExposedKey starts a dashboard, signs its owner in, and creates a key whose
// secret it then sends to the plain HTTP listener.
func startWithExposedKey(t *testing.T) (*dashboard, *webClient, createdKey) {
	t.Helper()
	d := startDashboard(t)
	w := d.signIn(t, ownerEmail, ownerPassword)
	k := createKey(t, d.srv.DataDir, d.accountID, "leaky")
	waitForKey(t, d.srv, k.ClientID, k.ClientSecret)
	exposeSecret(t, d.srv, k)
	return d, w, k
}

// TestExposureClearsAfterRotation exposes a secret over plain HTTP and rotates the key
// with no grace period. The CLI and the dashboard warn about the key until the rotation,
// and no longer after it. The audit log keeps both events.
func TestExposureClearsAfterRotation(t *testing.T) {
	d, w, k := startWithExposedKey(t)
	dir := d.srv.DataDir

	for source, v := range exposureViews(t, dir, d.accountID, k.ClientID) {
		if !v.Exposed || v.ExposedAt == nil || v.ExposedGeneration != 1 || v.ExposedUntil != nil {
			t.Errorf("%s after the exposure: exposed %t at %v, generation %d, until %v; want exposed, a time, generation 1 and no end",
				source, v.Exposed, v.ExposedAt, v.ExposedGeneration, v.ExposedUntil)
		}
	}
	row, page := dashboardKeyRow(t, w, k.ClientID)
	if !strings.Contains(row, "Exposed: rotate now") {
		t.Errorf("dashboard row of the exposed key has no warning: %s", row)
	}
	if !strings.Contains(page.body, "1 key needs attention") {
		t.Errorf("dashboard summary does not count the exposed key: %s", page.text())
	}

	rotated := rotate(t, dir, k.ClientID, "--grace", "0")
	for source, v := range exposureViews(t, dir, d.accountID, k.ClientID) {
		if v.Exposed || v.ExposedAt != nil || v.ExposedGeneration != 0 || v.ExposedUntil != nil {
			t.Errorf("%s after rotate --grace 0: exposed %t at %v, generation %d, until %v; want no exposure",
				source, v.Exposed, v.ExposedAt, v.ExposedGeneration, v.ExposedUntil)
		}
	}
	row, page = dashboardKeyRow(t, w, k.ClientID)
	if strings.Contains(row, "Exposed") {
		t.Errorf("dashboard row after rotate --grace 0 still warns: %s", row)
	}
	if strings.Contains(page.body, "need attention") || strings.Contains(page.body, "needs attention") {
		t.Errorf("dashboard summary after rotate --grace 0 still counts a key: %s", page.text())
	}
	if res := testenv.RunCLI(t, dir, nil, "key", "show", k.ClientID); !strings.Contains(res.Stdout, "Exposed:") ||
		!strings.Contains(res.Stdout, "false") || strings.Contains(res.Stdout, "Exposed since") {
		t.Errorf("key show after rotate --grace 0 does not say the key is no longer exposed:\n%s", res.Stdout)
	}
	if res := testenv.RunCLI(t, dir, nil, "key", "list", "--account", d.accountID); strings.Contains(res.Stdout, "EXPOSED is") {
		t.Errorf("key list after rotate --grace 0 still explains exposed keys:\n%s", res.Stdout)
	}

	// The new secret works, and a new exposure of it is reported again.
	waitForKey(t, d.srv, k.ClientID, rotated.ClientSecret)
	exposeSecret(t, d.srv, createdKey{ClientID: k.ClientID, ClientSecret: rotated.ClientSecret})
	if v := exposureViews(t, dir, d.accountID, k.ClientID)["key show --json"]; !v.Exposed || v.ExposedGeneration != 2 {
		t.Errorf("key show after the new secret was exposed: exposed %t, generation %d; want true and 2", v.Exposed, v.ExposedGeneration)
	}

	for _, event := range []string{"key.exposed", "key.rotated"} {
		var records struct{ Data []struct{ ClientID string } }
		testenv.CLIJSON(t, dir, &records, "audit", "list", "--account", d.accountID, "--event", event, "--client-id", k.ClientID)
		if len(records.Data) == 0 {
			t.Errorf("audit list has no %s record of the key after the rotation", event)
		}
	}
}

// TestExposureLastsUntilGraceEnds rotates an exposed key with a grace period. The exposed
// secret keeps working until the grace ends, so the warning stays until then and names
// that time. After it the warning is gone and the secret is refused.
func TestExposureLastsUntilGraceEnds(t *testing.T) {
	d, w, k := startWithExposedKey(t)
	dir := d.srv.DataDir

	// The grace period leaves time for the checks below on a busy machine.
	const grace = 8 * time.Second
	rotate(t, dir, k.ClientID, "--grace", grace.String())
	views := exposureViews(t, dir, d.accountID, k.ClientID)
	until := views["key show --json"].ExposedUntil
	if until == nil {
		t.Fatalf("key show --json during the grace period has no exposedUntil: %+v", views["key show --json"])
	}
	for source, v := range views {
		if !v.Exposed || v.ExposedGeneration != 1 || v.ExposedUntil == nil || !v.ExposedUntil.Equal(*until) {
			t.Errorf("%s during the grace period: exposed %t, generation %d, until %v; want exposed, generation 1, until %v",
				source, v.Exposed, v.ExposedGeneration, v.ExposedUntil, until)
		}
	}
	row, page := dashboardKeyRow(t, w, k.ClientID)
	wantChip := "Exposed: old secret works until <span class=\"nowrap\">" + until.UTC().Format("2006-01-02 15:04") + "</span>"
	if !strings.Contains(row, wantChip) || !strings.Contains(row, "Rotate again to retire the exposed secret at once") {
		t.Errorf("dashboard row during the grace period does not say when the exposed secret stops working: %s", row)
	}
	if !strings.Contains(page.body, "1 key needs attention") {
		t.Errorf("dashboard summary during the grace period does not count the exposed key: %s", page.text())
	}
	show := testenv.RunCLI(t, dir, nil, "key", "show", k.ClientID)
	for _, want := range []string{"Exposed until:", until.Format(time.RFC3339), `"iogate key rotate ` + k.ClientID + `"`} {
		if !strings.Contains(show.Stdout, want) {
			t.Errorf("key show during the grace period does not contain %q:\n%s", want, show.Stdout)
		}
	}
	list := testenv.RunCLI(t, dir, nil, "key", "list", "--account", d.accountID)
	if !strings.Contains(list.Stdout, "Key "+k.ClientID+": the exposed secret is the previous one, which works until "+until.Format(time.RFC3339)) {
		t.Errorf("key list during the grace period does not say when the exposed secret stops working:\n%s", list.Stdout)
	}
	if time.Now().Before(*until) {
		if r := tokenRequest(t, d.srv.Client, d.srv, nil, k.ClientID, k.ClientSecret); r.status != http.StatusOK {
			t.Errorf("exposed secret during the grace period: status %d, want 200", r.status)
		}
	}

	time.Sleep(time.Until(*until) + 50*time.Millisecond)
	for source, v := range exposureViews(t, dir, d.accountID, k.ClientID) {
		if v.Exposed || v.ExposedAt != nil || v.ExposedUntil != nil {
			t.Errorf("%s after the grace period: exposed %t at %v, until %v; want no exposure", source, v.Exposed, v.ExposedAt, v.ExposedUntil)
		}
	}
	row, page = dashboardKeyRow(t, w, k.ClientID)
	if strings.Contains(row, "Exposed") {
		t.Errorf("dashboard row after the grace period still warns: %s", row)
	}
	if strings.Contains(page.body, "need attention") || strings.Contains(page.body, "needs attention") {
		t.Errorf("dashboard summary after the grace period still counts a key: %s", page.text())
	}
	if r := tokenRequest(t, d.srv.Client, d.srv, nil, k.ClientID, k.ClientSecret); r.status != http.StatusUnauthorized {
		t.Errorf("exposed secret after the grace period: status %d, want 401", r.status)
	}
}
