package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/iogate/iogate"
)

// DefaultMaxStaleness is how long a running engine keeps serving from its view after its
// change feed stopped confirming that the view is current.
const DefaultMaxStaleness = 5 * time.Second

// ErrStale is returned by IssueToken and Authenticate while the view may be out of date:
// the change feed has been down for longer than Config.MaxStaleness and the view has not
// been reloaded since. A deleted key could still look valid then, so the engine refuses.
var ErrStale = &iogate.Error{Code: iogate.CodeUnavailable, Message: "this node cannot confirm that its view of the API keys is current; retry shortly"}

// ChangeFeed notifies a running engine that the store may have changed. Watch calls changed
// whenever that may be so, and at least once after connecting; it calls alive whenever it
// has confirmed that its connection works, at least once a second while it does. It
// returns when ctx ends or the feed fails.
type ChangeFeed interface {
	Watch(ctx context.Context, changed, alive func()) error
}

// feedHealth tracks whether the in-memory view is known to be current. The view is fresh
// while the change feed confirms its connection and no reload is owed; a feed failure owes
// a full reload, because notifications sent while no connection listened are lost.
type feedHealth struct {
	maxStaleness time.Duration

	mu sync.Mutex
	// running is false until Run starts: the CLI's engine has no feed and is never stale.
	running bool
	// freshAt is the last time the view was known current.
	freshAt time.Time
	// connected is true from the feed's first alive call until it fails.
	connected bool
	// resyncOwed is set when the feed failed or a change could not be applied, and
	// cleared by a successful full reload.
	resyncOwed bool
	// stale is the state last logged, so that each transition is logged once.
	stale bool
	// lastResync is when a reload owed was last tried, to pace retries.
	lastResync time.Time
	// failures counts consecutive feed failures, to pace their log lines.
	failures int
}

func (h *feedHealth) start(now time.Time) {
	h.mu.Lock()
	h.running, h.freshAt = true, now
	h.mu.Unlock()
}

// alive records that the feed's connection works. It refreshes the view's freshness only
// when no reload is owed.
func (h *feedHealth) alive(now time.Time) {
	h.mu.Lock()
	h.connected = true
	h.failures = 0
	if !h.resyncOwed {
		h.freshAt = now
	}
	h.mu.Unlock()
}

// feedFailed records a feed failure and returns how many happened in a row.
func (h *feedHealth) feedFailed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connected = false
	h.resyncOwed = true
	h.failures++
	return h.failures
}

// owe records that the view missed a change and must be reloaded.
func (h *feedHealth) owe() {
	h.mu.Lock()
	h.resyncOwed = true
	h.mu.Unlock()
}

// owed reports whether a reload is owed.
func (h *feedHealth) owed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resyncOwed
}

// retryDue reports whether a reload is owed, the feed is connected, and the last try was
// at least a second ago. It records now as the time of the next try.
func (h *feedHealth) retryDue(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.resyncOwed || !h.connected || now.Sub(h.lastResync) < time.Second {
		return false
	}
	h.lastResync = now
	return true
}

// resynced records a successful full reload that started at started, and returns whether
// the view was stale until now.
func (h *feedHealth) resynced(started time.Time) (wasStale bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resyncOwed = false
	if started.After(h.freshAt) {
		h.freshAt = started
	}
	wasStale = h.stale
	h.stale = false
	return wasStale
}

// staleness returns how long the view has gone without confirmation, and whether that is
// longer than allowed.
func (h *feedHealth) staleness(now time.Time) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running {
		return 0, false
	}
	age := now.Sub(h.freshAt)
	return age, age > h.maxStaleness
}

// transition returns whether the view just became stale, updating the logged state.
func (h *feedHealth) transition(now time.Time) (becameStale bool, age time.Duration) {
	age, stale := h.staleness(now)
	h.mu.Lock()
	defer h.mu.Unlock()
	becameStale = stale && !h.stale
	if stale {
		h.stale = true
	}
	return becameStale, age
}

// checkFresh returns ErrStale while the view may be out of date.
func (s *Service) checkFresh(now time.Time) error {
	if _, stale := s.health.staleness(now); stale {
		return ErrStale
	}
	return nil
}

// Ready returns nil when the store responds and the view is current, the conditions under
// which this node should receive traffic. Otherwise it returns an iogate.CodeUnavailable
// error that names the failed condition.
func (s *Service) Ready(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(pingCtx); err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeUnavailable {
			return err
		}
		return iogate.WrapError(iogate.CodeUnavailable, err, "the database is unreachable")
	}
	if err := s.keyringFailure.failure(); err != nil {
		if errors.Is(err, iogate.ErrWrongMasterKey) {
			return iogate.WrapError(iogate.CodeUnavailable, err, "the signing keys could not be reloaded; check that this node has the current master key")
		}
		return iogate.WrapError(iogate.CodeUnavailable, err, "the signing keys could not be reloaded from the database")
	}
	if age, stale := s.health.staleness(s.now()); stale {
		return iogate.Errorf(iogate.CodeUnavailable, "the change feed has not confirmed the key view for %s, longer than the allowed %s", age.Round(100*time.Millisecond), s.health.maxStaleness)
	}
	return nil
}

