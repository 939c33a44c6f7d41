package auth

import (
	"context"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// scanHookStore is a real SQLite store that runs a hook right after it reads the audit
// checkpoints or the audit records, as a write of another process could land between two
// statements of a verification. It also counts what each pruning transaction deleted.
type scanHookStore struct {
	*sqlite.DB
	afterCheckpoints func()
	afterRecords     func()
	// deleted holds how many records each successful PruneAuditRecords call deleted.
	deleted []int64
}

func (s *scanHookStore) PruneAuditRecords(ctx context.Context, cp *iogate.AuditCheckpoint) (int64, error) {
	n, err := s.DB.PruneAuditRecords(ctx, cp)
	if err == nil {
		s.deleted = append(s.deleted, n)
	}
	return n, err
}

func (s *scanHookStore) AuditCheckpoints(ctx context.Context, accountID string) ([]*iogate.AuditCheckpoint, error) {
	cps, err := s.DB.AuditCheckpoints(ctx, accountID)
	if hook := s.afterCheckpoints; hook != nil {
		s.afterCheckpoints = nil
		hook()
	}
	return cps, err
}

func (s *scanHookStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	err := s.DB.AuditRecords(ctx, accountID, fn)
	if hook := s.afterRecords; hook != nil {
		s.afterRecords = nil
		hook()
	}
	return err
}

// startHookedEngine starts an engine on a scanHookStore, with one account and one key
// whose three tokens add records to the log.
func startHookedEngine(t *testing.T) (*testEngine, *scanHookStore) {
	t.Helper()
	var store *scanHookStore
	e, k, secret := startWrappedEngine(t, nil, func(db *sqlite.DB) iogate.Store {
		store = &scanHookStore{DB: db}
		return store
	})
	for range 3 {
		e.issue(t, k.ClientID, secret)
	}
	return e, store
}

// laterNode returns an engine of another node on store whose clock is three days ahead,
// so that every record but the newest is older than the shortest retention.
func laterNode(t *testing.T, store iogate.Store) *Service {
	t.Helper()
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(72 * time.Hour) }
	svc, err := New(context.Background(), store, master, Config{Issuer: "https://iogate.test", Now: later})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// sweepRetention is the retention of the sweeps in these tests. laterNode's clock runs 72
// hours ahead, so the records that the tests write are older than it.
const sweepRetention = 48 * time.Hour

// pruneBy returns a hook that prunes the log as node's retention sweep does.
func pruneBy(t *testing.T, node *Service) func() {
	return func() {
		report, err := node.PruneAudit(context.Background(), sweepRetention)
		if err != nil || report.Records == 0 {
			t.Fatalf("PruneAudit by the other node = %+v, %v; want records pruned", report, err)
		}
	}
}

// TestVerifyAuditKeyCreatedDuringScan creates a key, with its key.created record, after
// VerifyAudit has read the audit records. Nothing was removed from the log, so the live
// store must verify: "iogate audit verify" runs beside a server that creates keys.
func TestVerifyAuditKeyCreatedDuringScan(t *testing.T) {
	ctx := context.Background()
	e, store := startHookedEngine(t)
	store.afterRecords = func() { e.createKey(t) }

	report, err := e.svc.VerifyAudit(ctx, "")
	if err != nil {
		t.Errorf("VerifyAudit while a key is created: %v; want no error, because no record was removed", err)
	}
	// The signing-key log holds the record of the key that the engine created at start.
	var verified int64 = -1
	for _, h := range report.Heads {
		if h.AccountID == e.accountID {
			verified = h.Records
		}
	}
	if verified != 5 {
		t.Errorf("VerifyAudit while a key is created: %d records of the account verified, want the 5 that existed when it began", verified)
	}
	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit after the key was created: %v", err)
	}
}

// TestVerifyAuditPrunedDuringScan lets the retention sweep of another node prune the
// account's log after VerifyAudit has read the checkpoints and before it reads the
// records. The pruning is legitimate and signed, so the log must verify.
func TestVerifyAuditPrunedDuringScan(t *testing.T) {
	ctx := context.Background()
	e, store := startHookedEngine(t)
	store.afterCheckpoints = pruneBy(t, laterNode(t, e.store))

	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit while another node prunes: %v; want no error, because the pruning is signed", err)
	}
	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit after the pruning: %v", err)
	}
}

