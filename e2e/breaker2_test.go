package e2e

// Tests for weaknesses found by a second adversarial review of the signing-key log, the
// other changes merged with it.

import (
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/testenv"
)

// TestAuditVerifyDetectsDeletedSigningKeyLog removes every record of the signing-key log
// while the signing key that the server created at start is still stored. Verify must
// fail, as it does for an account whose keys lost their key.created records.
func TestAuditVerifyDetectsDeletedSigningKeyLog(t *testing.T) {
	f := newFixture(t, testenv.Options{HTTPListen: "-"})
	dir := f.srv.DataDir
	f.srv.Stop()

	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	var records int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_records WHERE account_id = ?`, iogate.SigningKeyLogID).Scan(&records); err != nil {
		t.Fatal(err)
	}
	if records == 0 {
		t.Fatal("the signing-key log holds no record after the server created its signing key")
	}
	if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_records_no_delete`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_records WHERE account_id = ?`, iogate.SigningKeyLogID); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--signing-keys"}} {
		if out := testenv.RunCLI(t, dir, nil, args...); out.ExitCode == 0 {
			t.Errorf("iogate %v after deleting the signing-key log: exit 0, stdout %q", args, out.Stdout)
		}
	}
}

// TestAuditVerifyDeletedChainWithoutKeys removes every audit record of an account whose
// only key was deleted. No key is left to miss its key.created record, but the key's
// tombstone remains, and its key.deleted record must be in the log. Verify must fail.
func TestAuditVerifyDeletedChainWithoutKeys(t *testing.T) {
	dir := newDataDir(t)
	accountID := createAccount(t, dir, "Acme Custody", "ops@acme.test")
	k := createKey(t, dir, accountID, "ci")
	testenv.CLIJSON(t, dir, nil, "key", "delete", k.ClientID)

	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	if _, err := db.ExecContext(ctx, `DROP TRIGGER audit_records_no_delete`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_records WHERE account_id = ?`, accountID); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--account", accountID}} {
		if out := testenv.RunCLI(t, dir, nil, args...); out.ExitCode == 0 {
			t.Errorf("iogate %v after deleting the log of an account with a deleted key: exit 0, stdout %q", args, out.Stdout)
		}
	}
}
