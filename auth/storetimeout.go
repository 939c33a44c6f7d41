package auth

import (
	"context"
	"errors"
	"time"

	"github.com/iogate/iogate"
)

// DefaultStoreTimeout is how long a request waits for the store when Config.StoreTimeout
// is zero. It is well below the server's default write timeout of 30s, so that a client
// whose request waits on a database that stopped responding gets a 503 response instead
// of a connection closed without one.
const DefaultStoreTimeout = 5 * time.Second

// StoreTimeoutError is the cause of a context from WithStoreTimeout whose bound has passed.
type StoreTimeoutError struct {
	// Timeout is the bound that passed.
	Timeout time.Duration
}

func (e *StoreTimeoutError) Error() string {
	return "the store did not respond within " + iogate.FormatDuration(e.Timeout)
}

// Unwrap returns context.DeadlineExceeded, so that errors.Is matches a timeout as it
// matches one of a context with a plain deadline.
func (e *StoreTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// StoreTimeout returns how long a request may wait for the store: Config.StoreTimeout, or
// DefaultStoreTimeout.
func (s *Service) StoreTimeout() time.Duration { return s.cfg.StoreTimeout }

// WithStoreTimeout returns ctx bounded by the store timeout, with a *StoreTimeoutError as
// its cause once the bound passes. Callers bound only the part of a request that waits on
// the store, and pass the error of that part through StoreError.
func (s *Service) WithStoreTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.cfg.StoreTimeout, s.storeTimeout)
}

// StoreTimedOut reports whether ctx ended because a store bound passed: its cause is a
// *StoreTimeoutError.
func StoreTimedOut(ctx context.Context) bool {
	var timeout *StoreTimeoutError
	return errors.As(context.Cause(ctx), &timeout)
}

// StoreError returns err, the error of a store call made with ctx. When ctx ended with a
// *StoreTimeoutError as its cause, or err wraps one, and err is a failure of the store, not
// a rejection of the request, it returns an iogate.CodeUnavailable error instead. Its
// message names the bound, and its cause is err. The store's drivers report a timeout in
// different ways: pgx as a lost connection (CodeUnavailable), database/sql as the
// context's error.
func StoreError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var timeout *StoreTimeoutError
	if !errors.As(context.Cause(ctx), &timeout) && !errors.As(err, &timeout) {
		return err
	}
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeUnavailable && code != iogate.CodeInternal {
		return err
	}
	return iogate.WrapError(iogate.CodeUnavailable, err,
		"the database did not respond within "+iogate.FormatDuration(timeout.Timeout)+"; retry later")
}
