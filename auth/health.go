package auth

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxFeedLag is how far behind the store the key view may fall before the engine
// reports itself not ready.
const DefaultMaxFeedLag = 5 * time.Second

// Health is the engine's view of its own readiness.
type Health struct {
	// Ready is true when the store could be read at the last check and the key view is
	// no more than the configured bound behind it.
	Ready bool
	// Lag is how long the key view has been behind the store without catching up: zero
	// when it holds every key change the store has recorded.
	Lag time.Duration
	// Reason is why the engine is not ready, or empty when it is ready.
	Reason string
	// CheckedAt is when the store was last read for this check.
	CheckedAt time.Time
}

// lagTracker measures change-feed lag without a timestamp from the store: it remembers
// when the view was first seen behind the store's latest change at its current sequence
// number. Progress of the view restarts the measurement, so a feed that applies a steady
// stream of changes is not reported as stale, while a feed that has stopped is.
type lagTracker struct {
	mu          sync.Mutex
	behindSince time.Time
	behindAtSeq int64
	last        Health
}

// CheckHealth reads the store's latest key change, compares it with the view, and returns
// and remembers the result. A running engine calls it every second; readiness endpoints
// call it on each request.
func (s *Service) CheckHealth(ctx context.Context) Health {
	now := s.now()
	h := Health{CheckedAt: now}
	latest, err := s.store.LatestKeyChange(ctx)
	viewSeq := s.view.seq()

	s.lag.mu.Lock()
	defer s.lag.mu.Unlock()
	switch {
	case !s.started:
		h.Reason = "the key view is not loaded yet"
	case err != nil:
		h.Reason = "the store cannot be read"
		if !s.lag.behindSince.IsZero() {
			h.Lag = now.Sub(s.lag.behindSince)
		}
	case viewSeq >= latest:
		s.lag.behindSince = time.Time{}
	case s.lag.behindSince.IsZero() || viewSeq != s.lag.behindAtSeq:
		s.lag.behindSince, s.lag.behindAtSeq = now, viewSeq
	default:
		h.Lag = now.Sub(s.lag.behindSince)
	}
	if h.Reason == "" && h.Lag > s.cfg.MaxFeedLag {
		h.Reason = "the key view is behind the store: the change feed has stalled"
	}
	h.Ready = h.Reason == ""
	s.lag.last = h
	return h
}

// LastHealth returns the result of the last CheckHealth without reading the store, for
// metrics scrapes.
func (s *Service) LastHealth() Health {
	s.lag.mu.Lock()
	defer s.lag.mu.Unlock()
	return s.lag.last
}
