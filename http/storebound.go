package http

import (
	"context"
	"time"

	"github.com/iogate/iogate/auth"
)

// storeBound bounds the store work of a dashboard request. Dashboard pages wait on the
// store at several steps (the session, the page's data, the audit record of a sign-in), so
// the bound covers the whole request rather than each call. When it passes, the request's
// context is cancelled with a *auth.StoreTimeoutError as its cause, which auth.StoreError
// turns into a 503 response. A request that streams, such as the audit export, calls
// extend on each record the store returns, so that only a store that stops responding ends
// it, not a long export.
type storeBound struct {
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelCauseFunc
}

// storeBoundKey is the context key of a request's *storeBound.
type storeBoundKey struct{}

// newStoreBound returns ctx with a bound of timeout, and the bound, whose stop the caller
// must call when the request ends.
func newStoreBound(ctx context.Context, timeout time.Duration) (context.Context, *storeBound) {
	ctx, cancel := context.WithCancelCause(ctx)
	b := &storeBound{timeout: timeout, cancel: cancel}
	b.timer = time.AfterFunc(timeout, func() { cancel(&auth.StoreTimeoutError{Timeout: timeout}) })
	return context.WithValue(ctx, storeBoundKey{}, b), b
}

// storeBoundFrom returns the bound of ctx, or nil when it has none.
func storeBoundFrom(ctx context.Context) *storeBound {
	b, _ := ctx.Value(storeBoundKey{}).(*storeBound)
	return b
}

// extend restarts the bound. It cannot revive a context that the bound cancelled already.
// A nil bound does nothing.
func (b *storeBound) extend() {
	if b != nil {
		b.timer.Reset(b.timeout)
	}
}

// stop releases the bound's timer and context.
func (b *storeBound) stop() {
	b.timer.Stop()
	b.cancel(context.Canceled)
}
