package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/metrics"
)

// Bounds of the audit group commit. maxAuditBatch is the most records one transaction
// appends. Beyond maxAuditPending queued records, records that no caller waits for are
// dropped.
const (
	maxAuditBatch   = 512
	maxAuditPending = 10_000
)

// denialDelay is the mean wait of a queued denial before the writer takes it: a random
// wait from half of it to one and a half times it. Only a known client ID's denial costs a
// transaction, so writing it right after the request would show by timing that the ID exists.
const denialDelay = 100 * time.Millisecond

// auditCommitter writes audit records with group commit. Callers add records to a queue,
// and one writer goroutine at a time appends everything queued in a single transaction.
// While a transaction commits, new records queue up for the next one, so under load many
// records share one commit (and its fsync) and with no load a record is written at once,
// without waiting for a timer. The writer goroutine exists only while the queue is not
// empty.
type auditCommitter struct {
	store   iogate.Store
	chain   *iogate.AuditChain
	log     *slog.Logger
	metrics *metrics.Metrics
	// timeout bounds each transaction. A request waits for its record at most the store
	// timeout, so a transaction that takes longer has no request left waiting that was
	// queued before it began, and it would only hold up the records queued behind it.
	timeout time.Duration

	mu      sync.Mutex
	pending []pendingAudit
	denials []denial
	// denialsDue is set once the queued denials have waited, and the writer takes denials
	// only then. denialTimer sets it. denialDelay is the constant of that name outside tests.
	denialDelay time.Duration
	denialsDue  bool
	denialTimer *time.Timer
	running     bool
	// idle is closed when the running writer exits.
	idle    chan struct{}
	dropped int
}

type pendingAudit struct {
	rec *iogate.AuditRecord
	// done receives the commit's outcome.
	done chan error
}

// denial is a denied token or API request, or an address block or unblock, whose audit
// record the writer builds. A token request for a client ID that no account holds queues a
// denial with no account ID, which the writer discards. Both kinds cost the request the same
// work (a copy of the client ID, the queue's lock and an append), so the response time does
// not reveal whether a client ID exists.
type denial struct {
	// event is iogate.AuditTokenDenied, iogate.AuditAccessDenied for an API request, or
	// iogate.AuditAddressBlocked or iogate.AuditAddressUnblocked.
	event     string
	accountID string
	clientID  string
	// tokenID is the ID of the access token of an API request.
	tokenID string
	reason  string
	remote  netip.Addr
	at      time.Time
	// actor, when its Type is set, is the record's actor in place of the client that
	// clientID and remote name. details are the record's details. The writer encodes
	// them, so the caller must not change them after the denial is queued.
	actor   iogate.Actor
	details map[string]any
}

func newAuditCommitter(store iogate.Store, chain *iogate.AuditChain, log *slog.Logger, m *metrics.Metrics, timeout time.Duration) *auditCommitter {
	return &auditCommitter{store: store, chain: chain, log: log, metrics: m, timeout: timeout, denialDelay: denialDelay}
}

// commit queues rec and returns once the transaction holding it has committed, with that
// transaction's error, or once ctx ends or timeout (when positive) passes, with ctx's cause
// or a *StoreTimeoutError. When the wait ends first and withdraw is set, a record that is
// still queued is taken out of the queue and never written: token issuance sets it,
// because it then hands out no token for the record to show. Otherwise, and for a record
// that is already in a transaction, the record is written or fails whether or not its
// caller still waits.
func (c *auditCommitter) commit(ctx context.Context, rec *iogate.AuditRecord, withdraw bool, timeout time.Duration) error {
	done := make(chan error, 1)
	c.mu.Lock()
	c.pending = append(c.pending, pendingAudit{rec: rec, done: done})
	c.startLocked()
	c.mu.Unlock()

	// Token issuance waits here once per token, so the bound is a pooled timer rather
	// than a context of its own, which would cost allocations on every request.
	var expired <-chan time.Time
	if timeout > 0 {
		t := waitTimers.Get().(*time.Timer)
		t.Reset(timeout)
		defer func() {
			t.Stop()
			waitTimers.Put(t)
		}()
		expired = t.C
	}
	var cause error
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		cause = context.Cause(ctx)
	case <-expired:
		cause = &StoreTimeoutError{Timeout: timeout}
	}
	if withdraw && c.withdraw(done) {
		return cause
	}
	// The transaction may have ended at the same moment as the wait.
	select {
	case err := <-done:
		return err
	default:
		return cause
	}
}

