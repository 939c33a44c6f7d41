package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// logBuffer collects the JSON lines of a slog handler while the outage goroutine writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns the lines written so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the lines written so far, decoded, whose msg is one of msgs.
func (b *logBuffer) records(t *testing.T, msgs ...string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	text := b.buf.String()
	b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		for _, m := range msgs {
			if rec["msg"] == m {
				out = append(out, rec)
			}
		}
	}
	return out
}

// waitRecords polls until at least n lines with msg were written, and fails the test
// after five seconds.
func (b *logBuffer) waitRecords(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := b.records(t, msg)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines %q after 5s, want at least %d; log:\n%s", len(recs), msg, n, b.buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readySwitch is a readiness check that the test turns on and off.
type readySwitch struct{ ready atomic.Bool }

func (r *readySwitch) check(context.Context) error {
	if r.ready.Load() {
		return nil
	}
	return iogate.Errorf(iogate.CodeUnavailable, "the database is unreachable; retry later")
}

func newTestOutageLog(t *testing.T, interval time.Duration) (*outageLog, *logBuffer, *readySwitch) {
	t.Helper()
	out := &logBuffer{}
	sw := &readySwitch{}
	o := newOutageLog(slog.New(slog.NewJSONHandler(out, nil)), interval, sw.check)
	t.Cleanup(o.close)
	return o, out, sw
}

var errStoreDown = iogate.Errorf(iogate.CodeUnavailable, "the database is unreachable; retry later")

// sumSuppressed adds the "suppressed" counts of summary lines.
func sumSuppressed(t *testing.T, recs []map[string]any) int {
	t.Helper()
	n := 0
	for _, r := range recs {
		v, ok := r["suppressed"].(float64)
		if !ok || v < 1 {
			t.Errorf("summary line %v has no positive suppressed count", r)
		}
		if id, _ := r["last_request_id"].(string); id == "" {
			t.Errorf("summary line %v has no last_request_id", r)
		}
		n += int(v)
	}
	return n
}

func TestOutageLogSummarizesRepeats(t *testing.T) {
	const interval = 20 * time.Millisecond
	o, out, sw := newTestOutageLog(t, interval)
	start := time.Now()

	firsts := map[failureKind]int{}
	for i := range 1000 {
		if o.failed(failedRequest, fmt.Sprintf("req-%d", i), errStoreDown) {
			firsts[failedRequest]++
		}
		if i%10 == 0 && o.failed(failedReadiness, fmt.Sprintf("ready-%d", i), errStoreDown) {
			firsts[failedReadiness]++
		}
	}
	if firsts[failedRequest] != 1 {
		t.Errorf("failed reported %d first requests, want 1", firsts[failedRequest])
	}
	if firsts[failedReadiness] != 1 {
		t.Errorf("failed reported %d first readiness checks, want 1", firsts[failedReadiness])
	}
	out.waitRecords(t, summaryOf[failedRequest].msg, 1)

	sw.ready.Store(true)
	ended := out.waitRecords(t, "ready again", 1)
	elapsed := time.Since(start)

	requests := out.records(t, summaryOf[failedRequest].msg)
	checks := out.records(t, summaryOf[failedReadiness].msg)
	if len(checks) == 0 {
		t.Fatal("no readiness summary counted the 99 suppressed readiness failures")
	}
	// One summary per interval, and one more at the end for the failures since the last.
	maxLines := int(elapsed/interval) + 2
	if len(requests) > maxLines {
		t.Errorf("%d request summaries in %s, want at most %d at one per %s", len(requests), elapsed, maxLines, interval)
	}
	if len(checks) > maxLines {
		t.Errorf("%d readiness summaries in %s, want at most %d at one per %s", len(checks), elapsed, maxLines, interval)
	}
	if got := sumSuppressed(t, requests); got != 999 {
		t.Errorf("request summaries count %d suppressed failures, want 999", got)
	}
	if got := sumSuppressed(t, checks); got != 99 {
		t.Errorf("readiness summaries count %d suppressed failures, want 99", got)
	}
	if requests[0]["level"] != "ERROR" {
		t.Errorf("request summary level %v, want ERROR, the level of the full line", requests[0]["level"])
	}
	if checks[0]["level"] != "WARN" {
		t.Errorf("readiness summary level %v, want WARN, the level of the full line", checks[0]["level"])
	}
	if got := requests[len(requests)-1]["last_request_id"]; got != "req-999" {
		t.Errorf("last request summary names request %v, want req-999", got)
	}
	if got := requests[0]["last_detail"]; got != "the database is unreachable; retry later" {
		t.Errorf("summary detail %q, want the message clients see", got)
	}

	if len(ended) != 1 {
		t.Fatalf("%d lines \"ready again\", want 1", len(ended))
	}
	e := ended[0]
	if e["level"] != "INFO" {
		t.Errorf("end of outage level %v, want INFO", e["level"])
	}
	if e["failed_requests"] != 1000.0 {
		t.Errorf("end of outage failed_requests %v, want 1000", e["failed_requests"])
	}
	if e["failed_readiness_checks"] != 100.0 {
		t.Errorf("end of outage failed_readiness_checks %v, want 100", e["failed_readiness_checks"])
	}
	// The log rounds the duration to the millisecond. Rounding keeps the order, so the
	// logged duration is at most the elapsed time measured here, rounded the same way.
	limit := elapsed.Round(time.Millisecond)
	if d, err := iogate.ParseDuration(fmt.Sprint(e["unavailable_for"])); err != nil || d <= 0 || d > limit {
		t.Errorf("unavailable_for %v, want a duration above 0 and at most %s", e["unavailable_for"], limit)
	}
}

func TestOutageLogNextOutageLogsFirstAgain(t *testing.T) {
	o, out, sw := newTestOutageLog(t, 20*time.Millisecond)
	sw.ready.Store(true)
	if !o.failed(failedRequest, "a", errStoreDown) {
		t.Fatal("the first failure was not reported as first")
	}
	out.waitRecords(t, "ready again", 1)
	if !o.failed(failedRequest, "b", errStoreDown) {
		t.Error("the first failure after the outage ended was not reported as first")
	}
	if o.failed(failedRequest, "c", errStoreDown) {
		t.Error("the second failure of the new outage was reported as first")
	}
	ended := out.waitRecords(t, "ready again", 2)
	if ended[1]["failed_requests"] != 2.0 {
		t.Errorf("the second outage counted %v failed requests, want 2", ended[1]["failed_requests"])
	}
}

func TestOutageLogStaysOpenWhileNotReady(t *testing.T) {
	const interval = 10 * time.Millisecond
	o, out, sw := newTestOutageLog(t, interval)
	o.failed(failedReadiness, "a", errStoreDown)
	o.failed(failedReadiness, "b", errStoreDown)
	out.waitRecords(t, summaryOf[failedReadiness].msg, 1)
	// Twenty readiness checks fail while no request does.
	time.Sleep(20 * interval)
	if got := out.records(t, "ready again"); len(got) != 0 {
		t.Fatalf("the outage ended while the server was not ready: %v", got)
	}
	if got := out.records(t, summaryOf[failedReadiness].msg); len(got) != 1 {
		t.Errorf("%d summaries without new failures, want only the 1 that counted the second failure", len(got))
	}
	sw.ready.Store(true)
	out.waitRecords(t, "ready again", 1)
}

func TestOutageLogCloseWritesSuppressed(t *testing.T) {
	o, out, _ := newTestOutageLog(t, time.Hour)
	for i := range 5 {
		o.failed(failedRequest, fmt.Sprintf("req-%d", i), errStoreDown)
	}
	o.close()
	recs := out.records(t, summaryOf[failedRequest].msg)
	if len(recs) != 1 {
		t.Fatalf("after close %d summaries, want 1", len(recs))
	}
	if recs[0]["suppressed"] != 4.0 {
		t.Errorf("after close the summary counts %v suppressed failures, want 4", recs[0]["suppressed"])
	}
	if !o.failed(failedRequest, "late", errStoreDown) {
		t.Error("a failure after close was not reported as first, so its line would be lost")
	}
	if got := out.records(t, "ready again"); len(got) != 0 {
		t.Errorf("close logged the end of an outage that did not end: %v", got)
	}
}

// TestOutageLogSummaryDue checks the spacing rule of summary lines: a tick that comes early,
// after one that a blocked readiness check delayed, writes no line.
func TestOutageLogSummaryDue(t *testing.T) {
	o := newOutageLog(slog.New(slog.DiscardHandler), 10*time.Second, nil)
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{
		{2 * time.Second, false},
		{9 * time.Second, false},
		{9600 * time.Millisecond, true},
		{10 * time.Second, true},
		{25 * time.Second, true},
	} {
		if got := o.summaryDue(last, last.Add(c.after)); got != c.want {
			t.Errorf("summaryDue %s after the last line = %v, want %v", c.after, got, c.want)
		}
	}
}

// TestOutageLogSlowReadinessCheck runs an outage whose readiness check blocks for longer
// than an interval, as a check against an unreachable database can while it waits for the
// connection to time out. The summary lines stay an
// interval apart, and together they count every failure.
func TestOutageLogSlowReadinessCheck(t *testing.T) {
	const interval = 50 * time.Millisecond
	out := &logBuffer{}
	slow := func(ctx context.Context) error {
		time.Sleep(interval * 16 / 10)
		return errStoreDown
	}
	o := newOutageLog(slog.New(slog.NewJSONHandler(out, nil)), interval, slow)
	start := time.Now()
	failures := 0
	for time.Since(start) < 30*interval {
		o.failed(failedRequest, fmt.Sprintf("req-%d", failures), errStoreDown)
		failures++
		time.Sleep(time.Millisecond)
	}
	o.close()
	elapsed := time.Since(start)

	recs := out.records(t, summaryOf[failedRequest].msg)
	if len(recs) < 2 {
		t.Fatalf("%d summary lines in %s, want several", len(recs), elapsed)
	}
	// The last line comes from close, which writes what is left whenever it runs.
	for i := 1; i < len(recs)-1; i++ {
		prev, err := time.Parse(time.RFC3339Nano, recs[i-1]["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, recs[i]["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if gap := at.Sub(prev); gap < interval*9/10 {
			t.Errorf("summary lines %d and %d are %s apart, want at least the interval, %s", i-1, i, gap, interval)
		}
	}
	if got := sumSuppressed(t, recs); got != failures-1 {
		t.Errorf("summaries count %d suppressed failures, want %d: all but the first", got, failures-1)
	}
}
