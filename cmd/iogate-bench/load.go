package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is a server under load: iogate, the baseline server, or any HTTPS server.
type target struct {
	name    string
	addr    string // host:port to dial
	host    string // Host header
	tlsConf *tls.Config
	// pid is the server's process ID, for its CPU time and memory, or 0 when unknown.
	pid     int
	timeout time.Duration
	// metricsURL is the /metrics address of an iogate that the harness started, for the
	// audit records per group commit, or "" for other targets.
	metricsURL string
}

func (t *target) newConn() *conn { return newConn(t.addr, t.tlsConf, t.timeout) }

// Phases of a load run. Responses count only when the request started and ended in the
// measuring phase.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// workerStats are one load client's counts during the measuring phase.
type workerStats struct {
	latencies []time.Duration
	statuses  map[int]int64
	transport int64
	lastErr   error
}

// loadResult is what one load run measured.
type loadResult struct {
	window    time.Duration
	latencies []time.Duration // sorted
	statuses  map[int]int64
	transport int64
	lastErr   error
	server    procStats // at the end of the window
	serverCPU time.Duration
	clientCPU time.Duration
	// auditPerCommit is the audit records per group commit during the window, or 0 when
	// the target has no metrics or committed nothing.
	auditPerCommit float64
	// auditCommitSeconds is the mean duration of those group commits, or 0 likewise.
	auditCommitSeconds float64
}

// runLoad drives t with one keep-alive connection per requester, for warmup and then for
// duration, and measures the second part. background, when not nil, runs alongside the
// whole load and is cancelled when it ends.
func runLoad(ctx context.Context, t *target, reqs []requester, warmup, duration time.Duration, background func(context.Context)) (*loadResult, error) {
	conns := make([]*conn, len(reqs))
	for i := range conns {
		conns[i] = t.newConn()
		if err := conns[i].dial(ctx); err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("connect to %s (%s): %w", t.name, t.addr, err)
		}
	}
	defer closeAll(conns)

	var phase atomic.Int32
	stats := make([]*workerStats, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		stats[i] = &workerStats{statuses: make(map[int]int64), latencies: make([]time.Duration, 0, 1<<14)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			drive(ctx, conns[i], r, &phase, stats[i])
		}()
	}
	bgCtx, stopBackground := context.WithCancel(ctx)
	var bgDone sync.WaitGroup
	if background != nil {
		bgDone.Add(1)
		go func() {
			defer bgDone.Done()
			background(bgCtx)
		}()
	}

	res := &loadResult{}
	sleepErr := sleep(ctx, warmup)
	var before, selfBefore procStats
	var beforeErr error
	var auditBefore auditCommits
	var auditErr error
	if sleepErr == nil {
		if t.metricsURL != "" {
			auditBefore, auditErr = readAuditCommits(ctx, t.metricsURL)
		}
		before, beforeErr = readServerStats(t.pid)
		selfBefore, _ = readProcStats(os.Getpid())
		start := time.Now()
		phase.Store(phaseMeasure)
		sleepErr = sleep(ctx, duration)
		phase.Store(phaseStop)
		res.window = time.Since(start)
		if t.metricsURL != "" && auditErr == nil {
			var auditAfter auditCommits
			if auditAfter, auditErr = readAuditCommits(ctx, t.metricsURL); auditErr == nil {
				res.auditPerCommit = auditBefore.perCommit(auditAfter)
				res.auditCommitSeconds = auditBefore.meanSeconds(auditAfter)
			}
		}
	}
	phase.Store(phaseStop)
	after, afterErr := readServerStats(t.pid)
	selfAfter, _ := readProcStats(os.Getpid())
	wg.Wait()
	stopBackground()
	bgDone.Wait()
	if sleepErr != nil {
		return nil, sleepErr
	}
	if err := errors.Join(beforeErr, afterErr); err != nil {
		return nil, fmt.Errorf("read %s process statistics: %w", t.name, err)
	}
	if auditErr != nil {
		return nil, fmt.Errorf("read %s audit metrics: %w", t.name, auditErr)
	}
	res.server = after
	res.serverCPU = after.CPU - before.CPU
	res.clientCPU = selfAfter.CPU - selfBefore.CPU
	res.merge(stats)
	return res, nil
}

// drive sends requests back to back on c until the phase is phaseStop.
func drive(ctx context.Context, c *conn, r requester, phase *atomic.Int32, s *workerStats) {
	failures := 0
	for {
		p := phase.Load()
		if p == phaseStop || ctx.Err() != nil {
			return
		}
		req := r.next()
		start := time.Now()
		status, body, err := c.do(ctx, req)
		elapsed := time.Since(start)
		counted := p == phaseMeasure && phase.Load() == phaseMeasure
		if err != nil {
			if counted {
				s.transport++
				s.lastErr = err
			}
			// A server that refuses connections must not turn the client into a busy loop.
			failures++
			if failures > 3 {
				sleep(ctx, 10*time.Millisecond)
			}
			continue
		}
		failures = 0
		r.done(status, body)
		if counted {
			s.latencies = append(s.latencies, elapsed)
			s.statuses[status]++
		}
	}
}

func (r *loadResult) merge(stats []*workerStats) {
	r.statuses = make(map[int]int64)
	n := 0
	for _, s := range stats {
		n += len(s.latencies)
	}
	r.latencies = make([]time.Duration, 0, n)
	for _, s := range stats {
		r.latencies = append(r.latencies, s.latencies...)
		for code, count := range s.statuses {
			r.statuses[code] += count
		}
		r.transport += s.transport
		if s.lastErr != nil {
			r.lastErr = s.lastErr
		}
	}
	slices.Sort(r.latencies)
}

// ok returns the number of 2xx responses.
func (r *loadResult) ok() int64 {
	var n int64
	for code, count := range r.statuses {
		if code >= 200 && code < 300 {
			n += count
		}
	}
	return n
}

// errorCounts returns the non-2xx responses by status code, and transport failures
// (connection, TLS or parse errors) under "transport".
func (r *loadResult) errorCounts() map[string]int64 {
	out := make(map[string]int64)
	for code, count := range r.statuses {
		if code < 200 || code >= 300 {
			out[strconv.Itoa(code)] = count
		}
	}
	if r.transport > 0 {
		out["transport"] = r.transport
	}
	return out
}

// percentile returns the latency below which a fraction q of the sorted samples fall
// (nearest-rank method).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func readServerStats(pid int) (procStats, error) {
	if pid == 0 {
		return procStats{}, nil
	}
	return readProcStats(pid)
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

// sleep waits for d or until ctx ends, and returns ctx's error in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
