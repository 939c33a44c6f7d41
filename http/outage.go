package http

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/iogate/iogate"
)

// DefaultFailureLogInterval is how often a server summarizes the 503 responses it did not
// log, unless Options.FailureLogInterval sets another interval.
const DefaultFailureLogInterval = 10 * time.Second

// maxReadyCheckInterval bounds how long the end of an outage goes unnoticed: during an
// outage, readiness is checked at this interval or at the summary interval, whichever is
// shorter.
const maxReadyCheckInterval = time.Second

// failureKind is a kind of failure whose log lines an outage limits.
type failureKind int

const (
	// failedRequest is a 503 response of the API or the dashboard.
	failedRequest failureKind = iota
	// failedReadiness is a 503 response of /readyz.
	failedReadiness
	failureKinds
)

// summaryOf holds the level and message of each kind's summary line. The level is that of
// the kind's full line.
var summaryOf = [failureKinds]struct {
	level slog.Level
	msg   string
}{
	failedRequest:   {slog.LevelError, "repeated request failures suppressed"},
	failedReadiness: {slog.LevelWarn, "repeated readiness check failures suppressed"},
}

// outageLog keeps an outage of the store from flooding the log with a line per request.
// Its callers log the first 503 response of each kind in full. After that, outageLog writes
// at most one line per kind and interval with the number of failures it suppressed, and one
// info line once the server is ready again. Only failures reach it, so requests that
// succeed cost it nothing.
type outageLog struct {
	log      *slog.Logger
	interval time.Duration
	// ready returns nil when the server can serve again. With nil, a readiness check
	// interval without failures ends an outage.
	ready func(ctx context.Context) error

	mu sync.Mutex
	// open is true from an outage's first failure until the outage ends.
	open    bool
	started time.Time
	// failedSinceCheck records a failure since the last readiness check. It keeps the
	// outage open even when the check passes, so that a server whose requests still fail
	// does not log the end of the outage at each check.
	failedSinceCheck bool
	tallies          [failureKinds]failureTally
	// cancel stops the goroutine of the latest outage, and done is closed when that
	// goroutine has returned.
	cancel context.CancelFunc
	done   chan struct{}
	closed bool
}

// failureTally counts the failures of one kind in the current outage.
type failureTally struct {
	// counted is every failure since the outage started, logged or suppressed.
	counted int
	// suppressed is the failures since the last line of this kind.
	suppressed    int
	lastRequestID string
	lastErr       error
}

// newOutageLog returns an outageLog that summarizes every interval, or every
// DefaultFailureLogInterval when interval is not positive.
func newOutageLog(log *slog.Logger, interval time.Duration, ready func(context.Context) error) *outageLog {
	if interval <= 0 {
		interval = DefaultFailureLogInterval
	}
	return &outageLog{log: log, interval: interval, ready: ready}
}

// failed counts a failure of kind and reports whether it is the first of its kind in the
// current outage, which the caller logs in full. The first failure of any kind starts an
// outage. After close, every failure is reported as first.
func (o *outageLog) failed(kind failureKind, requestID string, err error) (first bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true
	}
	if !o.open {
		o.startLocked()
	}
	o.failedSinceCheck = true
	t := &o.tallies[kind]
	t.counted++
	if t.counted == 1 {
		return true
	}
	t.suppressed++
	t.lastRequestID, t.lastErr = requestID, err
	return false
}

// startLocked opens an outage and starts its goroutine, which writes the summaries and
// ends the outage.
func (o *outageLog) startLocked() {
	o.open = true
	o.started = time.Now()
	o.failedSinceCheck = false
	o.tallies = [failureKinds]failureTally{}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go o.watch(ctx, o.done)
}

// watch writes the summaries of an outage every interval and checks readiness until the
// outage ends or ctx is cancelled by close.
func (o *outageLog) watch(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	summaries := time.NewTicker(o.interval)
	defer summaries.Stop()
	checks := time.NewTicker(min(o.interval, maxReadyCheckInterval))
	defer checks.Stop()
	// The outage's first failure was just logged in full.
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			o.summarize()
			return
		case <-summaries.C:
			// A readiness check that blocked, for example on a database connection that
			// times out, delays a tick, and the next one then comes early. Such a tick is
			// skipped, and its failures are counted in the next line.
			if now := time.Now(); o.summaryDue(last, now) {
				o.summarize()
				last = now
			}
		case <-checks.C:
			if o.endIfReady(ctx) {
				return
			}
		}
	}
}

// summaryDue reports whether a summary may be written at now, after the previous line at
// last: at least the interval apart, less a twentieth for the jitter of the ticker.
func (o *outageLog) summaryDue(last, now time.Time) bool {
	return now.Sub(last) >= o.interval-o.interval/20
}

// summarize writes one line for each kind with suppressed failures and resets their count.
func (o *outageLog) summarize() {
	o.mu.Lock()
	tallies := o.tallies
	for k := range o.tallies {
		o.tallies[k].suppressed = 0
	}
	o.mu.Unlock()
	o.writeSummaries(tallies)
}

// writeSummaries writes one line for each kind in tallies with suppressed failures.
func (o *outageLog) writeSummaries(tallies [failureKinds]failureTally) {
	for k, t := range tallies {
		if t.suppressed == 0 {
			continue
		}
		// The detail is the message that clients see, which holds no internal cause; the
		// full line of the outage carries the cause.
		o.log.Log(context.Background(), summaryOf[k].level, summaryOf[k].msg,
			"suppressed", t.suppressed, "interval", iogate.FormatDuration(o.interval),
			"last_request_id", t.lastRequestID, "last_detail", iogate.ErrorMessageOf(t.lastErr))
	}
}

// endIfReady ends the outage, and logs its end, when the server is ready and no failure
// was counted since the previous check. It reports whether the outage ended.
func (o *outageLog) endIfReady(ctx context.Context) bool {
	var err error
	if o.ready != nil {
		err = o.ready(ctx)
	}
	o.mu.Lock()
	if err != nil || o.failedSinceCheck || ctx.Err() != nil {
		o.failedSinceCheck = false
		o.mu.Unlock()
		return false
	}
	o.open = false
	started, tallies := o.started, o.tallies
	o.mu.Unlock()

	// Failures suppressed since the last summary get their line first, so that each
	// failure is either logged in full or counted in exactly one summary.
	o.writeSummaries(tallies)
	o.log.Info("ready again",
		"unavailable_for", iogate.FormatDuration(time.Since(started).Round(time.Millisecond)),
		"failed_requests", tallies[failedRequest].counted,
		"failed_readiness_checks", tallies[failedReadiness].counted)
	return true
}

// close stops the goroutine of an outage in progress, after it has written the failures
// suppressed since its last summary. Failures after close are logged one line each.
func (o *outageLog) close() {
	o.mu.Lock()
	o.closed = true
	cancel, done := o.cancel, o.done
	o.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
