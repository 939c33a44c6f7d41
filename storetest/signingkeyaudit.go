package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// signingKeyAuditCases check that every change of the signing keys passes what it did to
// its recorder and appends the records to the signing-key log in its own transaction, and
// that the stores hide the log's reserved account.
var signingKeyAuditCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"SigningKeyAuditRecords", testSigningKeyAuditRecords},
	{"SigningKeyAuditFailureChangesNothing", testSigningKeyAuditFailure},
	{"SigningKeyLogAccountHidden", testSigningKeyLogAccountHidden},
	{"SigningKeyLogCreatedAt", testSigningKeyLogCreatedAt},
}

// recordSigningKeyChange is the suite's iogate.SigningKeyRecorder: it returns one record of
// the change's event in the signing-key log.
func recordSigningKeyChange(c iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) {
	r, err := chain.NewRecord(iogate.SigningKeyLogID, c.Event, iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}, base, nil)
	if err != nil {
		return nil, err
	}
	return []*iogate.AuditRecord{r}, nil
}

// signingKeyChanges collects the changes that a store passes to its recorder.
type signingKeyChanges []iogate.SigningKeyChange

func (c *signingKeyChanges) record(change iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) {
	*c = append(*c, change)
	return recordSigningKeyChange(change)
}

// retiredAt returns a copy of k retired at at.
func retiredAt(k *iogate.SigningKey, at time.Time) *iogate.SigningKey {
	retired := *k
	retired.RetiredAt = at
	return &retired
}

// signingKeyLog returns the events of the signing-key log, oldest first, and fails the test
// unless the log's chain verifies.
func signingKeyLog(t *testing.T, s iogate.Store) []string {
	t.Helper()
	var events []string
	v := chain.NewVerifier()
	must(t, "AuditRecords(signing-key log)", s.AuditRecords(ctxFor(t), iogate.SigningKeyLogID, func(r *iogate.AuditRecord) error {
		events = append(events, r.Event)
		return v.Add(r)
	}))
	return events
}

// testSigningKeyAuditRecords creates, rotates, retires and revokes signing keys, and checks
// what each change passed to its recorder and the records that the signing-key log holds
// afterwards.
func testSigningKeyAuditRecords(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	var changes signingKeyChanges
	ed := signingKey("ed", "EdDSA", base, time.Time{})
	rs := signingKey("rs", "RS256", base, time.Time{})
	must(t, "CreateSigningKey(ed)", s.CreateSigningKey(ctx, ed, changes.record))
	must(t, "CreateSigningKey(rs)", s.CreateSigningKey(ctx, rs, changes.record))

	// The rotation retires ed when edNext activates, and the retirement then retires
	// edNext. ed is left alone, because it is retired before then already.
	edNext := signingKey("ed-next", "EdDSA", base.Add(time.Hour), time.Time{})
	must(t, "RotateSigningKey", s.RotateSigningKey(ctx, edNext, changes.record))
	_, err := s.RetireSigningKeys(ctx, "EdDSA", base.Add(2*time.Hour), changes.record)
	must(t, "RetireSigningKeys", err)

	rsNew := signingKey("rs-new", "RS256", base, time.Time{})
	revokedAt := base.Add(30 * time.Minute)
	_, inserted, err := s.RevokeSigningKey(ctx, "rs", revokedAt, rsNew, changes.record)
	must(t, "RevokeSigningKey", err)

	want := signingKeyChanges{
		{Event: iogate.AuditSigningKeyCreated, Key: ed},
		{Event: iogate.AuditSigningKeyCreated, Key: rs},
		{Event: iogate.AuditSigningKeyRotated, Key: edNext, Retired: []*iogate.SigningKey{retiredAt(ed, edNext.ActiveAt)}},
		{Event: iogate.AuditSigningKeyRetired, Retired: []*iogate.SigningKey{retiredAt(edNext, base.Add(2*time.Hour))}},
		{Event: iogate.AuditSigningKeyRevoked, Key: rs, Replacement: inserted},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes passed to the recorders (-want +got):\n%s", diff)
	}
	if inserted == nil || inserted.KID != "rs-new" || !inserted.ActiveAt.Equal(revokedAt) {
		t.Errorf("RevokeSigningKey inserted %+v, want rs-new signing from %s", inserted, revokedAt)
	}

	wantEvents := []string{iogate.AuditSigningKeyCreated, iogate.AuditSigningKeyCreated, iogate.AuditSigningKeyRotated,
		iogate.AuditSigningKeyRetired, iogate.AuditSigningKeyRevoked}
	if diff := cmp.Diff(wantEvents, signingKeyLog(t, s)); diff != "" {
		t.Errorf("events of the signing-key log (-want +got):\n%s", diff)
	}
}