// waitTimers holds stopped timers for commit. Since Go 1.23 a stopped timer's channel
// delivers nothing stale, so a timer can be reset and reused.
var waitTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// withdraw takes the record whose caller waits on done out of the queue and reports
// whether it was still there. The queue holds one record per waiting caller, so the search
// costs only a caller whose wait has timed out.
func (c *auditCommitter) withdraw(done chan error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.pending {
		if p.done == done {
			c.pending = slices.Delete(c.pending, i, i+1)
			return true
		}
	}
	return false
}

// deny queues d without waiting for its record, which the writer takes after denialDelay
// (see there). When the queue is full, d is dropped, and counted for the warning that the
// writer logs unless d has no account and would not have been written.
func (c *auditCommitter) deny(d denial) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.denials) >= maxAuditPending {
		if d.accountID != "" {
			c.dropped++
		}
		return
	}
	c.denials = append(c.denials, d)
	c.scheduleDenialsLocked()
}

// scheduleDenialsLocked starts the timer that makes the queued denials due, unless they are
// due or the timer runs already. The caller holds mu.
func (c *auditCommitter) scheduleDenialsLocked() {
	if c.denialsDue || c.denialTimer != nil {
		return
	}
	wait := c.denialDelay / 2
	if c.denialDelay > 0 {
		wait += rand.N(c.denialDelay)
	}
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		// A timer that flush stopped too late finds another timer, or none, in its place.
		if c.denialTimer != t {
			return
		}
		c.denialTimer = nil
		c.denialsDue = true
		c.startLocked()
	})
	c.denialTimer = t
}

func (c *auditCommitter) startLocked() {
	if c.running {
		return
	}
	c.running = true
	c.idle = make(chan struct{})
	go c.write()
}

// write appends queued records batch by batch until the queue is empty.
func (c *auditCommitter) write() {
	for {
		c.mu.Lock()
		n := min(len(c.pending), maxAuditBatch)
		m := 0
		if c.denialsDue {
			m = min(len(c.denials), maxAuditBatch-n)
		}
		if n == 0 && m == 0 {
			c.running = false
			close(c.idle)
			c.mu.Unlock()
			return
		}
		batch := c.pending[:n:n]
		c.pending = c.pending[n:]
		denials := c.denials[:m:m]
		c.denials = c.denials[m:]
		// Once every due denial is taken, later ones wait for a timer of their own.
		if c.denialsDue && len(c.denials) == 0 {
			c.denialsDue = false
		}
		dropped := c.dropped
		c.dropped = 0
		c.mu.Unlock()

		if dropped > 0 {
			c.log.Warn("audit queue full; records that no request waited for dropped", "dropped", dropped)
		}
		c.writeBatch(batch, denials)
	}
}

func (c *auditCommitter) writeBatch(batch []pendingAudit, denials []denial) {
	records := make([]*iogate.AuditRecord, len(batch), len(batch)+len(denials))
	for i, p := range batch {
		records[i] = p.rec
	}
	unwaited := 0
	for _, d := range denials {
		if d.accountID == "" {
			continue
		}
		actor := d.actor
		if actor.Type == "" {
			actor = clientActor(d.clientID, d.remote)
		}
		rec, err := c.chain.NewRecord(d.accountID, d.event, actor, d.at, d.details)
		if err != nil {
			c.log.Error("build audit record failed", "client_id", d.clientID, "event", d.event, "error", err)
			continue
		}
		rec.ClientID, rec.TokenID, rec.Reason = d.clientID, d.tokenID, d.reason
		records = append(records, rec)
		unwaited++
	}
	if len(records) == 0 {
		return
	}
	// The batch belongs to many requests, so no single request's context may cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	start := time.Now()
	err := c.store.AppendAuditRecords(ctx, records)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The callers' own bounds end at about the same moment, and whichever error a
		// caller sees first names the timeout.
		err = fmt.Errorf("%w: %w", &StoreTimeoutError{Timeout: c.timeout}, err)
	}
	cancel()
	if err == nil {
		c.metrics.AuditCommitted(len(records), time.Since(start))
	}

	for _, p := range batch {
		p.done <- err
	}
	if err != nil && unwaited > 0 {
		c.log.Error("write audit records failed; records that no request waited for lost", "records", unwaited, "error", err)
	}
}

