package user

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sweep batches. Each batch is one transaction of at most sweepBatchSize rows, so that a
// sweep holds SQLite's single writer for one short batch at a time and the writes of
// requests go in between. sweepMaxBatches bounds the work of one sweep per table; rows
// beyond it wait for the next sweep.
const (
	sweepBatchSize  = 500
	sweepMaxBatches = 200
)

// sweepMargin is how long Sweep waits, by its own node's clock, after a row has ended
// before it deletes the row. Each node decides whether a session, link, form token or
// revoked token is still valid by its own clock and, for sessions, its own IdleTimeout
// (--session-idle-timeout). Without a margin, a node whose clock runs ahead, or whose idle
// timeout is shorter, would delete sessions that another node still accepts, and the
// revocations of tokens that a node whose clock runs behind still accepts. The margin
// covers clocks that differ, plus idle timeouts that differ, by up to an hour in all. A
// row that has ended is rejected whether or not it is stored, so the margin costs only the
// space of rows kept an hour longer.
const sweepMargin = time.Hour

// keyChangeRetention is how long Sweep keeps a row of the change feed (key_changes), by
// the time that the writing node's clock stamped on it. A server reads the feed only after
// its cursor (auth.Service.Sync), which is the latest change of its last full reload or
// the last change it applied, so it needs a row only until its next catch-up:
//   - While its feed is connected, each notification makes it apply every row after its
//     cursor within moments of the commit.
//   - When its feed fails, or a catch-up fails, it owes a full reload. Its next catch-up
//     reloads every key and moves its cursor to the latest change without reading old
//     rows. Until then it stops accepting tokens once its view has gone unconfirmed for
//     --max-staleness (at most 1h).
//   - A starting server loads every key and starts its cursor at the latest change.
//
// So a server reads a row within moments of its commit or never. A day is far beyond that
// and beyond the clock differences that sweepMargin covers.
// NOTE: a server whose Run loop were blocked for a day with its feed still connected
// would, once unblocked, skip the deleted rows instead of reloading. Nothing is known to
// block it that long.
const keyChangeRetention = 24 * time.Hour

// SweepReport counts the rows that Sweep deleted.
type SweepReport struct {
	Sessions      int
	Links         int
	FormTokens    int
	RevokedTokens int
	KeyChanges    int
}

// Sweep deletes the sessions that have ended (past their absolute expiry, or unused for
// IdleTimeout), the single-use links that were used or have expired, and the records of
// used form tokens whose session has ended. It also deletes the revocations of access
// tokens that have expired, which iogate.Store.RevokeToken leaves in place. None of these
// rows can be used again. Authenticate ends such a session, CheckLink returns the same
// error for a deleted link as for a used one, and an expired token fails its expiry check
// whether or not its revocation is stored. Last, it deletes the rows of the change feed
// that are older than keyChangeRetention, which no server reads any more. A row that ended by expiry or idleness is
// deleted only sweepMargin after it ended. A used link is deleted at once, because no
// clock decides that it was used.
// Several nodes may sweep one database at once. A table that fails to sweep does not stop
// the others; the error names it.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	// Everything that ended at or before cutoff ended at least sweepMargin ago.
	cutoff := s.now().UTC().Add(-sweepMargin)
	feedCutoff := s.now().UTC().Add(-keyChangeRetention)
	var report SweepReport
	var errs []error
	for _, table := range []struct {
		rows        string
		deleted     *int
		deleteBatch func(limit int) (int, error)
	}{
		{"ended sessions", &report.Sessions, func(limit int) (int, error) {
			return s.store.DeleteEndedSessions(ctx, cutoff, cutoff.Add(-s.cfg.IdleTimeout), limit)
		}},
		{"used and expired links", &report.Links, func(limit int) (int, error) {
			return s.store.DeleteSpentUserLinks(ctx, cutoff, limit)
		}},
		{"expired form tokens", &report.FormTokens, func(limit int) (int, error) {
			return s.store.DeleteExpiredFormTokens(ctx, cutoff, limit)
		}},
		{"revocations of expired tokens", &report.RevokedTokens, func(limit int) (int, error) {
			return s.store.DeleteExpiredRevocations(ctx, cutoff, limit)
		}},
		{"old key changes", &report.KeyChanges, func(limit int) (int, error) {
			return s.store.DeleteKeyChangesBefore(ctx, feedCutoff, limit)
		}},
	} {
		var err error
		if *table.deleted, err = sweepBatches(table.deleteBatch); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", table.rows, err))
		}
	}
	return report, errors.Join(errs...)
}

// sweepBatches calls deleteBatch until a batch deletes fewer than sweepBatchSize rows, at
// most sweepMaxBatches times, and returns the rows deleted in all.
func sweepBatches(deleteBatch func(limit int) (int, error)) (int, error) {
	total := 0
	for range sweepMaxBatches {
		n, err := deleteBatch(sweepBatchSize)
		total += n
		if err != nil || n < sweepBatchSize {
			return total, err
		}
	}
	return total, nil
}
