package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
	_ "modernc.org/sqlite"
)

// auditRecord is one record of "iogate audit list" and "iogate audit export".
type auditRecord struct {
	AccountID string `json:"accountId"`
	Seq       int64  `json:"seq"`
	ID        string `json:"id"`
	Event     string `json:"event"`
	Actor     struct {
		Type, ID, IP string
	} `json:"actor"`
	ClientID string          `json:"clientId"`
	TokenID  string          `json:"tokenId"`
	Reason   string          `json:"reason"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

func auditList(t *testing.T, dir, accountID string, extra ...string) []auditRecord {
	t.Helper()
	var out struct{ Data []auditRecord }
	testenv.CLIJSON(t, dir, &out, append([]string{"audit", "list", "--account", accountID, "--limit", "200"}, extra...)...)
	return out.Data
}

// TestAuditLog drives a key through its life from the CLI and over HTTPS, and checks the
// account's audit log: what it records, its exports, and that its chain verifies.
func TestAuditLog(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	from1 := clientFrom(t, f.srv, "127.0.0.1")
	from2 := clientFrom(t, f.srv, "127.0.0.2")

	k := createKey(t, dir, f.accountID, "audited", "--allow-ip", "127.0.0.1")
	waitForKeyFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
	tok := tokenFrom(t, from1, f.srv, k.ClientID, k.ClientSecret)
	wrongSecret := otherLastChar(k.ClientSecret)
	if r := requestToken(t, from1, f.srv, k.ClientID, wrongSecret); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: status %d, want 401", r.status)
	}
	if r := requestToken(t, from2, f.srv, k.ClientID, k.ClientSecret); r.status != http.StatusForbidden {
		t.Fatalf("request from 127.0.0.2: status %d, want 403", r.status)
	}
	// Denials are written off the request path, after a wait. The changes below come after
	// them, so that the log lists them in the order they were made.
	if !pollUntil(5*time.Second, func() bool {
		return len(auditList(t, dir, f.accountID, "--event", "token.denied")) == 2
	}) {
		t.Fatal("the two token.denied records were not written within 5s")
	}
	testenv.CLIJSON(t, dir, nil, "key", "update", k.ClientID, "--name", "audited-2", "--allow-ip", "127.0.0.0/8")
	rotated := rotate(t, dir, k.ClientID, "--grace", "1h")
	testenv.CLIJSON(t, dir, nil, "key", "delete", k.ClientID)

	// The key has two issued tokens: one from waitForKeyFrom and tok.
	var records []auditRecord
	deadline := time.Now().Add(5 * time.Second)
	for {
		records = auditList(t, dir, f.accountID, "--client-id", k.ClientID)
		if len(records) >= 8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("records", func(t *testing.T) {
		byEvent := map[string][]auditRecord{}
		for _, r := range records {
			byEvent[r.Event] = append(byEvent[r.Event], r)
		}
		for event, n := range map[string]int{"key.created": 1, "token.issued": 2, "token.denied": 2, "key.updated": 1, "key.rotated": 1, "key.deleted": 1} {
			if got := len(byEvent[event]); got != n {
				t.Errorf("%s records = %d, want %d", event, got, n)
			}
		}
		if len(records) > 0 && records[0].Event != "key.deleted" {
			t.Errorf("newest record = %s, want key.deleted first", records[0].Event)
		}
		denials := map[string]string{}
		for _, r := range byEvent["token.denied"] {
			denials[r.Reason] = r.Actor.IP
		}
		if denials["invalid_secret"] != "127.0.0.1" || denials["ip_not_allowed"] != "127.0.0.2" {
			t.Errorf("denials by reason and address = %v, want invalid_secret from 127.0.0.1 and ip_not_allowed from 127.0.0.2", denials)
		}
		for _, r := range byEvent["token.issued"] {
			if r.TokenID == "" || r.Actor.Type != "client" || r.Actor.ID != k.ClientID || r.Actor.IP != "127.0.0.1" {
				t.Errorf("token.issued record = %+v, want a token ID, the client as actor and its address", r)
			}
		}
		for _, r := range byEvent["key.updated"] {
			if r.Actor.Type != "operator" || r.Actor.ID == "" {
				t.Errorf("key.updated actor = %+v, want the operator", r.Actor)
			}
			var details bytes.Buffer
			if err := json.Compact(&details, r.Details); err != nil {
				t.Fatalf("key.updated details are not JSON: %v", err)
			}
			if !strings.Contains(details.String(), `"allowedIps":{"from":["127.0.0.1"],"to":["127.0.0.0/8"]}`) {
				t.Errorf("key.updated details = %s, want the old and new allowed IPs", details.String())
			}
		}
	})

	t.Run("filter by event", func(t *testing.T) {
		for _, r := range auditList(t, dir, f.accountID, "--event", "token.denied") {
			if r.Event != "token.denied" {
				t.Errorf("audit list --event token.denied returned a %s record", r.Event)
			}
		}
	})

	secrets := map[string]string{"client secret": k.ClientSecret, "wrong secret": wrongSecret, "rotated secret": rotated.ClientSecret, "access token": tok}
	t.Run("export JSON", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "audit", "export", "--account", f.accountID, "--format", "json")
		if res.ExitCode != 0 {
			t.Fatalf("audit export: exit %d, stderr %s", res.ExitCode, res.Stderr)
		}
		var exported []auditRecord
		if err := json.Unmarshal([]byte(res.Stdout), &exported); err != nil {
			t.Fatalf("audit export --format json is not a JSON array: %v", err)
		}
		checkExported(t, exported, f.accountID)
		checkNoSecrets(t, "audit export --format json", res.Stdout, secrets)
	})

	t.Run("export CSV", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "audit", "export", "--account", f.accountID, "--format", "csv")
		if res.ExitCode != 0 {
			t.Fatalf("audit export: exit %d, stderr %s", res.ExitCode, res.Stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(res.Stdout)).ReadAll()
		if err != nil {
			t.Fatalf("audit export --format csv is not CSV: %v", err)
		}
		if len(rows) < 2 || strings.Join(rows[0][:5], ",") != "accountId,seq,id,time,event" {
			t.Fatalf("CSV header = %v, want accountId,seq,id,time,event first", rows[0])
		}
		var exported []auditRecord
		for _, row := range rows[1:] {
			var r auditRecord
			r.AccountID, r.ID, r.Event, r.PrevHash, r.Hash = row[0], row[2], row[4], row[12], row[13]
			if err := json.Unmarshal([]byte(row[1]), &r.Seq); err != nil {
				t.Fatalf("seq %q is not a number", row[1])
			}
			exported = append(exported, r)
		}
		checkExported(t, exported, f.accountID)
		checkNoSecrets(t, "audit export --format csv", res.Stdout, secrets)
	})

	// Each export commits an audit.exported record by the operator before it starts, as
	// the dashboard's exports do, so the JSON and CSV exports above left one each.
	t.Run("exports are recorded", func(t *testing.T) {
		records := auditList(t, dir, f.accountID, "--event", "audit.exported")
		if len(records) != 2 {
			t.Fatalf("audit.exported records after two exports = %d, want 2", len(records))
		}
		for i, format := range []string{"csv", "json"} {
			r := records[i]
			if r.Actor.Type != "operator" || r.Actor.ID == "" {
				t.Errorf("audit.exported record %d: actor %+v, want the operator", i, r.Actor)
			}
			var details bytes.Buffer
			if err := json.Compact(&details, r.Details); err != nil {
				t.Fatalf("audit.exported details are not JSON: %v", err)
			}
			if want := `{"format":"` + format + `"}`; details.String() != want {
				t.Errorf("audit.exported record %d: details %s, want %s (newest first)", i, details.String(), want)
			}
		}
	})

	t.Run("bad export format", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "audit", "export", "--account", f.accountID, "--format", "xml")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `"xml"`) {
			t.Errorf("audit export --format xml: exit %d, stderr %q; want an error naming the format", res.ExitCode, res.Stderr)
		}
	})

	t.Run("verify", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "audit", "verify")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "Verified") {
			t.Fatalf("audit verify: exit %d, stdout %q, stderr %q; want success", res.ExitCode, res.Stdout, res.Stderr)
		}
		var report struct {
			Records  int64
			Accounts []struct {
				AccountID string
				Records   int64
				Hash      string
			}
		}
		testenv.CLIJSON(t, dir, &report, "audit", "verify", "--account", f.accountID)
		if len(report.Accounts) != 1 || report.Accounts[0].Records != report.Records || len(report.Accounts[0].Hash) != 64 {
			t.Errorf("audit verify --json = %+v, want one account with all records and a head hash", report)
		}
	})

	if logs := f.srv.SyncedLogs(t); strings.Contains(logs, k.ClientSecret) || strings.Contains(logs, tok) {
		t.Error("a secret or token appears in the server log")
	}
}

// checkExported checks that records are the account's whole chain, oldest first, each
// linked to the one before.
func checkExported(t *testing.T, records []auditRecord, accountID string) {
	t.Helper()
	if len(records) < 9 {
		t.Errorf("exported %d records, want at least 9", len(records))
	}
	prev := strings.Repeat("0", 64)
	for i, r := range records {
		if r.AccountID != accountID || r.Seq != int64(i+1) {
			t.Errorf("record %d: account %s, seq %d; want account %s, seq %d", i, r.AccountID, r.Seq, accountID, i+1)
		}
		if r.PrevHash != prev || len(r.Hash) != 64 {
			t.Errorf("record %d links to %s with hash %s, want a link to %s", r.Seq, r.PrevHash, r.Hash, prev)
		}
		prev = r.Hash
	}
}

func checkNoSecrets(t *testing.T, what, text string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the %s", what, name)
		}
	}
}

// TestAuditVerifyDetectsEdit edits an audit record in the database by hand, as someone
// with write access to the file could, and checks that "iogate audit verify" fails and
// names that record.
func TestAuditVerifyDetectsEdit(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	for range 3 {
		accessToken(t, f.srv, f.clientID, f.clientSecret)
	}
	if res := testenv.RunCLI(t, dir, nil, "audit", "verify"); res.ExitCode != 0 {
		t.Fatalf("audit verify before the edit: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	var target auditRecord
	for _, r := range auditList(t, dir, f.accountID) {
		if r.Event == "token.issued" && r.Seq == 3 {
			target = r
		}
	}
	if target.ID == "" {
		t.Fatal("no token.issued record with seq 3")
	}

	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	// The table refuses updates, so the edit drops that guard first.
	if _, err := db.ExecContext(ctx, `UPDATE audit_records SET actor_ip = '203.0.113.9' WHERE id = ?`, target.ID); err == nil {
		t.Fatal("UPDATE of an audit record succeeded with the append-only trigger in place")
	}
	if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_records_no_update`); err != nil {
		t.Fatal(err)
	}
	res, err := db.ExecContext(ctx, `UPDATE audit_records SET actor_ip = '203.0.113.9' WHERE id = ?`, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("edit changed %d rows, want 1", n)
	}

	for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--account", f.accountID}} {
		out := testenv.RunCLI(t, dir, nil, args...)
		if out.ExitCode == 0 {
			t.Errorf("iogate %s after the edit: exit 0, want non-zero", strings.Join(args, " "))
		}
		for _, want := range []string{"record 3", target.ID, f.accountID, "edited"} {
			if !strings.Contains(out.Stderr, want) {
				t.Errorf("iogate %s: stderr %q does not contain %q", strings.Join(args, " "), out.Stderr, want)
			}
		}
	}
	out := testenv.RunCLI(t, dir, nil, "audit", "verify", "--json")
	var body struct{ Error struct{ Message string } }
	if out.ExitCode == 0 || json.Unmarshal(bytes.TrimSpace([]byte(out.Stderr)), &body) != nil || !strings.Contains(body.Error.Message, target.ID) {
		t.Errorf("audit verify --json after the edit: exit %d, stderr %q; want a JSON error naming the record", out.ExitCode, out.Stderr)
	}
}

// TestAuditListEventFilter checks that "audit list --event" accepts the events of account
// and vault creation and rejects an event that iogate never records, naming the valid ones.
func TestAuditListEventFilter(t *testing.T) {
	dir := newDataDir(t)
	accountID := createAccount(t, dir, "Acme Custody", "ops@acme.test")
	testenv.CLIJSON(t, dir, nil, "vault", "create", "--account", accountID, "--name", "Treasury", "--threshold", "2")
	for _, event := range []string{"account.created", "vault.created"} {
		if got := auditList(t, dir, accountID, "--event", event); len(got) != 1 || got[0].Event != event {
			t.Errorf("audit list --event %s = %+v, want the one %s record", event, got, event)
		}
	}
	res := testenv.RunCLI(t, dir, nil, "audit", "list", "--account", accountID, "--event", "key.stolen")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `invalid --event "key.stolen"`) || !strings.Contains(res.Stderr, "vault.created") {
		t.Errorf("audit list --event key.stolen: exit %d, stderr %q; want a failure that names the valid events", res.ExitCode, res.Stderr)
	}
}
