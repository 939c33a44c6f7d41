package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/internal/pgtest"
)

// auditFixture is an account whose audit log contains records of every kind of actor, made on
// one of the stores that the CLI can open.
type auditFixture struct {
	dir string
	env map[string]string

	accountID, otherAccountID string
	// clientID and otherClientID are the account's two keys.
	clientID, otherClientID string
	userID, userEmail       string
	// otherEmail is the email of a user of the other account.
	otherEmail string
	operator   string
}

// forEachAuditStore runs fn on a new fixture in SQLite, and in PostgreSQL when the test
// cluster is configured, as pgtest.URL describes.
func forEachAuditStore(t *testing.T, fn func(t *testing.T, f *auditFixture)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newAuditFixture(t, map[string]string{}))
	})
	t.Run("postgres", func(t *testing.T) {
		key := make([]byte, 32)
		rand.Read(key)
		fn(t, newAuditFixture(t, map[string]string{
			"IOGATE_DATABASE":   pgtest.NewDatabase(t),
			"IOGATE_MASTER_KEY": base64.StdEncoding.EncodeToString(key),
		}))
	})
}

// newAuditFixture creates two accounts and, in the first, these records, oldest first,
// named as auditFixture.name names them:
//
//	account.created, key.created K, key.created K2 by the operator (the CLI),
//	user.signed_in and key.updated K by the user,
//	token.issued K and token.denied K by the key K,
//	key.exposed K and address.blocked by the system,
//	key.updated K2 by the user.
//
// The other account has a user of its own and records of that user and of the system.
func newAuditFixture(t *testing.T, env map[string]string) *auditFixture {
	t.Helper()
	f := &auditFixture{dir: t.TempDir(), env: env, operator: operatorActor(noEnv).ID,
		userEmail: "alice@acme.test", otherEmail: "bob@other.test"}
	var account, other struct{ ID string }
	runCLIJSON(t, f.dir, env, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	runCLIJSON(t, f.dir, env, &other, "account", "create", "--name", "Other", "--email", "ops@other.test")
	f.accountID, f.otherAccountID = account.ID, other.ID
	var key, otherKey struct{ ClientID string }
	runCLIJSON(t, f.dir, env, &key, "key", "create", "--account", f.accountID, "--name", "ci")
	runCLIJSON(t, f.dir, env, &otherKey, "key", "create", "--account", f.accountID, "--name", "deploy")
	f.clientID, f.otherClientID = key.ClientID, otherKey.ClientID

	e := openTestEnv(t, f)
	defer e.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	user := &iogate.User{ID: iogate.NewID(), AccountID: f.accountID, Email: f.userEmail, Role: iogate.RoleAdmin,
		PasswordHash: "$argon2id$hash", CreatedAt: now, UpdatedAt: now}
	otherUser := &iogate.User{ID: iogate.NewID(), AccountID: f.otherAccountID, Email: f.otherEmail, Role: iogate.RoleOwner,
		PasswordHash: "$argon2id$hash", CreatedAt: now, UpdatedAt: now}
	for _, u := range []*iogate.User{user, otherUser} {
		if err := e.store.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser %s: %v", u.Email, err)
		}
	}
	f.userID = user.ID

	userActor := iogate.Actor{Type: iogate.ActorUser, ID: user.ID, IP: "192.0.2.9"}
	clientActor := iogate.Actor{Type: iogate.ActorClient, ID: f.clientID, IP: "192.0.2.7"}
	system := iogate.Actor{Type: iogate.ActorSystem, IP: "198.51.100.4"}
	var batch []*iogate.AuditRecord
	for _, r := range []struct {
		account, event string
		actor          iogate.Actor
		clientID       string
	}{
		{f.accountID, iogate.AuditUserSignedIn, userActor, ""},
		{f.accountID, iogate.AuditKeyUpdated, userActor, f.clientID},
		{f.accountID, iogate.AuditTokenIssued, clientActor, f.clientID},
		{f.accountID, iogate.AuditTokenDenied, clientActor, f.clientID},
		{f.accountID, iogate.AuditKeyExposed, system, f.clientID},
		{f.accountID, iogate.AuditAddressBlocked, system, ""},
		{f.accountID, iogate.AuditKeyUpdated, userActor, f.otherClientID},
		{f.otherAccountID, iogate.AuditUserSignedIn, iogate.Actor{Type: iogate.ActorUser, ID: otherUser.ID}, ""},
		{f.otherAccountID, iogate.AuditAddressBlocked, system, ""},
	} {
		rec, err := e.auth.AuditChain().NewRecord(r.account, r.event, r.actor, now, map[string]any{"fixture": true})
		if err != nil {
			t.Fatal(err)
		}
		rec.ClientID = r.clientID
		if r.event == iogate.AuditTokenIssued {
			rec.TokenID = iogate.NewID()
		}
		batch = append(batch, rec)
	}
	if err := e.store.AppendAuditRecords(ctx, batch); err != nil {
		t.Fatalf("AppendAuditRecords: %v", err)
	}
	return f
}