// TestPruneAuditConcurrentSweeps runs the retention sweeps of two nodes at once: one node
// prunes the log after the other has read the checkpoints. Every node sweeps at start, so
// nodes started together do this. The later sweep must find nothing left to prune, not a
// broken chain.
func TestPruneAuditConcurrentSweeps(t *testing.T) {
	ctx := context.Background()
	e, store := startHookedEngine(t)
	nodeA := laterNode(t, store)
	store.afterCheckpoints = pruneBy(t, laterNode(t, e.store))

	if report, err := nodeA.PruneAudit(ctx, sweepRetention); err != nil {
		t.Errorf("PruneAudit by node A beside node B's sweep = %+v, %v; want no error, because the chain is intact", report, err)
	}
	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit after both sweeps: %v", err)
	}
}

// TestVerifyAuditDeletedKeyPruned deletes a key and lets retention prune its key.deleted
// record. The key's tombstone stays, but the account's checkpoint covers the deletion, so
// the log must verify.
func TestVerifyAuditDeletedKeyPruned(t *testing.T) {
	ctx := context.Background()
	e, store := startHookedEngine(t)
	deletedKey, _ := e.createKey(t)
	if err := e.svc.DeleteKey(ctx, deletedKey.ClientID); err != nil {
		t.Fatal(err)
	}
	k, secret := e.createKey(t)
	e.issue(t, k.ClientID, secret)
	pruneBy(t, laterNode(t, store))()

	filter := iogate.AuditFilter{AccountID: e.accountID, ClientID: deletedKey.ClientID, Event: iogate.AuditKeyDeleted}
	if recs, _, err := store.ListAuditRecords(ctx, filter, iogate.Page{Limit: 1}); err != nil || len(recs) != 0 {
		t.Fatalf("key.deleted records after pruning = %d, %v; want none", len(recs), err)
	}
	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit after pruning the key.deleted record: %v; want no error, because the checkpoint covers it", err)
	}
}

// TestPruneAuditBatches prunes a log several times longer than the batch size. Each
// transaction must delete at most a batch, and together they must prune every record but
// the newest, leaving a log that verifies.
func TestPruneAuditBatches(t *testing.T) {
	ctx := context.Background()
	saved := auditPruneBatch
	auditPruneBatch = 4
	t.Cleanup(func() { auditPruneBatch = saved })

	e, store := startHookedEngine(t)
	k, secret := e.createKey(t)
	for range 12 {
		e.issue(t, k.ClientID, secret)
	}
	var records int64
	if err := store.AuditRecords(ctx, e.accountID, func(*iogate.AuditRecord) error { records++; return nil }); err != nil {
		t.Fatal(err)
	}

	report, err := laterNode(t, store).PruneAudit(ctx, sweepRetention)
	if err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	var total int64
	for _, n := range store.deleted {
		if n > auditPruneBatch {
			t.Errorf("PruneAuditRecords deleted %d records in one transaction, want at most %d", n, auditPruneBatch)
		}
		total += n
	}
	if total != report.Records {
		t.Errorf("PruneAudit reported %d records pruned, the transactions deleted %d", report.Records, total)
	}
	if wantCalls := (records - 1 + auditPruneBatch - 1) / auditPruneBatch; int64(len(store.deleted)) < wantCalls {
		t.Errorf("PruneAudit pruned %d records of the account in %d transactions, want at least %d", records-1, len(store.deleted), wantCalls)
	}
	var left int64
	if err := store.AuditRecords(ctx, e.accountID, func(*iogate.AuditRecord) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 1 {
		t.Errorf("records of the account after PruneAudit = %d, want the newest alone", left)
	}
	if _, err := e.svc.VerifyAudit(ctx, ""); err != nil {
		t.Errorf("VerifyAudit after pruning in batches: %v", err)
	}
}