// watchFeed runs the change feed until ctx ends, restarting it after each failure with a
// delay that grows from 100ms to 2s while it keeps failing.
func (s *Service) watchFeed(ctx context.Context, feed ChangeFeed) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected := false
		err := feed.Watch(ctx, s.notify, func() {
			connected = true
			s.health.alive(s.now())
		})
		if ctx.Err() != nil {
			return
		}
		n := s.health.feedFailed()
		if connected {
			delay = 100 * time.Millisecond
		} else if delay < 2*time.Second {
			delay *= 2
		}
		// Log the first failure and then one in 30, so that a long outage does not flood
		// the log while it still shows that the feed keeps retrying.
		if n == 1 || n%30 == 0 {
			s.log.Error("change feed failed; reconnecting", "error", err, "consecutive_failures", n, "retry_in", delay.String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

// rewindCheckInterval is how often a running engine compares the store's latest key change
// with the last one its view applied.
const rewindCheckInterval = time.Second

// watchRewind runs checkRewind every rewindCheckInterval until ctx ends. A restore of an
// older backup rewinds the change numbers without recording a change for the view.
func (s *Service) watchRewind(ctx context.Context) {
	tick := time.NewTicker(rewindCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.checkRewind(ctx)
		}
	}
}

// checkRewind owes a full reload, and wakes the loop that performs it, when the store's
// latest key change is older than the last one the view applied.
// NOTE: a restore followed, before the next check, by more key changes than it rewound
// goes unnoticed until the periodic resync (Config.ResyncInterval).
func (s *Service) checkRewind(ctx context.Context) {
	// Read the view first: a change applied meanwhile then cannot make the store look older.
	applied := s.view.seq()
	queryCtx, cancel := context.WithTimeout(ctx, rewindCheckInterval)
	latest, err := s.store.LatestKeyChange(queryCtx)
	cancel()
	// A store that does not respond is left to the change feed's health checks.
	if err != nil || latest >= applied || s.health.owed() {
		return
	}
	s.log.Warn("the store's key changes end before the last one this node applied, as after a restore of an older backup; reloading every key",
		"latest_change", latest, "applied_change", applied)
	s.health.owe()
	s.notify()
}

// catchUp brings the view up to date after the feed signalled a change: by applying the
// changes since the last one seen, or by a full reload when one is owed.
func (s *Service) catchUp(ctx context.Context) {
	if s.health.owed() {
		s.resyncOwed(ctx)
		return
	}
	if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
		s.health.owe()
		s.log.Error("apply key changes failed; reloading every key once the store answers", "error", err)
	}
}

// resyncOwed reloads every key and, on success, marks the view current again.
func (s *Service) resyncOwed(ctx context.Context) {
	started := s.now()
	if err := s.resync(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Error("key resync failed", "error", err)
		}
		return
	}
	// A full reload skips the changes it replaces, signing-keys changes among them, so
	// the keyring is reloaded too: a signing key revoked while the feed was down must not
	// stay trusted until the periodic resync.
	s.scheduleKeyringReload(started)
	if s.health.resynced(started) {
		s.log.Info("change feed resynced; accepting token requests and API calls with access tokens again", "keys", s.view.size())
	}
}

// checkHealth logs the moment the view becomes stale and retries a reload that is owed
// while the feed is connected.
func (s *Service) checkHealth(ctx context.Context) {
	now := s.now()
	if became, age := s.health.transition(now); became {
		s.log.Error("change feed down longer than the maximum staleness; responding 503 to token requests and API calls with access tokens until resynced",
			"unconfirmed_for", age.Round(time.Millisecond).String(), "max_staleness", s.health.maxStaleness.String())
	}
	if s.health.retryDue(now) {
		s.resyncOwed(ctx)
	}
}

// applyOwnWrite brings the view up to date after a key write of this process committed,
// putting k (when not nil) into the view at once. The write has succeeded, so a failure to
// read the change log back is not the write's failure: it is logged, and the view is
// reloaded once the store responds, with the staleness bound covering the gap.
func (s *Service) applyOwnWrite(ctx context.Context, k *iogate.APIKey) {
	if k != nil && s.started {
		s.view.putKeepingRevoked(k.Auth())
	}
	if err := s.Sync(ctx); err != nil {
		s.health.owe()
		s.log.Warn("apply own key change failed; reloading every key once the store responds", "error", err)
	}
}