// openTestEnv opens the fixture's store, master key and engine as a CLI command does.
func openTestEnv(t *testing.T, f *auditFixture) *env {
	t.Helper()
	g := &globals{dataDir: f.dir, database: f.env["IOGATE_DATABASE"], getenv: func(name string) string { return f.env[name] },
		environ: noEnviron, stdout: io.Discard, stderr: io.Discard, flagSources: map[string]string{}}
	e, err := g.open(context.Background(), false, auth.Config{})
	if err != nil {
		t.Fatalf("open the fixture's store: %v", err)
	}
	return e
}

// name returns a record as the tests write it: the event, and the fixture's name of the
// key it concerns, K or K2, if any.
func (f *auditFixture) name(event, clientID string) string {
	switch clientID {
	case "":
		return event
	case f.clientID:
		return event + " K"
	case f.otherClientID:
		return event + " K2"
	}
	return event + " " + clientID
}

// auditFilterCase is a filter of audit list and audit export, and the records that it
// selects from the fixture, newest first, by auditFixture.name. Records of audit.exported
// are left out of want, because each export adds one.
type auditFilterCase struct {
	name string
	args []string
	want []string
	// exports is set when the filter selects audit.exported records, those of the operator.
	exports bool
	// recorded, when set, is the filter that the export's audit.exported record holds.
	recorded map[string]string
}

func auditFilterCases(f *auditFixture) []auditFilterCase {
	byUser := []string{"key.updated K2", "key.updated K", "user.signed_in"}
	byClient := []string{"token.denied K", "token.issued K"}
	return []auditFilterCase{
		{name: "user by email", args: []string{"--actor", f.userEmail}, want: byUser,
			recorded: map[string]string{"actorType": iogate.ActorUser, "actorId": f.userID}},
		{name: "user by email in upper case", args: []string{"--actor", strings.ToUpper(f.userEmail)}, want: byUser},
		{name: "user by user:email", args: []string{"--actor", "user:" + f.userEmail}, want: byUser},
		{name: "user by ID", args: []string{"--actor", f.userID}, want: byUser, recorded: map[string]string{"actorId": f.userID}},
		{name: "user by user:ID", args: []string{"--actor", "user:" + f.userID}, want: byUser},
		{name: "key by client:ID", args: []string{"--actor", "client:" + f.clientID}, want: byClient},
		{name: "key by bare ID", args: []string{"--actor", f.clientID}, want: byClient},
		{name: "operator", args: []string{"--actor", "operator:" + f.operator},
			want: []string{"key.created K2", "key.created K", "account.created"}, exports: true,
			recorded: map[string]string{"actorType": iogate.ActorOperator, "actorId": f.operator}},
		{name: "another operator", args: []string{"--actor", "operator:" + f.operator + "-other"}, want: []string{}},
		{name: "system", args: []string{"--actor", "system"}, want: []string{"address.blocked", "key.exposed K"},
			recorded: map[string]string{"actorType": iogate.ActorSystem}},
		{name: "key", args: []string{"--client-id", f.clientID},
			want: []string{"key.exposed K", "token.denied K", "token.issued K", "key.updated K", "key.created K"}},
		{name: "event", args: []string{"--event", iogate.AuditKeyUpdated}, want: []string{"key.updated K2", "key.updated K"}},
		{name: "user and key", args: []string{"--actor", f.userEmail, "--client-id", f.clientID}, want: []string{"key.updated K"}},
		{name: "user and event", args: []string{"--actor", f.userEmail, "--event", iogate.AuditUserSignedIn}, want: []string{"user.signed_in"}},
		{name: "key and event", args: []string{"--client-id", f.otherClientID, "--event", iogate.AuditKeyCreated}, want: []string{"key.created K2"}},
		{name: "system, key and event", args: []string{"--actor", "system", "--client-id", f.clientID, "--event", iogate.AuditKeyExposed},
			want:     []string{"key.exposed K"},
			recorded: map[string]string{"actorType": iogate.ActorSystem, "clientId": f.clientID, "event": iogate.AuditKeyExposed}},
		{name: "key as actor of another key", args: []string{"--actor", "client:" + f.clientID, "--client-id", f.otherClientID}, want: []string{}},
		{name: "key as actor and event", args: []string{"--actor", "client:" + f.clientID, "--event", iogate.AuditTokenIssued},
			want: []string{"token.issued K"}},
	}
}