// testSigningKeyAuditFailure checks that a change of the signing keys whose recorder fails,
// is missing or returns records that are not the change's writes nothing: no key, no
// signing-keys change and no audit record.
func testSigningKeyAuditFailure(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	for _, k := range []*iogate.SigningKey{signingKey("ed", "EdDSA", base, time.Time{}), signingKey("rs", "RS256", base, time.Time{})} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, k, recordSigningKeyChange))
	}
	a := newAccount(t, s)
	keysBefore := storedSigningKeys(t, s)
	seq, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	errRecorder := errors.New("recorder failed")
	recorders := []struct {
		name   string
		record iogate.SigningKeyRecorder
		want   func(err error) bool
	}{
		{"failing", func(iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) { return nil, errRecorder },
			func(err error) bool { return errors.Is(err, errRecorder) }},
		{"nil", nil, isInternal},
		{"without records", func(iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) { return nil, nil }, isInternal},
		{"of an account's log", func(c iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) {
			r, err := chain.NewRecord(a.ID, c.Event, iogate.Actor{Type: iogate.ActorOperator, ID: "storetest"}, base, nil)
			return []*iogate.AuditRecord{r}, err
		}, isInternal},
		{"of another event", func(iogate.SigningKeyChange) ([]*iogate.AuditRecord, error) {
			return recordSigningKeyChange(iogate.SigningKeyChange{Event: iogate.AuditLogExported})
		}, isInternal},
	}
	changes := []struct {
		name string
		fn   func(record iogate.SigningKeyRecorder) error
	}{
		{"CreateSigningKey", func(record iogate.SigningKeyRecorder) error {
			return s.CreateSigningKey(ctx, signingKey("new", "EdDSA", base, time.Time{}), record)
		}},
		{"RotateSigningKey", func(record iogate.SigningKeyRecorder) error {
			return s.RotateSigningKey(ctx, signingKey("next", "EdDSA", base.Add(time.Hour), time.Time{}), record)
		}},
		{"RetireSigningKeys", func(record iogate.SigningKeyRecorder) error {
			_, err := s.RetireSigningKeys(ctx, "EdDSA", base.Add(time.Hour), record)
			return err
		}},
		{"RevokeSigningKey", func(record iogate.SigningKeyRecorder) error {
			_, _, err := s.RevokeSigningKey(ctx, "ed", base.Add(time.Hour), signingKey("replacement", "EdDSA", base, time.Time{}), record)
			return err
		}},
	}
	for _, c := range changes {
		for _, r := range recorders {
			if err := c.fn(r.record); !r.want(err) {
				t.Errorf("%s with a recorder %s: error %v (code %q), want the recorder's failure or an internal error",
					c.name, r.name, err, iogate.ErrorCodeOf(err))
			}
		}
	}

	if diff := cmp.Diff(keysBefore, storedSigningKeys(t, s)); diff != "" {
		t.Errorf("failed changes changed the signing keys (-before +after):\n%s", diff)
	}
	after, err := s.KeyChangesSince(ctx, seq)
	must(t, "KeyChangesSince", err)
	if len(after) != 0 {
		t.Errorf("failed changes recorded key changes %+v, want none", after)
	}
	if events := signingKeyLog(t, s); len(events) != 2 {
		t.Errorf("signing-key log after failed changes = %v, want the 2 records of the creations", events)
	}
}

func isInternal(err error) bool { return iogate.ErrorCodeOf(err) == iogate.CodeInternal }

// testSigningKeyLogAccountHidden checks that the reserved account of the signing-key log is
// never found, counted, listed or suspended as an account, while its log takes records and
// retention prunes it like an account's.
func testSigningKeyLogAccountHidden(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	_, err := s.FindAccountByID(ctx, iogate.SigningKeyLogID)
	wantCode(t, "FindAccountByID(signing-key log)", err, iogate.CodeNotFound)
	suspend := record(t, iogate.SigningKeyLogID, iogate.AccountStatusEvent(iogate.AccountSuspended), "")
	err = s.SetAccountStatus(ctx, iogate.SigningKeyLogID, iogate.AccountSuspended, suspend)
	wantCode(t, "SetAccountStatus(signing-key log, suspended)", err, iogate.CodeNotFound)
	suspended, err := s.SuspendedAccounts(ctx)
	must(t, "SuspendedAccounts", err)
	if len(suspended) != 0 {
		t.Errorf("SuspendedAccounts after suspending the signing-key log = %v, want none", suspended)
	}

	a := newAccount(t, s)
	n, err := s.CountAccounts(ctx)
	must(t, "CountAccounts", err)
	if n != 1 {
		t.Errorf("CountAccounts with one account = %d, want 1", n)
	}
	accounts, next, err := s.ListAccounts(ctx, iogate.Page{Limit: 10})
	must(t, "ListAccounts", err)
	if len(accounts) != 1 || accounts[0].ID != a.ID || next != "" {
		t.Errorf("ListAccounts = %d accounts (first %+v), next %q; want only %s", len(accounts), accounts, next, a.ID)
	}

	// An export of the log appends a record to it, and retention prunes it.
	var exports []*iogate.AuditRecord
	for range 3 {
		exports = append(exports, record(t, iogate.SigningKeyLogID, iogate.AuditLogExported, ""))
	}
	must(t, "AppendAuditRecords(signing-key log)", s.AppendAuditRecords(ctx, exports))
	pruned, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(exports[1], base))
	must(t, "PruneAuditRecords(signing-key log)", err)
	if pruned != 2 {
		t.Errorf("PruneAuditRecords(signing-key log) deleted %d records, want 2", pruned)
	}
	checkpoints, err := s.AuditCheckpoints(ctx, iogate.SigningKeyLogID)
	must(t, "AuditCheckpoints(signing-key log)", err)
	if len(checkpoints) != 1 || checkpoints[0].Seq != 2 {
		t.Errorf("AuditCheckpoints(signing-key log) = %+v, want one at record 2", checkpoints)
	}
}

