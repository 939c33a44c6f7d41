package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// Messages of the lines that an outage writes.
const (
	msgRequestFailed      = "request failed"
	msgNotReady           = "not ready"
	msgRequestsSuppressed = "repeated request failures suppressed"
	msgChecksSuppressed   = "repeated readiness check failures suppressed"
	msgReadyAgain         = "ready again"
)

// logRecord is one decoded JSON line of the server's log.
type logRecord map[string]any

func (r logRecord) str(key string) string { s, _ := r[key].(string); return s }

func (r logRecord) num(key string) int { n, _ := r[key].(float64); return int(n) }

// logRecords decodes the JSON lines of a server log, skipping the lines that are not JSON,
// such as the setup link.
func logRecords(logs string) []logRecord {
	var recs []logRecord
	for _, line := range strings.Split(logs, "\n") {
		var rec logRecord
		if json.Unmarshal([]byte(line), &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}

// withoutAccessLog returns the lines of a server log that are not access-log lines.
func withoutAccessLog(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// waitLogWithin polls the server log for a line with msg, and fails the test after within.
func waitLogWithin(t *testing.T, srv *testenv.Server, msg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(srv.Logs(), `"msg":"`+msg+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q within %s", msg, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostgresOutageLogLines stops the database while requests fail. The server logs the
// first 503 of each kind in full, then at most one summary line per interval, and one
// "ready again" line once the database is back. The access log and the request counter
// still show every 503.
func TestPostgresOutageLogLines(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	d := newPGDeployment(t, cluster.NewDatabase(t))
	const interval = 300 * time.Millisecond
	node := d.startNode(t, "node", "--max-staleness", "1s", "--failure-log-interval", interval.String())
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "outage")
	waitForKey(t, node, k.ClientID, k.ClientSecret)
	tok := accessToken(t, node, k.ClientID, k.ClientSecret)

	cluster.Stop(t)
	stopped := time.Now()
	waitStatus(t, "bearer request with the database down", http.StatusServiceUnavailable, 10*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), "")
	})
	waitStatus(t, "token request with the database down", http.StatusServiceUnavailable, 10*time.Second, func() int {
		return status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
	})

	// Many failing requests of both kinds, at least 200 rounds and until each kind has had
	// a summary line.
	deadline := time.Now().Add(time.Minute)
	for round := 0; ; round++ {
		got := [3]int{
			status(node.Client, "GET", node.URL+"/v1/vaults", bearerHeader(tok), ""),
			status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret)),
			status(node.Client, "GET", node.URL+"/readyz", nil, ""),
		}
		if got != [3]int{503, 503, 503} {
			t.Fatalf("round %d with the database down: statuses %v for a bearer request, a token request and /readyz, want 503 each", round, got)
		}
		logs := node.Logs()
		if round >= 200 && strings.Contains(logs, msgRequestsSuppressed) && strings.Contains(logs, msgChecksSuppressed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no summary of each kind after %d rounds of failing requests; log:\n%s", round+1, logs)
		}
	}

	cluster.Start(t)
	waitStatus(t, "GET /readyz after the database restarted", http.StatusOK, 30*time.Second, func() int {
		return status(node.Client, "GET", node.URL+"/readyz", nil, "")
	})
	waitLogWithin(t, node, msgReadyAgain, 10*time.Second)
	// Requests that succeed after the outage write no outage lines.
	accessToken(t, node, k.ClientID, k.ClientSecret)
	if r := getVaults(t, node, tok); r.status != http.StatusOK {
		t.Fatalf("bearer request after the outage: status %d, want 200", r.status)
	}
	elapsed := time.Since(stopped)
	logs := node.SyncedLogs(t)
	recs := logRecords(logs)
	defer func() {
		if t.Failed() {
			t.Logf("the server's log without its access log:\n%s", withoutAccessLog(logs))
		}
	}()
	failed503 := metricValue(t, node, `iogate_http_requests_total{code="503",listener="https"}`)

	// Tally the outage lines and the access log's 503 lines.
	byMsg := map[string][]logRecord{}
	accessIDs := map[string]bool{}
	var access503, accessReady503 int
	readyAgainAt := -1
	for i, r := range recs {
		msg := r.str("msg")
		byMsg[msg] = append(byMsg[msg], r)
		if msg == msgReadyAgain {
			readyAgainAt = i
		}
		if readyAgainAt >= 0 && i > readyAgainAt && (msg == msgRequestFailed || msg == msgNotReady || msg == msgRequestsSuppressed || msg == msgChecksSuppressed) {
			t.Errorf("outage line after the outage ended: %v", r)
		}
		if msg == "request" && r.num("status") == http.StatusServiceUnavailable {
			accessIDs[r.str("request_id")] = true
			if r.str("path") == "/readyz" {
				accessReady503++
			} else {
				access503++
			}
		}
	}
	t.Logf("during %s: %d requests and %d /readyz checks got 503; %d and %d summary lines",
		elapsed.Round(time.Millisecond), access503, accessReady503, len(byMsg[msgRequestsSuppressed]), len(byMsg[msgChecksSuppressed]))

	// One full line per kind, with the request ID of a 503 in the access log.
	for _, msg := range []string{msgRequestFailed, msgNotReady} {
		got := byMsg[msg]
		if len(got) != 1 {
			t.Errorf("%d lines %q, want 1", len(got), msg)
			continue
		}
		if id := got[0].str("request_id"); !accessIDs[id] {
			t.Errorf("line %q has request_id %q, want the ID of a 503 in the access log", msg, id)
		}
		if got[0].str("error") == "" {
			t.Errorf("line %q has no error: %v", msg, got[0])
		}
	}
	if got := byMsg[msgRequestFailed]; len(got) == 1 && got[0].num("status") != http.StatusServiceUnavailable {
		t.Errorf("line %q has status %d, want 503", msgRequestFailed, got[0].num("status"))
	}

	// At most one summary per kind and interval, and one more when the outage ended.
	maxSummaries := int(elapsed/interval) + 2
	suppressed := map[string]int{}
	for _, msg := range []string{msgRequestsSuppressed, msgChecksSuppressed} {
		if n := len(byMsg[msg]); n > maxSummaries {
			t.Errorf("%d lines %q in %s, want at most %d at one per %s", n, msg, elapsed, maxSummaries, interval)
		}
		for _, r := range byMsg[msg] {
			if id := r.str("last_request_id"); !accessIDs[id] {
				t.Errorf("line %q has last_request_id %q, want the ID of a 503 in the access log", msg, id)
			}
			if r.num("suppressed") < 1 {
				t.Errorf("line %q has suppressed %d, want at least 1", msg, r.num("suppressed"))
			}
			if r.str("last_detail") == "" {
				t.Errorf("line %q has no last_detail: %v", msg, r)
			}
			suppressed[msg] += r.num("suppressed")
		}
	}

	// One end line whose counts match the full lines, the summaries, the access log and the
	// request counter.
	ended := byMsg[msgReadyAgain]
	if len(ended) != 1 {
		t.Fatalf("%d lines %q, want 1", len(ended), msgReadyAgain)
	}
	e := ended[0]
	if e.str("level") != "INFO" {
		t.Errorf("line %q has level %q, want INFO", msgReadyAgain, e.str("level"))
	}
	if dur, err := iogate.ParseDuration(e.str("unavailable_for")); err != nil || dur <= 0 || dur > elapsed {
		// The outage starts at its first failure, after the database stopped.
		t.Errorf("unavailable_for is %q, want a duration above 0 and at most %s", e.str("unavailable_for"), elapsed)
	}
	failedRequests, failedChecks := e.num("failed_requests"), e.num("failed_readiness_checks")
	if failedRequests != access503 {
		t.Errorf("failed_requests is %d, want the %d 503s of the access log", failedRequests, access503)
	}
	if failedRequests != 1+suppressed[msgRequestsSuppressed] {
		t.Errorf("failed_requests is %d, want 1 logged in full plus the %d suppressed", failedRequests, suppressed[msgRequestsSuppressed])
	}
	if failedRequests < 400 {
		t.Errorf("failed_requests is %d, want at least the 400 of the loop", failedRequests)
	}
	if failedChecks != accessReady503 {
		t.Errorf("failed_readiness_checks is %d, want the %d /readyz 503s of the access log", failedChecks, accessReady503)
	}
	if failedChecks != 1+suppressed[msgChecksSuppressed] {
		t.Errorf("failed_readiness_checks is %d, want 1 logged in full plus the %d suppressed", failedChecks, suppressed[msgChecksSuppressed])
	}
	if int(failed503) != access503+accessReady503 {
		t.Errorf("iogate_http_requests_total counts %v 503 responses, want the %d of the access log", failed503, access503+accessReady503)
	}

	// No credential, token, password or SQL text reaches the outage lines.
	secrets := []string{k.ClientSecret, tok}
	if u, err := url.Parse(d.dbURL); err == nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	for _, msg := range []string{msgRequestFailed, msgNotReady, msgRequestsSuppressed, msgChecksSuppressed, msgReadyAgain} {
		for _, r := range byMsg[msg] {
			line := fmt.Sprint(map[string]any(r))
			for _, s := range secrets {
				if strings.Contains(line, s) {
					t.Errorf("line %q contains a credential, token or password", msg)
				}
			}
			for _, sql := range []string{"SELECT ", "INSERT ", "UPDATE "} {
				if strings.Contains(line, sql) {
					t.Errorf("line %q contains SQL text: %v", msg, r)
				}
			}
		}
	}
}