// TestAuditListFilters checks each filter of audit list alone and combined, on every store.
func TestAuditListFilters(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		for _, c := range auditFilterCases(f) {
			var page struct {
				Data []struct{ Event, ClientID string }
			}
			args := append([]string{"audit", "list", "--account", f.accountID}, c.args...)
			runCLIJSON(t, f.dir, f.env, &page, args...)
			got := []string{}
			for _, r := range page.Data {
				got = append(got, f.name(r.Event, r.ClientID))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("%s: audit list %s (-want +got):\n%s", c.name, strings.Join(c.args, " "), diff)
			}
		}
	})
}

// TestAuditExportFilters checks that audit export writes the records that each filter
// selects, oldest first, each one exactly as the unfiltered export writes it, in JSON and
// in CSV.
func TestAuditExportFilters(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		for _, c := range auditFilterCases(f) {
			for _, format := range []string{"json", "csv"} {
				args := append([]string{"audit", "export", "--account", f.accountID, "--format", format}, c.args...)
				filtered, stderr, err := runCLI(t, f.dir, f.env, args...)
				if err != nil {
					t.Fatalf("%s: audit export --format %s: %v; stderr %s", c.name, format, err, stderr)
				}
				whole, stderr, err := runCLI(t, f.dir, f.env, "audit", "export", "--account", f.accountID, "--format", format)
				if err != nil {
					t.Fatalf("audit export --format %s: %v; stderr %s", format, err, stderr)
				}
				checkExportFilter(t, f, c, format, exportRecords(t, format, filtered))

				// The record before the whole export's own is that of the filtered export.
				wholeRecords := exportRecords(t, format, whole)
				if c.recorded != nil {
					checkRecordedFilter(t, c.name+", "+format, wholeRecords[len(wholeRecords)-2], format, c.recorded)
				}
				// The records are those of the whole log, in its order and written alike.
				wholeLines := exportLines(format, whole)
				at := 0
				for _, line := range exportLines(format, filtered) {
					i := slices.Index(wholeLines[at:], line)
					if i < 0 {
						t.Errorf("%s, %s: the filtered export has a line that the whole export lacks, or has after the line before it:\n%s", c.name, format, line)
						break
					}
					at += i + 1
				}
			}
		}
	})
}

