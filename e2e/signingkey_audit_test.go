package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// signingKeyLogStore is a store that a server runs on, with the CLI and a way to edit a
// record of the audit log behind iogate's back.
type signingKeyLogStore struct {
	// cli runs the CLI on the server's store and returns its result.
	cli func(args ...string) testenv.CLIResult
	// edit replaces old with new in the details of the audit record with the given ID,
	// bypassing the append-only trigger as someone with the database owner's rights can.
	edit func(t *testing.T, recordID, old, new string)
}

// TestSigningKeyAuditLog runs rotate, retire and revoke with the CLI against a running
// server, on SQLite and on PostgreSQL. It checks the records of the signing-key log, its
// export, that "audit verify" passes, and that it fails after a record was edited in the
// database.
func TestSigningKeyAuditLog(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		testenv.Start(t, dir, testenv.Options{HTTPListen: "-"})
		testSigningKeyAuditLog(t, signingKeyLogStore{
			cli: func(args ...string) testenv.CLIResult { return testenv.RunCLI(t, dir, nil, args...) },
			edit: func(t *testing.T, recordID, old, new string) {
				db, ctx, closeDB := openDatabaseFile(t, dir)
				defer closeDB()
				if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_records_no_update`); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, `UPDATE audit_records SET details = replace(details, ?, ?) WHERE id = ?`, old, new, recordID); err != nil {
					t.Fatal(err)
				}
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		d := newPGDeployment(t, pgtest.NewDatabase(t))
		d.startNode(t, "a")
		testSigningKeyAuditLog(t, signingKeyLogStore{
			cli: func(args ...string) testenv.CLIResult { return testenv.RunCLI(t, d.cliDir, d.env(), args...) },
			edit: func(t *testing.T, recordID, old, new string) {
				pgtest.Exec(t, d.dbURL, `ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update_or_delete`)
				pgtest.Exec(t, d.dbURL, `UPDATE audit_records SET details = replace(details, $1, $2) WHERE id = $3`, old, new, recordID)
			},
		})
	})
}

// signingKeyRecord is a record of the signing-key log as the CLI prints it with --json.
type signingKeyRecord struct {
	AccountID string `json:"accountId"`
	Seq       int64  `json:"seq"`
	ID        string `json:"id"`
	Event     string `json:"event"`
	Actor     struct{ Type, ID string }
	Details   struct {
		KID, Algorithm, ActiveAt, RetiredAt string
		Retired                             []struct{ KID string }
		Replacement                         *struct{ KID string }
	}
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

func testSigningKeyAuditLog(t *testing.T, s signingKeyLogStore) {
	run := func(out any, args ...string) {
		t.Helper()
		res := s.cli(args...)
		if res.ExitCode != 0 {
			t.Fatalf("iogate %s: exit %d, stderr: %s", strings.Join(args, " "), res.ExitCode, res.Stderr)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
				t.Fatalf("iogate %s: output is not JSON: %v", strings.Join(args, " "), err)
			}
		}
	}
	list := func(args ...string) []signingKeyRecord {
		t.Helper()
		var out struct{ Data []signingKeyRecord }
		run(&out, append([]string{"audit", "list", "--signing-keys", "--json"}, args...)...)
		return out.Data
	}
	type key struct{ KID string }

	// The server created the first EdDSA key when it started.
	var keys struct{ Data []key }
	run(&keys, "signing-key", "list", "--json")
	if len(keys.Data) != 1 {
		t.Fatalf("signing keys after the server started: %+v, want one", keys.Data)
	}
	first := keys.Data[0].KID

	var edNext, es key
	run(&edNext, "signing-key", "rotate", "--activate-in", "0", "--json")
	run(&es, "signing-key", "rotate", "--algorithm", "ES256", "--activate-in", "0", "--json")
	var revoked struct{ Replacement *key }
	run(&revoked, "signing-key", "revoke", "--json", "--", es.KID)
	if revoked.Replacement == nil {
		t.Fatalf("signing-key revoke of the signing ES256 key created no replacement")
	}
	// The server still signs with EdDSA, so it creates a key of its own once it learns of
	// the retirement.
	run(nil, "signing-key", "retire", "--algorithm", "EdDSA", "--json")

	var records []signingKeyRecord
	deadline := time.Now().Add(5 * time.Second)
	for records = list(); len(records) < 6 && time.Now().Before(deadline); records = list() {
		time.Sleep(50 * time.Millisecond)
	}
	type entry struct{ Event, Actor, KID string }
	var got []entry
	for _, r := range records {
		got = append(got, entry{r.Event, r.Actor.Type, r.Details.KID})
	}
	if len(records) != 6 {
		t.Fatalf("signing-key log = %+v, want 6 records", got)
	}
	want := []entry{
		{"signing_key.created", "system", got[0].KID},
		{"signing_key.retired", "operator", edNext.KID},
		{"signing_key.revoked", "operator", es.KID},
		{"signing_key.rotated", "operator", es.KID},
		{"signing_key.rotated", "operator", edNext.KID},
		{"signing_key.created", "system", first},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d of the signing-key log, newest first: %+v, want %+v", i, got[i], want[i])
		}
	}
	if r := records[4]; len(r.Details.Retired) != 1 || r.Details.Retired[0].KID != first {
		t.Errorf("EdDSA rotation record retires %+v, want the first key %s", r.Details.Retired, first)
	}
	if r := records[2]; r.Details.Replacement == nil || r.Details.Replacement.KID != revoked.Replacement.KID {
		t.Errorf("revocation record names replacement %+v, want %s", r.Details.Replacement, revoked.Replacement.KID)
	}
	if r := records[1]; r.Details.RetiredAt == "" || r.Details.Algorithm != "EdDSA" {
		t.Errorf("retirement record details %+v, want an EdDSA key with its retirement", r.Details)
	}
	if got := list("--event", "signing_key.revoked"); len(got) != 1 || got[0].Details.KID != es.KID {
		t.Errorf("audit list --signing-keys --event signing_key.revoked = %+v, want the revocation of %s", got, es.KID)
	}

	// The export is oldest first and ends with its own record.
	var exported []signingKeyRecord
	run(&exported, "audit", "export", "--signing-keys", "--format", "json")
	prev := strings.Repeat("0", 64)
	for i, r := range exported {
		if r.AccountID != "signing-keys" || r.Seq != int64(i+1) || r.PrevHash != prev {
			t.Errorf("exported record %d: account %s, seq %d, link %s; want signing-keys, %d, %s", i, r.AccountID, r.Seq, r.PrevHash, i+1, prev)
		}
		prev = r.Hash
	}
	if n := len(exported); n != 7 || exported[n-1].Event != "audit.exported" {
		t.Errorf("audit export --signing-keys returned %d records, want the 6 changes and its audit.exported record", n)
	}

	var report struct {
		Records  int64
		Accounts []struct {
			AccountID string
			Records   int64
		}
	}
	run(&report, "audit", "verify", "--signing-keys", "--json")
	if len(report.Accounts) != 1 || report.Accounts[0].AccountID != "signing-keys" || report.Accounts[0].Records != 7 {
		t.Errorf("audit verify --signing-keys = %+v, want the signing-key log with 7 records", report)
	}
	run(nil, "audit", "verify")

	// The reserved account is no account of the CLI.
	if res := s.cli("audit", "list", "--account", "signing-keys"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("audit list --account signing-keys: exit %d, stderr %q; want account not found", res.ExitCode, res.Stderr)
	}
	var accounts struct{ Data []struct{ ID string } }
	run(&accounts, "account", "list", "--json")
	if len(accounts.Data) != 0 {
		t.Errorf("account list = %+v, want no account", accounts.Data)
	}

	// Someone who bypasses the trigger makes the EdDSA rotation appear to retire another key.
	rotation := records[4]
	s.edit(t, rotation.ID, first, "forged-kid")
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--signing-keys"}} {
		res := s.cli(args...)
		if res.ExitCode == 0 {
			t.Errorf("iogate %s after the edit: exit 0, want non-zero", strings.Join(args, " "))
		}
		for _, want := range []string{"signing-keys", "record 2", rotation.ID, "edited"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("iogate %s after the edit: stderr %q lacks %q", strings.Join(args, " "), res.Stderr, want)
			}
		}
	}
}

// TestPostgresNodeRoleSigningKeyLog checks that a node's database role, which rotates keys
// and appends to the signing-key log, cannot change or remove the log's records, as it
// cannot for an account's log.
func TestPostgresNodeRoleSigningKeyLog(t *testing.T) {
	node, owner := newPGNodeRoleDeployment(t)
	ownerURL, nodeURL := owner.dbURL, node.dbURL
	node.startNode(t, "a")
	node.cliJSON(t, nil, "signing-key", "rotate", "--activate-in", "0")

	const records = `SELECT COUNT(*) FROM audit_records WHERE account_id = 'signing-keys'`
	if n := pgtest.QueryInt(t, ownerURL, records); n != 2 {
		t.Fatalf("signing-key log after the server's start and a rotation: %d records, want 2", n)
	}
	for _, stmt := range []string{
		`UPDATE audit_records SET actor_id = 'someone else' WHERE account_id = 'signing-keys'`,
		`DELETE FROM audit_records WHERE account_id = 'signing-keys'`,
		`TRUNCATE audit_records CASCADE`,
		`DELETE FROM accounts WHERE id = 'signing-keys'`,
	} {
		if err := pgtest.ExecError(t, nodeURL, stmt); err == nil {
			t.Errorf("the node role ran %q, want it rejected", stmt)
		}
	}
	if n := pgtest.QueryInt(t, ownerURL, records); n != 2 {
		t.Errorf("signing-key log after the node role's attempts: %d records, want 2", n)
	}
	if res := testenv.RunCLI(t, node.cliDir, node.env(), "audit", "verify", "--signing-keys"); res.ExitCode != 0 {
		t.Errorf("audit verify --signing-keys: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
}
