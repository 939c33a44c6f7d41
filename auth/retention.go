package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iogate/iogate"
)

// DefaultAuditRetention is how long audit records are kept unless configured otherwise.
const DefaultAuditRetention = 400 * 24 * time.Hour

// auditPruneBatch is the largest number of records that one pruning transaction deletes.
// Each transaction holds the SQLite writer, or in PostgreSQL the lock of the account that
// token issuance appends under. On a two-core test machine with SQLite, pruning 222,000
// records in one transaction stalled token requests for up to 2.7 s, and in batches of
// 10,000 for up to 0.3 s. Tests make it small.
var auditPruneBatch int64 = 10_000

// PruneReport is the outcome of PruneAudit.
type PruneReport struct {
	Accounts int   `json:"accounts"`
	Records  int64 `json:"records"`
}

// PruneAudit deletes audit records older than retention while keeping every chain
// verifiable. For each account it verifies the chain up to the newest record older than
// the cutoff, then replaces the records up to it with a checkpoint signed under the chain
// key (iogate.AuditCheckpoint), from which VerifyAudit continues. The newest record of an
// account is never pruned, because appending continues from it. An account whose chain
// does not verify is left as it is and named in the returned error, so that pruning never
// launders an edited record into a checkpoint. The other accounts are still pruned. An
// account's records go in transactions of at most auditPruneBatch records, each of which
// moves the checkpoint forward.
func (s *Service) PruneAudit(ctx context.Context, retention time.Duration) (PruneReport, error) {
	var report PruneReport
	if retention <= 0 {
		return report, nil
	}
	now := s.now()
	cutoff := now.Add(-retention)

	plan, broken, err := s.planPrune(ctx, cutoff)
	if err != nil {
		return report, err
	}
	var errs []error
	for _, steps := range plan {
		pruned := false
		for _, r := range steps {
			n, err := s.store.PruneAuditRecords(ctx, s.chain.NewCheckpoint(r, now))
			if iogate.ErrorCodeOf(err) == iogate.CodeConflict {
				// Another node pruned this account since the plan was read.
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("prune audit records of account %s: %w", r.AccountID, err))
				break
			}
			pruned = true
			report.Records += n
		}
		if pruned {
			report.Accounts++
		}
	}
	for _, b := range broken {
		errs = append(errs, fmt.Errorf("audit records of account %s not pruned: %w", b.AccountID, b))
	}
	return report, errors.Join(errs...)
}

// planPrune reads every account's chain from its checkpoint and returns, per account, the
// records to move the checkpoint to, oldest first, together with the chains that do not
// verify. The last one is the newest record that is older than cutoff, is not the
// account's newest record and is at least as new as every record before it. The ones
// before it are about auditPruneBatch records apart.
func (s *Service) planPrune(ctx context.Context, cutoff time.Time) ([][]*iogate.AuditRecord, []*iogate.AuditChainError, error) {
	v := s.chain.NewVerifier()
	var broken []*iogate.AuditChainError
	brokenAccount := map[string]bool{}
	checkpoints, err := s.store.AuditCheckpoints(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	for _, cp := range checkpoints {
		if err := v.Start(cp); err != nil {
			var ce *iogate.AuditChainError
			if !errors.As(err, &ce) {
				return nil, nil, err
			}
			broken = append(broken, ce)
			brokenAccount[cp.AccountID] = true
		}
	}

	// prev is the record before the current one of the same account: it may be pruned
	// once a newer record of the account follows it.
	target := map[string][]*iogate.AuditRecord{}
	// batchStart is, per account, the sequence number after which the last step of
	// target began.
	batchStart := map[string]int64{}
	var order []string
	var prev *iogate.AuditRecord
	// A denial record carries the time of its request but is appended at least 50 ms
	// later, so it may follow records of later times. VerifyAudit takes every pruned
	// record to be no newer than the checkpoint's record. So only a record that is at
	// least as new as every record before it may end a step. latest is the newest time of
	// the account's records up to prev, and prevLatest is set when prev is that new.
	var latest time.Time
	prevLatest := false
	err = s.store.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
		if prev != nil && prev.AccountID != r.AccountID {
			prev, latest = nil, time.Time{}
		}
		if brokenAccount[r.AccountID] {
			return nil
		}
		if err := v.Add(r); err != nil {
			var ce *iogate.AuditChainError
			if !errors.As(err, &ce) {
				return err
			}
			broken = append(broken, ce)
			brokenAccount[r.AccountID] = true
			delete(target, r.AccountID)
			return nil
		}
		if prev != nil && prevLatest && prev.Time.Before(cutoff) {
			steps, seen := target[r.AccountID]
			if !seen {
				order = append(order, r.AccountID)
				batchStart[r.AccountID] = prev.Seq - 1
			}
			// The last step moves forward until it covers a whole batch. The next record
			// then starts a new step.
			last := len(steps) - 1
			if last >= 0 && steps[last].Seq-batchStart[r.AccountID] < auditPruneBatch {
				steps[last] = prev
			} else {
				if last >= 0 {
					batchStart[r.AccountID] = steps[last].Seq
				}
				steps = append(steps, prev)
			}
			target[r.AccountID] = steps
		}
		prev, prevLatest = r, !r.Time.Before(latest)
		if prevLatest {
			latest = r.Time
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if broken, err = s.dropMovedCheckpoints(ctx, checkpoints, broken); err != nil {
		return nil, nil, err
	}
	var plan [][]*iogate.AuditRecord
	for _, id := range order {
		if steps, ok := target[id]; ok {
			plan = append(plan, steps)
		}
	}
	return plan, broken, nil
}

// dropMovedCheckpoints removes from broken the accounts whose checkpoint changed since
// read was read. The sweep of another node may have pruned such an account after that
// read, so that its chain seemed to lack its first records. The next sweep reads the new
// checkpoint and verifies the account again.
func (s *Service) dropMovedCheckpoints(ctx context.Context, read []*iogate.AuditCheckpoint, broken []*iogate.AuditChainError) ([]*iogate.AuditChainError, error) {
	if len(broken) == 0 {
		return broken, nil
	}
	current, err := s.store.AuditCheckpoints(ctx, "")
	if err != nil {
		return nil, err
	}
	signatures := map[string]iogate.AuditHash{}
	for _, cp := range read {
		signatures[cp.AccountID] = cp.Signature
	}
	moved := map[string]bool{}
	for _, cp := range current {
		if old, ok := signatures[cp.AccountID]; !ok || old != cp.Signature {
			moved[cp.AccountID] = true
		}
	}
	return slices.DeleteFunc(broken, func(ce *iogate.AuditChainError) bool { return moved[ce.AccountID] }), nil
}