// checkExportFilter checks the records of a filtered export against the case: the
// records it wants oldest first, and the export's own audit.exported record last when the
// filter selects the operator's records.
func checkExportFilter(t *testing.T, f *auditFixture, c auditFilterCase, format string, records []*iogate.AuditRecord) {
	t.Helper()

	got := []string{}
	var exported []*iogate.AuditRecord
	for _, r := range records {
		if r.Event == iogate.AuditLogExported {
			exported = append(exported, r)
			continue
		}
		got = append(got, f.name(r.Event, r.ClientID))
	}

	want := slices.Clone(c.want)
	slices.Reverse(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: audit export --format %s %s (-want +got):\n%s", c.name, format, strings.Join(c.args, " "), diff)
	}

	if !c.exports {
		if len(exported) != 0 {
			t.Errorf("%s, %s: the export holds %d audit.exported records, which the filter does not select", c.name, format, len(exported))
		}
		return
	}
	if len(exported) == 0 {
		t.Fatalf("%s, %s: the export lacks its own audit.exported record", c.name, format)
	}
	if own := exported[len(exported)-1]; own != records[len(records)-1] {
		t.Errorf("%s, %s: the export's own audit.exported record is not its last record", c.name, format)
	}
	if c.recorded != nil {
		checkRecordedFilter(t, c.name+", "+format, exported[len(exported)-1], format, c.recorded)
	}
}

// checkRecordedFilter checks that rec is an audit.exported record of an export in format
// with the filter want.
func checkRecordedFilter(t *testing.T, name string, rec *iogate.AuditRecord, format string, want map[string]string) {
	t.Helper()
	if rec.Event != iogate.AuditLogExported {
		t.Fatalf("%s: record %s where the export's audit.exported record is expected", name, rec.Event)
	}
	var details struct {
		Format string
		Filter map[string]string
	}
	if err := json.Unmarshal(rec.Details, &details); err != nil {
		t.Fatalf("%s: details %s of audit.exported: %v", name, rec.Details, err)
	}
	if details.Format != format {
		t.Errorf("%s: audit.exported details %s, want the format %s", name, rec.Details, format)
	}
	if diff := cmp.Diff(want, details.Filter); diff != "" {
		t.Errorf("%s: filter of the audit.exported record (-want +got):\n%s", name, diff)
	}
}

// exportRecords decodes an export in format.
func exportRecords(t *testing.T, format, out string) []*iogate.AuditRecord {
	t.Helper()
	var records []*iogate.AuditRecord
	if format == "json" {
		if err := json.Unmarshal([]byte(out), &records); err != nil {
			t.Fatalf("the JSON export does not decode: %v\n%s", err, out)
		}
		return records
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV export does not parse: %v\n%s", err, out)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], iogate.AuditCSVHeader) {
		t.Fatalf("the CSV export does not start with the header row: %q", out)
	}
	column := func(row []string, name string) string {
		cell := row[slices.Index(iogate.AuditCSVHeader, name)]
		// Cells that a spreadsheet would run as a formula start with a quote.
		return strings.TrimPrefix(cell, "'")
	}
	for _, row := range rows[1:] {
		records = append(records, &iogate.AuditRecord{Event: column(row, "event"), ClientID: column(row, "clientId"),
			Details: json.RawMessage(column(row, "details"))})
	}
	return records
}

// exportLines returns the lines of an export that contain a record. A JSON array has one
// record a line, after the line "[", with a comma after each but the last. The CSV records
// here contain no line breaks, so every line but the header is one record.
func exportLines(format, out string) []string {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var records []string
	for _, line := range lines[1:] {
		if format == "json" && line == "]" {
			continue
		}
		records = append(records, strings.TrimSuffix(line, ","))
	}
	return records
}

// TestAuditExportWithoutFilter checks that an export without filters writes every record
// of the log as WriteAuditJSON and WriteAuditCSV write them, and records only its format.
func TestAuditExportWithoutFilter(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		writers := map[string]func(io.Writer, func(func(*iogate.AuditRecord) error) error) error{
			"json": iogate.WriteAuditJSON, "csv": iogate.WriteAuditCSV}
		for format, write := range writers {
			out, stderr, err := runCLI(t, f.dir, f.env, "audit", "export", "--account", f.accountID, "--format", format)
			if err != nil {
				t.Fatalf("audit export --format %s: %v; stderr %s", format, err, stderr)
			}
			e := openTestEnv(t, f)
			var want bytes.Buffer
			err = write(&want, func(fn func(*iogate.AuditRecord) error) error {
				return e.store.AuditRecords(context.Background(), f.accountID, fn)
			})
			e.Close()
			if err != nil {
				t.Fatal(err)
			}
			if out != want.String() {
				t.Errorf("audit export --format %s differs from every record of the log written by the %s writer:\n%s\nwant:\n%s", format, format, out, want.String())
			}
			records := exportRecords(t, format, out)
			last := records[len(records)-1]
			if last.Event != iogate.AuditLogExported || string(last.Details) != `{"format":"`+format+`"}` {
				t.Errorf("audit export --format %s: last record %s with details %s, want audit.exported with the format alone", format, last.Event, last.Details)
			}
		}
	})
}

