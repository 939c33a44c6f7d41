package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/iogate/iogate"
)

// useRecorder batches last-used records off the request path: requests add to a map in
// memory, and a background loop writes the map once a second. Only the latest use of each
// key and secret generation is kept, so the batch is bounded by the number of keys in use.
type useRecorder struct {
	store iogate.Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending map[useKey]iogate.KeyUse

	// failures limits the log lines of failed writes. Only the loop of run writes to it.
	failures useFailures
}

// useFailures counts the failed writes of last-used times while the store fails. The first
// failure is logged in full, and after that one line per interval counts the rest, as
// --failure-log-interval sets for the 503 responses of an outage.
type useFailures struct {
	interval time.Duration
	// failing is true from a failed write until a write succeeds.
	failing bool
	// lastLine is when the full line or the latest summary was written.
	lastLine time.Time
	// writes and keys count the failures since the store started failing.
	writes, keys int
	// suppressedWrites and suppressedKeys count the failures since the last line.
	suppressedWrites, suppressedKeys int
	lastErr                          error
}

type useKey struct {
	clientID   string
	generation int
}

// DefaultFailureLogInterval is how often the engine logs one line that counts the failed
// writes of last-used times it did not log, when Config.FailureLogInterval is zero. It
// matches the default of the server's --failure-log-interval.
const DefaultFailureLogInterval = 10 * time.Second

// newUseRecorder returns a recorder that logs the first failed write in full and then, every
// failureLogInterval while the store fails, one line that counts the others.
func newUseRecorder(store iogate.Store, log *slog.Logger, failureLogInterval time.Duration) *useRecorder {
	return &useRecorder{
		store:    store,
		log:      log,
		now:      time.Now,
		pending:  make(map[useKey]iogate.KeyUse),
		failures: useFailures{interval: failureLogInterval},
	}
}

func (r *useRecorder) record(u iogate.KeyUse) {
	r.mu.Lock()
	r.pending[useKey{u.ClientID, u.Generation}] = u
	r.mu.Unlock()
}

func (r *useRecorder) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Write the last batch with a fresh context: the server is shutting down.
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.flush(flushCtx)
			cancel()
			return
		case <-t.C:
			r.flush(ctx)
		}
	}
}

func (r *useRecorder) flush(ctx context.Context) {
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	batch := make([]iogate.KeyUse, 0, len(r.pending))
	for _, u := range r.pending {
		batch = append(batch, u)
	}
	clear(r.pending)
	r.mu.Unlock()
	// Each transaction holds the store's single writer, which the audit records of token
	// issuance wait for, so a large batch is written in parts.
	for len(batch) > 0 {
		part := batch[:min(len(batch), maxUsesPerWrite)]
		batch = batch[len(part):]
		err := r.store.RecordKeyUse(ctx, part)
		if err != nil {
			r.writeFailed(len(part), err)
		} else {
			r.writeSucceeded()
		}
	}
}

// writeFailed logs the first failed write in full. After that it counts each failure and
// writes one summary line once the interval has passed since the previous line. The
// recorder writes once a second, so an interval below a second gives a line per write.
func (r *useRecorder) writeFailed(keys int, err error) {
	f := &r.failures
	now := r.now()
	f.writes++
	f.keys += keys
	if !f.failing {
		f.failing = true
		f.lastLine = now
		r.log.Warn("record key last-used times failed", "keys", keys, "error", err)
		return
	}
	f.suppressedWrites++
	f.suppressedKeys += keys
	f.lastErr = err
	if now.Sub(f.lastLine) >= f.interval {
		r.summarizeFailures()
		f.lastLine = now
	}
}

// writeSucceeded ends a run of failed writes: it writes the summary of the failures not
// logged yet and one line with the totals.
func (r *useRecorder) writeSucceeded() {
	f := &r.failures
	if !f.failing {
		return
	}
	r.summarizeFailures()
	r.log.Info("record key last-used times succeeded again",
		"failed_writes", f.writes, "keys_not_recorded", f.keys)
	*f = useFailures{interval: f.interval}
}

// summarizeFailures writes one line with the failures since the previous line, if any.
func (r *useRecorder) summarizeFailures() {
	f := &r.failures
	if f.suppressedWrites == 0 {
		return
	}
	r.log.Warn("repeated key last-used write failures suppressed",
		"suppressed", f.suppressedWrites, "keys", f.suppressedKeys,
		"interval", iogate.FormatDuration(f.interval), "last_error", f.lastErr)
	f.suppressedWrites, f.suppressedKeys, f.lastErr = 0, 0, nil
}

// maxUsesPerWrite bounds the keys whose last use one RecordKeyUse call writes.
const maxUsesPerWrite = 200