// flush writes the queued denials without waiting for denialDelay, and waits until the
// queue is empty or ctx ends.
func (c *auditCommitter) flush(ctx context.Context) {
	c.mu.Lock()
	if c.denialTimer != nil {
		c.denialTimer.Stop()
		c.denialTimer = nil
	}
	if len(c.denials) > 0 {
		c.denialsDue = true
		c.startLocked()
	}
	running, idle := c.running, c.idle
	c.mu.Unlock()
	if !running {
		return
	}
	select {
	case <-idle:
	case <-ctx.Done():
		c.log.Warn("audit records still queued at shutdown", "error", ctx.Err())
	}
}

// newRecord returns an audit record of event for the account, by actor, at the engine's
// current time.
func (s *Service) newRecord(accountID, event string, actor iogate.Actor, details map[string]any) (*iogate.AuditRecord, error) {
	return s.chain.NewRecord(accountID, event, actor, s.now(), details)
}

// AuditReport is the outcome of VerifyAudit: how many records verified, and the head of
// each account's chain.
type AuditReport struct {
	Records int64              `json:"records"`
	Heads   []iogate.AuditHead `json:"accounts"`
	// SigningKeysWithoutRecord lists the KIDs of the stored signing keys that no record of
	// the signing-key log names and that verification exempts, because they were created
	// before the log existed or before its retention checkpoint. An attacker who can write
	// to the database can insert a key with such a creation time, so compare this list
	// with the keys you know.
	SigningKeysWithoutRecord []string `json:"signingKeysWithoutRecord,omitempty"`
}

// maxVerifyAttempts bounds how often VerifyAudit starts again because a retention sweep
// moved a checkpoint while it read the log.
const maxVerifyAttempts = 3

// VerifyAudit checks the hash chain of accountID's audit log, or of every account's and of
// the signing-key log (iogate.SigningKeyLogID) when accountID is empty, from the first
// record or from the retention checkpoint. It also checks that the logs name every API key,
// deleted API key and signing key that they must, as verifyAudit describes. It returns
// an *iogate.AuditChainError naming the first record at which a chain breaks, together with
// the report of what verified before it. It may run beside servers that write the log.
func (s *Service) VerifyAudit(ctx context.Context, accountID string) (*AuditReport, error) {
	for attempt := 1; ; attempt++ {
		checkpoints, err := s.store.AuditCheckpoints(ctx, accountID)
		if err != nil {
			return &AuditReport{}, fmt.Errorf("verify audit log: %w", err)
		}
		report, err := s.verifyAudit(ctx, accountID, checkpoints)
		var broken *iogate.AuditChainError
		if err == nil || !errors.As(err, &broken) || attempt == maxVerifyAttempts {
			return report, err
		}
		// A retention sweep, of this process or of another, may have pruned records after
		// the checkpoints were read, so that a chain seems to lack its first records. The
		// sweep moved a checkpoint forward, so verify again from the new checkpoints. A
		// break with unchanged checkpoints is real.
		now, cerr := s.store.AuditCheckpoints(ctx, accountID)
		if cerr != nil || sameCheckpoints(checkpoints, now) {
			return report, err
		}
	}
}

// sameCheckpoints reports whether two reads of the checkpoints returned the same ones.
func sameCheckpoints(a, b []*iogate.AuditCheckpoint) bool {
	return slices.EqualFunc(a, b, func(x, y *iogate.AuditCheckpoint) bool {
		return x.AccountID == y.AccountID && x.Seq == y.Seq && x.Signature == y.Signature
	})
}

