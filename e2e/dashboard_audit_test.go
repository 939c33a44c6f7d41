package e2e

import (
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var eventPattern = regexp.MustCompile(`<tr data-event="([^"]+)">`)

// auditEvents returns the events of the audit page's rows, in page order.
func auditEvents(p webPage) []string {
	var out []string
	for _, m := range eventPattern.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestDashboardAuditLog(t *testing.T) {
	d := startDashboard(t)
	anon := d.client(t)
	token := anon.get("/dashboard/signin").csrf(t)
	anon.post("/dashboard/signin", token, url.Values{"email": {ownerEmail}, "password": {"not the password"}})
	w := d.signIn(t, ownerEmail, ownerPassword)
	form := w.get("/dashboard/keys/new")
	created := w.post("/dashboard/keys", form.csrf(t), url.Values{"name": {"ledger"}, "scope": {"vaults:read"}, "form_token": {form.hidden(t, "form_token")}})
	if created.status != http.StatusOK {
		t.Fatalf("create key: status %d", created.status)
	}
	clientID := regexp.MustCompile(`id="client-id"[^>]*>([0-9a-f-]{36})<`).FindStringSubmatch(created.body)[1]
	users := w.get("/dashboard/users")
	w.post("/dashboard/users", users.csrf(t), url.Values{"email": {"new@acme.test"}, "role": {"admin"}})

	page := w.get("/dashboard/audit")
	if page.status != http.StatusOK {
		t.Fatalf("GET /dashboard/audit: status %d", page.status)
	}
	events := auditEvents(page)
	// Setup wrote account.created and then its owner's user.created, both with the account.
	want := []string{"user.invited", "key.created", "user.signed_in", "user.sign_in_failed", "user.created", "account.created"}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("audit page events = %v, want newest first %v", events, want)
	}

	t.Run("filter by event", func(t *testing.T) {
		p := w.get("/dashboard/audit?event=user.sign_in_failed")
		if got := auditEvents(p); len(got) != 1 || got[0] != "user.sign_in_failed" {
			t.Errorf("events filtered by user.sign_in_failed = %v", got)
		}
		if !strings.Contains(p.text(), "wrong_password") {
			t.Errorf("sign-in failure row lacks its reason: %q", p.text())
		}
	})

	t.Run("filter by key", func(t *testing.T) {
		p := w.get("/dashboard/audit?key=" + clientID)
		if got := auditEvents(p); len(got) != 1 || got[0] != "key.created" {
			t.Errorf("events filtered by key = %v, want [key.created]", got)
		}
	})

	t.Run("filter by user", func(t *testing.T) {
		ownerID := regexp.MustCompile(`<option value="([0-9a-f-]{36})"[^>]*>` + regexp.QuoteMeta(ownerEmail)).FindStringSubmatch(page.body)
		if ownerID == nil {
			t.Fatal("the user filter does not list the owner")
		}
		p := w.get("/dashboard/audit?user=" + ownerID[1])
		if got := auditEvents(p); len(got) != len(want) {
			t.Errorf("events by the owner = %v, want all %d of %v", got, len(want), want)
		}
	})

	t.Run("invalid filter", func(t *testing.T) {
		p := w.get("/dashboard/audit?event=key.stolen")
		if p.status != http.StatusBadRequest || !strings.Contains(p.text(), "key.stolen") {
			t.Errorf("unknown event filter: status %d text %q, want 400 naming it", p.status, p.text())
		}
	})

	t.Run("pages", func(t *testing.T) {
		first := w.get("/dashboard/audit?limit=2")
		older := regexp.MustCompile(`href="(/dashboard/audit\?cursor=[^"]+)"`).FindStringSubmatch(first.body)
		if older == nil {
			t.Fatal("a page of 2 out of 5 records has no link to older records")
		}
		second := w.get(html.UnescapeString(older[1]) + "&limit=2")
		got := append(auditEvents(first), auditEvents(second)...)
		if strings.Join(got, ",") != strings.Join(want[:4], ",") {
			t.Errorf("two pages of 2 = %v, want %v", got, want[:4])
		}
	})

	t.Run("export CSV", func(t *testing.T) {
		p := w.get("/dashboard/audit/export?format=csv&event=key.created")
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("CSV export: status %d Content-Type %q", p.status, p.header.Get("Content-Type"))
		}
		if cd := p.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
			t.Errorf("Content-Disposition = %q, want an attachment named .csv", cd)
		}
		rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v", err)
		}
		if len(rows) != 2 || rows[0][4] != "event" || rows[1][4] != "key.created" || rows[1][8] != clientID {
			t.Errorf("CSV rows = %v, want a header and one key.created row for the key", rows)
		}
	})

	t.Run("export JSON", func(t *testing.T) {
		p := w.get("/dashboard/audit/export?format=json")
		var records []struct {
			Event string
			Seq   int64
			Actor struct{ Type, ID, IP string }
		}
		if err := json.Unmarshal([]byte(p.body), &records); err != nil {
			t.Fatalf("JSON export does not parse: %v", err)
		}
		// The six records above, and one audit.exported record for each export so far,
		// this one included: it is written before the export reads the log.
		if len(records) != len(want)+2 || records[0].Event != "account.created" || records[0].Seq != 1 {
			t.Fatalf("JSON export has %d records starting with %+v, want %d oldest first", len(records), records[0], len(want)+2)
		}
		for _, r := range records {
			if r.Event == "user.signed_in" && (r.Actor.Type != "user" || r.Actor.IP != "127.0.0.1") {
				t.Errorf("sign-in actor = %+v, want the user from 127.0.0.1", r.Actor)
			}
		}
		// The owner set the account up through the setup link, as the first user.created
		// record's actor.
		if records[0].Actor.Type != "user" || records[0].Actor.ID != records[1].Actor.ID || records[0].Actor.IP != "127.0.0.1" {
			t.Errorf("account.created actor = %+v, want the owner of the user.created record %+v from 127.0.0.1", records[0].Actor, records[1].Actor)
		}
		if got := auditEvents(w.get("/dashboard/audit?event=audit.exported")); len(got) != 2 {
			t.Errorf("%d audit.exported records after two exports, want 2", len(got))
		}
	})
}
