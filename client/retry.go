package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxRetryAfter is the longest Retry-After the client waits for by itself.
const maxRetryAfter = time.Minute

// retryPolicy decides whether and when a failed request is sent again.
type retryPolicy struct {
	max     int
	first   time.Duration
	longest time.Duration
}

// next reports whether attempt (counted from 0) should be retried, and after how long. It
// retries 429 and 5xx responses and network errors. A request that is not idempotent, one
// that the server would carry out again, is retried only when the server cannot have acted
// on it: after 429, 503, or a failure to connect. Retry-After, in seconds or as an HTTP
// date, sets the wait when present, and a wait longer than maxRetryAfter is not retried.
// Without it the wait doubles from first up to longest, with jitter.
func (p retryPolicy) next(attempt int, idempotent bool, resp *http.Response, err error, now time.Time) (time.Duration, bool) {
	if attempt >= p.max {
		return 0, false
	}
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return 0, false
	case err != nil:
		if !idempotent && !isDialError(err) {
			return 0, false
		}
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
	case resp.StatusCode >= 500 && idempotent:
	default:
		return 0, false
	}
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			// A longer wait is the caller's decision: the error carries RetryAfter.
			return d, d <= maxRetryAfter
		}
	}
	wait := p.first << attempt
	if wait > p.longest || wait <= 0 {
		wait = p.longest
	}
	// Full jitter in the upper half spreads clients that failed together.
	return wait/2 + rand.N(wait/2+1), true
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// isDialError reports whether err happened while connecting, before the server saw the
// request.
func isDialError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