// verifyAudit verifies the log from the given checkpoints, as VerifyAudit describes.
func (s *Service) verifyAudit(ctx context.Context, accountID string, checkpoints []*iogate.AuditCheckpoint) (*AuditReport, error) {
	v := s.chain.NewVerifier()
	report := &AuditReport{}
	// An account whose oldest records retention pruned continues from its checkpoint.
	prunedUntil := map[string]time.Time{}
	for _, cp := range checkpoints {
		if err := v.Start(cp); err != nil {
			report.Heads = v.Heads()
			return report, fmt.Errorf("verify audit log: %w", err)
		}
		prunedUntil[cp.AccountID] = cp.RecordTime
	}
	// The signing keys are read before the records, so that each key's record is among
	// the records read.
	var signingKeys *signingKeyCoverage
	if accountID == "" || accountID == iogate.SigningKeyLogID {
		var err error
		if signingKeys, err = s.newSigningKeyCoverage(ctx); err != nil {
			return report, fmt.Errorf("verify audit log: %w", err)
		}
	}
	created := map[string]bool{}
	deleted := map[keyDeletion]bool{}
	err := s.store.AuditRecords(ctx, accountID, func(r *iogate.AuditRecord) error {
		if err := v.Add(r); err != nil {
			return err
		}
		switch r.Event {
		case iogate.AuditKeyCreated:
			created[r.ClientID] = true
		case iogate.AuditKeyDeleted:
			deleted[keyDeletion{r.AccountID, r.ClientID}] = true
		}
		if signingKeys != nil {
			if err := signingKeys.add(r); err != nil {
				return err
			}
		}
		report.Records++
		return nil
	})
	report.Heads = v.Heads()
	if err != nil {
		return report, fmt.Errorf("verify audit log: %w", err)
	}
	if signingKeys != nil {
		until, pruned := prunedUntil[iogate.SigningKeyLogID]
		report.SigningKeysWithoutRecord, err = signingKeys.check(until, pruned)
		if err != nil {
			return report, fmt.Errorf("verify audit log: %w", err)
		}
	}

	// A chain verifies record by record, so deleting an account's whole log would pass
	// unnoticed. Every key that exists must still have the record of its creation, unless
	// the key is older than the account's retention checkpoint: the record is written after
	// the key's creation time, so a key created at or before the last pruned record may
	// have lost its record to pruning.
	var missing []*iogate.APIKey
	err = s.store.AllAPIKeys(ctx, func(k *iogate.APIKey) error {
		if until, pruned := prunedUntil[k.AccountID]; pruned && !k.CreatedAt.After(until) {
			return nil
		}
		if (accountID == "" || k.AccountID == accountID) && !created[k.ClientID] {
			missing = append(missing, k)
		}
		return nil
	})
	if err != nil {
		return report, fmt.Errorf("verify audit log: %w", err)
	}
	// A key created after the records were read commits with its key.created record, so
	// that record is in the log now, past the part that was verified.
	for _, k := range missing {
		filter := iogate.AuditFilter{AccountID: k.AccountID, ClientID: k.ClientID, Event: iogate.AuditKeyCreated}
		recs, _, err := s.store.ListAuditRecords(ctx, filter, iogate.Page{Limit: 1})
		if err != nil {
			return report, fmt.Errorf("verify audit log: %w", err)
		}
		if len(recs) == 0 {
			return report, fmt.Errorf("verify audit log: audit log of account %s is incomplete: API key %s exists but its key.created record is missing, so records were deleted", k.AccountID, k.ClientID)
		}
	}
	if err := s.checkDeletedKeyRecords(ctx, accountID, prunedUntil, deleted); err != nil {
		return report, fmt.Errorf("verify audit log: %w", err)
	}
	return report, nil
}

// keyDeletion names a key deletion: the account and the client ID.
type keyDeletion struct{ accountID, clientID string }

// checkDeletedKeyRecords returns an error when a deleted key's tombstone has no key.deleted
// record in the log. An account whose keys were all deleted keeps no key whose key.created
// record could be missing, so without this check its whole log could be removed unnoticed.
// The tombstones outlive the audit retention, so a deletion at or before the account's
// last pruned record (prunedUntil) may have lost its record to pruning. verified holds the
// key.deleted records that the verification read.
func (s *Service) checkDeletedKeyRecords(ctx context.Context, accountID string, prunedUntil map[string]time.Time, verified map[keyDeletion]bool) error {
	var missing []iogate.DeletedAPIKey
	err := s.store.DeletedAPIKeys(ctx, func(k iogate.DeletedAPIKey) error {
		if accountID != "" && k.AccountID != accountID || verified[keyDeletion{k.AccountID, k.ClientID}] {
			return nil
		}
		if until, pruned := prunedUntil[k.AccountID]; pruned && !k.DeletedAt.After(until) {
			return nil
		}
		missing = append(missing, k)
		return nil
	})
	if err != nil {
		return err
	}
	// A key deleted after the records were read commits with its key.deleted record, so
	// that record is in the log now, past the part that was verified.
	for _, k := range missing {
		filter := iogate.AuditFilter{AccountID: k.AccountID, ClientID: k.ClientID, Event: iogate.AuditKeyDeleted}
		recs, _, err := s.store.ListAuditRecords(ctx, filter, iogate.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("audit log of account %s is incomplete: API key %s was deleted but its key.deleted record is missing, so records were deleted", k.AccountID, k.ClientID)
		}
	}
	return nil
}
