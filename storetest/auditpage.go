package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// auditPageCases check the paged reading of a log that dashboard exports use.
var auditPageCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"AuditRecordsAfter", testAuditRecordsAfter},
	{"EachAuditRecordStopsAtNewest", testEachAuditRecordStopsAtNewest},
	{"EachAuditRecordPrunedDuring", testEachAuditRecordPrunedDuring},
}

// appendAuditRecords appends n key.updated records by an operator to accountID's log.
func appendAuditRecords(t *testing.T, s iogate.Store, accountID string, n int) {
	t.Helper()
	batch := make([]*iogate.AuditRecord, n)
	for i := range batch {
		r, err := chain.NewRecord(accountID, iogate.AuditKeyUpdated, iogate.Actor{Type: iogate.ActorOperator, ID: "alice"}, base, nil)
		must(t, "NewRecord", err)
		batch[i] = r
	}
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctxFor(t), batch))
}

// seqs returns the sequence numbers of records, in order.
func seqs(records []*iogate.AuditRecord) []int64 {
	out := make([]int64, len(records))
	for i, r := range records {
		out[i] = r.Seq
	}
	return out
}

func testAuditRecordsAfter(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	// Each account starts with its account.created record at sequence number 1.
	appendAuditRecords(t, s, a.ID, 6)
	appendAuditRecords(t, s, other.ID, 3)
	all := allAuditRecords(t, s, a.ID)

	cases := []struct {
		account string
		after   int64
		limit   int
		want    []int64
	}{
		{a.ID, 0, 3, []int64{1, 2, 3}},
		{a.ID, 3, 3, []int64{4, 5, 6}},
		{a.ID, 6, 3, []int64{7}},
		{a.ID, 7, 3, []int64{}},
		{a.ID, 2, 100, []int64{3, 4, 5, 6, 7}},
		{other.ID, 0, 100, []int64{1, 2, 3, 4}},
		{iogate.NewID(), 0, 100, []int64{}},
	}
	for _, c := range cases {
		got, err := s.AuditRecordsAfter(ctx, c.account, c.after, c.limit)
		must(t, "AuditRecordsAfter", err)
		if got == nil {
			t.Errorf("AuditRecordsAfter(after %d, limit %d) = nil, want an empty list", c.after, c.limit)
		}
		if diff := cmp.Diff(c.want, seqs(got)); diff != "" {
			t.Errorf("AuditRecordsAfter(after %d, limit %d) sequence numbers (-want +got):\n%s", c.after, c.limit, diff)
		}
		for _, r := range got {
			if r.AccountID != c.account {
				t.Errorf("AuditRecordsAfter(%s) returned a record of account %s", c.account, r.AccountID)
			}
		}
	}
	// The records are those that AuditRecords reads, field for field.
	paged, err := s.AuditRecordsAfter(ctx, a.ID, 0, 100)
	must(t, "AuditRecordsAfter", err)
	if diff := recordDiff(all, paged); diff != "" {
		t.Errorf("AuditRecordsAfter differs from AuditRecords (-AuditRecords +AuditRecordsAfter):\n%s", diff)
	}
}

// testEachAuditRecordStopsAtNewest checks that EachAuditRecord passes on every record of
// the account, across several pages, and none appended after it began.
func testEachAuditRecordStopsAtNewest(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	const records = 1200 // more than two pages of EachAuditRecord
	appendAuditRecords(t, s, a.ID, records-1)
	want := allAuditRecords(t, s, a.ID)

	var got []*iogate.AuditRecord
	err := iogate.EachAuditRecord(ctx, s, a.ID, func(r *iogate.AuditRecord) error {
		if len(got) == 0 {
			appendAuditRecords(t, s, a.ID, 2)
		}
		got = append(got, r)
		return nil
	})
	must(t, "EachAuditRecord", err)
	if len(got) != records {
		t.Fatalf("EachAuditRecord passed on %d records, want the %d that existed when it began", len(got), records)
	}
	if diff := recordDiff(want, got); diff != "" {
		t.Errorf("EachAuditRecord differs from AuditRecords (-AuditRecords +EachAuditRecord):\n%s", diff)
	}
	if n := len(allAuditRecords(t, s, a.ID)); n != records+2 {
		t.Errorf("the log holds %d records, want %d", n, records+2)
	}
}

// testEachAuditRecordPrunedDuring checks that EachAuditRecord fails with CodeConflict when
// retention prunes records that it has not passed on yet, rather than skip them and leave
// a gap in the export.
func testEachAuditRecordPrunedDuring(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	appendAuditRecords(t, s, a.ID, 1199) // more than two pages of EachAuditRecord
	all := allAuditRecords(t, s, a.ID)
	// The checkpoint lies past the first page, so the records after that page up to it
	// disappear while the export runs.
	prunedThrough := all[len(all)-100]

	passed := 0
	err := iogate.EachAuditRecord(ctx, s, a.ID, func(r *iogate.AuditRecord) error {
		if passed == 0 {
			_, err := s.PruneAuditRecords(ctx, chain.NewCheckpoint(prunedThrough, base.Add(time.Hour)))
			must(t, "PruneAuditRecords", err)
		}
		passed++
		return nil
	})
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeConflict {
		t.Fatalf("EachAuditRecord with records pruned during it: error %v (code %q), want code %q", err, code, iogate.CodeConflict)
	}
	if passed >= len(all) {
		t.Errorf("EachAuditRecord passed on %d records, want fewer than the %d of the log", passed, len(all))
	}
}