// testSigningKeyLogCreatedAt checks that the creation time of the signing-key log is the
// time at which the migrations of the fresh store ran, to the second. The accounts that
// the test creates afterwards leave it unchanged.
func testSigningKeyLogCreatedAt(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	after := time.Now()
	created, err := s.SigningKeyLogCreatedAt(ctx)
	must(t, "SigningKeyLogCreatedAt", err)
	// The store was migrated when the test opened it. SQLite stores the migration's time
	// in whole seconds, and a busy machine may take a while to open a database.
	if created.After(after) || created.Before(after.Add(-10*time.Minute)) {
		t.Errorf("SigningKeyLogCreatedAt = %v, want the time the store was opened, shortly before %v", created, after)
	}
	if loc := created.Location(); loc != time.UTC {
		t.Errorf("SigningKeyLogCreatedAt location = %v, want UTC", loc)
	}

	newAccount(t, s)
	again, err := s.SigningKeyLogCreatedAt(ctx)
	must(t, "SigningKeyLogCreatedAt after an account's creation", err)
	if !again.Equal(created) {
		t.Errorf("SigningKeyLogCreatedAt after an account's creation = %v, want %v", again, created)
	}
}

// RunSigningKeyLogUpgrade fills s with the chains of two accounts, one of them pruned to a
// checkpoint, and then calls remigrate. remigrate must take the database back to the
// schema before the signing-key log's account, apply the migrations again and return the
// store on the result. The accounts' records and checkpoints must come out unchanged and
// verify, and the signing-key log must then take records.
func RunSigningKeyLogUpgrade(t *testing.T, s iogate.Store, remigrate func(t *testing.T) iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	a, b := newAccount(t, s), newAccount(t, s)
	var batch []*iogate.AuditRecord
	for _, id := range []string{a.ID, a.ID, a.ID, b.ID} {
		batch = append(batch, record(t, id, iogate.AuditTokenIssued, "key"))
	}
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, batch))
	_, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(batch[0], base))
	must(t, "PruneAuditRecords", err)

	// readLog returns every record and checkpoint of s, after checking that they verify.
	readLog := func(s iogate.Store) ([]*iogate.AuditRecord, []*iogate.AuditCheckpoint) {
		t.Helper()
		checkpoints, err := s.AuditCheckpoints(ctx, "")
		must(t, "AuditCheckpoints", err)
		v := chain.NewVerifier()
		for _, cp := range checkpoints {
			must(t, "AuditVerifier.Start", v.Start(cp))
		}
		var records []*iogate.AuditRecord
		must(t, "AuditRecords", s.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
			records = append(records, r)
			return v.Add(r)
		}))
		return records, checkpoints
	}
	recordsBefore, checkpointsBefore := readLog(s)

	s = remigrate(t)
	recordsAfter, checkpointsAfter := readLog(s)
	if diff := cmp.Diff(recordsBefore, recordsAfter, cmp.AllowUnexported(iogate.AuditRecord{})); diff != "" {
		t.Errorf("audit records after the migration (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(checkpointsBefore, checkpointsAfter); diff != "" {
		t.Errorf("audit checkpoints after the migration (-before +after):\n%s", diff)
	}
	n, err := s.CountAccounts(ctx)
	must(t, "CountAccounts", err)
	if n != 2 {
		t.Errorf("CountAccounts after the migration = %d, want the 2 accounts", n)
	}
	must(t, "CreateSigningKey after the migration", s.CreateSigningKey(ctx, signingKey("ed", "EdDSA", base, time.Time{}), recordSigningKeyChange))
	if events := signingKeyLog(t, s); len(events) != 1 {
		t.Errorf("signing-key log after the migration and a key's creation = %v, want one record", events)
	}
}