// TestAuditActorRejected checks that audit list and audit export reject a value of --actor
// that names no actor of the account, and filters that no record can have. Each fails with
// a non-zero exit and an error that names the problem, and prints nothing on standard
// output. A rejected export records nothing.
func TestAuditActorRejected(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		cases := []struct {
			name string
			args []string
			// want is a part of the error message.
			want string
			code string
		}{
			{"unknown email", []string{"--actor", "carol@acme.test"}, "user with the email \"carol@acme.test\" not found in account " + f.accountID, "not_found"},
			{"email of another account", []string{"--actor", f.otherEmail}, "belongs to a user of account " + f.otherAccountID, "not_found"},
			{"email of another account by user:", []string{"--actor", "user:" + f.otherEmail}, "belongs to a user of account " + f.otherAccountID, "not_found"},
			{"malformed email", []string{"--actor", "alice@"}, "invalid --actor", "invalid_request"},
			{"upper-case user ID", []string{"--actor", strings.ToUpper(f.userID)}, "invalid --actor", "invalid_request"},
			{"user ID with a space", []string{"--actor", f.userID + " "}, "invalid --actor", "invalid_request"},
			{"user: without an ID", []string{"--actor", "user:alice"}, "expected a user ID after user:", "invalid_request"},
			{"malformed client ID", []string{"--actor", "client:not-a-uuid"}, "expected a client ID after client:", "invalid_request"},
			{"upper-case client ID", []string{"--actor", "client:" + strings.ToUpper(f.clientID)}, "expected a client ID", "invalid_request"},
			{"operator without a name", []string{"--actor", "operator:"}, "expected an operating-system user name", "invalid_request"},
			{"operator name with a space", []string{"--actor", "operator: " + f.operator}, "expected an operating-system user name", "invalid_request"},
			{"bare name", []string{"--actor", "alice"}, "use operator:alice", "invalid_request"},
			{"unknown type", []string{"--actor", "robot:r2"}, "invalid --actor", "invalid_request"},
			{"malformed client ID filter", []string{"--client-id", "not-a-uuid"}, "invalid --client-id", "invalid_request"},
			{"unknown event", []string{"--event", "key.stolen"}, "invalid --event", "invalid_request"},
		}
		exportsBefore := countExports(t, f)
		for _, c := range cases {
			for _, command := range []string{"list", "export"} {
				args := append([]string{"audit", command, "--account", f.accountID}, c.args...)
				stdout, stderr, err := runCLI(t, f.dir, f.env, append(args, "--json")...)
				if err == nil {
					t.Errorf("%s: audit %s: no error, stdout %q", c.name, command, stdout)
					continue
				}
				if stdout != "" {
					t.Errorf("%s: audit %s printed %q before failing", c.name, command, stdout)
				}
				var out struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal([]byte(stderr), &out); err != nil {
					t.Fatalf("%s: audit %s: stderr is not a JSON error: %q", c.name, command, stderr)
				}
				if !strings.Contains(out.Error.Message, c.want) {
					t.Errorf("%s: audit %s: error %q, want one that contains %q", c.name, command, out.Error.Message, c.want)
				}
				if out.Error.Code != c.code {
					t.Errorf("%s: audit %s: error code %q, want %q", c.name, command, out.Error.Code, c.code)
				}
			}
		}
		if n := countExports(t, f); n != exportsBefore {
			t.Errorf("rejected exports added %d audit.exported records", n-exportsBefore)
		}
	})
}

