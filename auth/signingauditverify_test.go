package auth

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// tamper runs statements on the SQLite file of e as an attacker with write access to the
// database would, bypassing the store. Each statement gets the arguments args.
func (e *testEngine) tamper(t *testing.T, args []any, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range statements {
		if _, err := db.ExecContext(context.Background(), stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// deleteSigningKeyRecords drops the append-only trigger and deletes the records of the
// signing-key log from sequence number from on.
func (e *testEngine) deleteSigningKeyRecords(t *testing.T, from int64) {
	t.Helper()
	e.tamper(t, []any{iogate.SigningKeyLogID, from},
		`DROP TRIGGER IF EXISTS audit_records_no_delete`,
		`DELETE FROM audit_records WHERE account_id = ? AND seq >= ?`)
}

// wantSigningKeyLogIncomplete checks that verifying every log, and the signing-key log
// alone, fails naming kid, while the account's log still verifies.
func (e *testEngine) wantSigningKeyLogIncomplete(t *testing.T, kid string) {
	t.Helper()
	ctx := context.Background()
	for _, accountID := range []string{"", iogate.SigningKeyLogID} {
		_, err := e.svc.VerifyAudit(ctx, accountID)
		if err == nil || !strings.Contains(err.Error(), "signing key "+kid+" ") {
			t.Errorf("VerifyAudit(%q) = %v, want an error naming signing key %s", accountID, err, kid)
		}
	}
	if _, err := e.svc.VerifyAudit(ctx, e.accountID); err != nil {
		t.Errorf("VerifyAudit of the account: %v, want no error, because its log is whole", err)
	}
}

// TestVerifyAuditSigningKeyRecordDeleted deletes the record that names a stored signing key
// from the end of the signing-key log, where the chain still verifies without it. Verify
// must name the key: a created record names it, as do a rotated record and a revoked
// record that names it as the replacement.
func TestVerifyAuditSigningKeyRecordDeleted(t *testing.T) {
	operator := iogate.WithActor(context.Background(), iogate.Actor{Type: iogate.ActorOperator, ID: "alice"})
	cases := []struct {
		name string
		// change changes the signing keys after the engine created its first one, and
		// returns the key whose record the test deletes with the records after it.
		change func(t *testing.T, e *testEngine) (kid string, seq int64)
	}{
		{"created", func(t *testing.T, e *testEngine) (string, int64) {
			return e.svc.Keyring().ActiveKeyID(), 1
		}},
		{"rotated", func(t *testing.T, e *testEngine) (string, int64) {
			k, err := e.svc.RotateSigningKey(operator, token.EdDSA, 0)
			if err != nil {
				t.Fatalf("RotateSigningKey: %v", err)
			}
			return k.KID, 2
		}},
		{"revocation replacement", func(t *testing.T, e *testEngine) (string, int64) {
			revocation, err := e.svc.RevokeSigningKey(operator, e.svc.Keyring().ActiveKeyID())
			if err != nil {
				t.Fatalf("RevokeSigningKey: %v", err)
			}
			if revocation.Replacement == nil {
				t.Fatal("RevokeSigningKey of the signing key returned no replacement")
			}
			return revocation.Replacement.KID, 2
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEngine(t)
			kid, seq := c.change(t, e)
			if _, err := e.svc.VerifyAudit(context.Background(), ""); err != nil {
				t.Fatalf("VerifyAudit before the deletion: %v", err)
			}

			e.deleteSigningKeyRecords(t, seq)
			e.wantSigningKeyLogIncomplete(t, kid)
		})
	}
}

// TestVerifyAuditSigningKeyInserted inserts a retired signing key with an attacker's
// public key and no record, as someone who wants tokens that they sign to verify would.
// Verify must name it. Backdated to before the log existed, the key passes, because keys
// from before the upgrade have no records either, and the report lists it.
func TestVerifyAuditSigningKeyInserted(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	logCreated, err := e.store.SigningKeyLogCreatedAt(ctx)
	if err != nil {
		t.Fatalf("SigningKeyLogCreatedAt: %v", err)
	}
	// The attacker has no master key, so the private key is sealed under one of theirs.
	// Servers only publish a retired key, so they never unseal it.
	attackerMaster, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	insert := func(created time.Time) string {
		t.Helper()
		k, err := token.GenerateSigningKey(token.EdDSA, attackerMaster, created)
		if err != nil {
			t.Fatal(err)
		}
		e.tamper(t, []any{k.KID, k.PrivateKeyEncrypted, string(k.PublicJWK), created.UnixMicro(), created.Add(time.Minute).UnixMicro()},
			`INSERT INTO signing_keys (kid, algorithm, private_key_sealed, public_jwk, created_at, active_at, retired_at)
			 VALUES (?1, 'EdDSA', ?2, ?3, ?4, ?4, ?5)`)
		return k.KID
	}

	forged := insert(time.Now())
	e.wantSigningKeyLogIncomplete(t, forged)

	e.tamper(t, []any{forged}, `DELETE FROM signing_keys WHERE kid = ?`)
	backdated := insert(logCreated.Add(-24 * time.Hour))
	report, err := e.svc.VerifyAudit(ctx, "")
	if err != nil {
		t.Fatalf("VerifyAudit with a key backdated to before the log: %v, want no error", err)
	}
	if want := []string{backdated}; !slices.Equal(report.SigningKeysWithoutRecord, want) {
		t.Errorf("VerifyAudit SigningKeysWithoutRecord = %v, want %v", report.SigningKeysWithoutRecord, want)
	}
}

// TestVerifyAuditSigningKeyRecordPruned lets retention prune the record of the first
// signing key. The key is older than the checkpoint, so the log must verify, and the
// report lists the key as one without a record.
func TestVerifyAuditSigningKeyRecordPruned(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	first := e.svc.Keyring().ActiveKeyID()
	operator := iogate.WithActor(ctx, iogate.Actor{Type: iogate.ActorOperator, ID: "alice"})
	if _, err := e.svc.RotateSigningKey(operator, token.EdDSA, 0); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	pruneBy(t, laterNode(t, e.store))()

	report, err := e.svc.VerifyAudit(ctx, iogate.SigningKeyLogID)
	if err != nil {
		t.Fatalf("VerifyAudit after retention pruned the first key's record: %v, want no error", err)
	}
	if want := []string{first}; !slices.Equal(report.SigningKeysWithoutRecord, want) {
		t.Errorf("VerifyAudit SigningKeysWithoutRecord = %v, want %v", report.SigningKeysWithoutRecord, want)
	}
}

// TestVerifyAuditSigningKeyLogAccountDeleted deletes the signing-key log together with its
// reserved account row, so that no creation time of the log remains. Verify must fail.
func TestVerifyAuditSigningKeyLogAccountDeleted(t *testing.T) {
	e := newTestEngine(t)
	e.deleteSigningKeyRecords(t, 1)
	e.tamper(t, []any{iogate.SigningKeyLogID}, `DELETE FROM accounts WHERE id = ?`)

	for _, accountID := range []string{"", iogate.SigningKeyLogID} {
		_, err := e.svc.VerifyAudit(context.Background(), accountID)
		if err == nil || !strings.Contains(err.Error(), "account row \"signing-keys\" of the signing-key log is missing") {
			t.Errorf("VerifyAudit(%q) without the log's account row = %v, want an error naming the missing row", accountID, err)
		}
	}
}

// TestVerifyAuditSigningKeyPublicKeyReplaced replaces the public key of a stored signing
// key with another key's, keeping the recorded KID. Servers would then accept tokens that
// the other key signed, so verify must report that the key does not match its KID.
func TestVerifyAuditSigningKeyPublicKeyReplaced(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	keys, err := e.store.SigningKeys(ctx)
	if err != nil || len(keys) == 0 {
		t.Fatalf("SigningKeys = %d keys, %v; want the engine's key", len(keys), err)
	}
	victim := keys[0]
	otherMaster, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := token.GenerateSigningKey(token.EdDSA, otherMaster, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.tamper(t, []any{string(other.PublicJWK), victim.KID}, `UPDATE signing_keys SET public_jwk = ?1 WHERE kid = ?2`)

	_, err = e.svc.VerifyAudit(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "signing key "+victim.KID+" ") || !strings.Contains(err.Error(), "does not match its KID") {
		t.Errorf("VerifyAudit after the public key of %s was replaced = %v, want an error that it does not match its KID", victim.KID, err)
	}
}
