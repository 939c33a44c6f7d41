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

	mu      sync.Mutex
	pending map[useKey]iogate.KeyUse
}

type useKey struct {
	clientID   string
	generation int
}

func newUseRecorder(store iogate.Store, log *slog.Logger) *useRecorder {
	return &useRecorder{store: store, log: log, pending: make(map[useKey]iogate.KeyUse)}
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
		if err := r.store.RecordKeyUse(ctx, part); err != nil {
			r.log.Warn("record key last-used times failed", "keys", len(part), "error", err)
		}
	}
}

// maxUsesPerWrite bounds the keys whose last use one RecordKeyUse call writes.
const maxUsesPerWrite = 200