// countExports returns how many audit.exported records the fixture's account has.
func countExports(t *testing.T, f *auditFixture) int {
	t.Helper()
	var page struct{ Data []struct{} }
	runCLIJSON(t, f.dir, f.env, &page, "audit", "list", "--account", f.accountID, "--event", iogate.AuditLogExported, "--limit", "200")
	return len(page.Data)
}

// TestAuditActorOfSigningKeys checks that the log of the signing keys takes --actor for
// the operator and the system, and rejects the actors that never act in it.
func TestAuditActorOfSigningKeys(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		out, stderr, err := runCLI(t, f.dir, f.env, "audit", "export", "--signing-keys", "--format", "json", "--actor", "operator:"+f.operator)
		if err != nil {
			t.Fatalf("audit export --signing-keys --actor operator:NAME: %v; stderr %s", err, stderr)
		}
		records := exportRecords(t, "json", out)
		if len(records) != 1 || records[0].Event != iogate.AuditLogExported || records[0].AccountID != iogate.SigningKeyLogID {
			t.Errorf("audit export --signing-keys --actor operator:NAME wrote %d records, want its own audit.exported record alone:\n%s", len(records), out)
		}
		var page struct{ Data []struct{ Event string } }
		runCLIJSON(t, f.dir, f.env, &page, "audit", "list", "--signing-keys", "--actor", "system", "--event", iogate.AuditLogExported)
		if len(page.Data) != 0 {
			t.Errorf("audit list --signing-keys --actor system --event audit.exported = %v, want no record", page.Data)
		}

		for _, actor := range []string{f.userEmail, f.userID, "user:" + f.userID, "client:" + f.clientID} {
			for _, command := range []string{"list", "export"} {
				stdout, stderr, err := runCLI(t, f.dir, f.env, "audit", command, "--signing-keys", "--actor", actor)
				if err == nil {
					t.Errorf("audit %s --signing-keys --actor %s: no error, stdout %q", command, actor, stdout)
					continue
				}
				if !strings.Contains(stderr, "with --signing-keys") {
					t.Errorf("audit %s --signing-keys --actor %s: error %q, want one that names --signing-keys", command, actor, stderr)
				}
			}
		}
	})
}

// TestAuditActorOfRemovedUser checks that a removed user's records stay selectable by the
// user ID that the user.removed record holds, while the email, which no user has any more,
// is an error.
func TestAuditActorOfRemovedUser(t *testing.T) {
	forEachAuditStore(t, func(t *testing.T, f *auditFixture) {
		runCLIJSON(t, f.dir, f.env, &struct{}{}, "user", "remove", "--email", f.userEmail)

		var removed struct {
			Data []struct{ Details struct{ UserID string } }
		}
		runCLIJSON(t, f.dir, f.env, &removed, "audit", "list", "--account", f.accountID, "--event", iogate.AuditUserRemoved)
		if len(removed.Data) != 1 || removed.Data[0].Details.UserID != f.userID {
			t.Fatalf("audit list --event user.removed = %+v, want one record with the user's ID", removed.Data)
		}

		var page struct {
			Data []struct{ Event, ClientID string }
		}
		runCLIJSON(t, f.dir, f.env, &page, "audit", "list", "--account", f.accountID, "--actor", "user:"+f.userID)
		got := []string{}
		for _, r := range page.Data {
			got = append(got, f.name(r.Event, r.ClientID))
		}
		if diff := cmp.Diff([]string{"key.updated K2", "key.updated K", "user.signed_in"}, got); diff != "" {
			t.Errorf("audit list --actor user:ID of a removed user (-want +got):\n%s", diff)
		}

		_, stderr, err := runCLI(t, f.dir, f.env, "audit", "list", "--account", f.accountID, "--actor", f.userEmail)
		if err == nil {
			t.Fatal("audit list --actor with the email of a removed user: no error")
		}
		if !strings.Contains(stderr, "not found in account") || !strings.Contains(stderr, "--event user.removed") {
			t.Errorf("audit list --actor with the email of a removed user: error %q, want one that points to the user.removed record", stderr)
		}
	})
}
