package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestMain lets the test binary stand in for iogate-bench when the harness starts its
// baseline server, which it does by running its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "baseline-server" {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	testenv.RemoveBinary()
	os.Exit(code)
}

func TestPercentileNearestRank(t *testing.T) {
	sorted := make([]time.Duration, 1000)
	for i := range sorted {
		sorted[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Millisecond},
		{0.9, 900 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{0.999, 999 * time.Millisecond},
		{1, 1000 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(sorted, tt.q); got != tt.want {
			t.Errorf("percentile(1..1000 ms, %g) = %s, want %s", tt.q, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil, 0.5) = %s, want 0", got)
	}
	if got := percentile(sorted[:1], 0.999); got != time.Millisecond {
		t.Errorf("percentile of one sample = %s, want that sample", got)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestSummarizePairsBaselineRuns(t *testing.T) {
	ms := []*Measurement{
		{Scenario: "vaults", Target: "iogate", Run: 1, RequestsPerSecond: 800},
		{Scenario: "vaults", Target: "baseline", Run: 1, RequestsPerSecond: 1000},
		{Scenario: "vaults", Target: "baseline", Run: 2, RequestsPerSecond: 2000},
		{Scenario: "vaults", Target: "iogate", Run: 2, RequestsPerSecond: 1000},
		{Scenario: "vaults", Target: "iogate", Run: 3, RequestsPerSecond: 900},
		{Scenario: "vaults", Target: "baseline", Run: 3, RequestsPerSecond: 1000},
	}
	summaries := summarize(ms)
	if len(summaries) != 2 {
		t.Fatalf("summarize returned %d summaries, want 2 (iogate, baseline)", len(summaries))
	}
	s := summaries[0]
	if s.Target != "iogate" || s.Runs != 3 {
		t.Fatalf("first summary is %s with %d runs, want iogate with 3", s.Target, s.Runs)
	}
	if s.RequestsPerSecond != 900 {
		t.Errorf("median requests/s = %g, want 900", s.RequestsPerSecond)
	}
	// Per-run ratios 0.8, 0.5 and 0.9: the median is 0.8, which the ratio of the medians
	// (900 / 1000 = 0.9) would not give.
	if s.VsBaseline != 0.8 {
		t.Errorf("VsBaseline = %g, want 0.8", s.VsBaseline)
	}
	if summaries[1].VsBaseline != 0 {
		t.Errorf("the baseline's own VsBaseline = %g, want 0", summaries[1].VsBaseline)
	}
}

func TestParseGoBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkAuthenticateCached-2   	 1455435	       840.9 ns/op	     96 B/op	       2 allocs/op
BenchmarkAuthenticateCached-2   	 1455435	       900.0 ns/op	     96 B/op	       2 allocs/op
BenchmarkAuthenticateCached-2   	 1455435	       700.0 ns/op	     96 B/op	       2 allocs/op
BenchmarkSign/EdDSA-2         	   35491	     31201 ns/op	    1696 B/op	       4 allocs/op
PASS
`)
	got := parseGoBench(out)
	if len(got) != 2 {
		t.Fatalf("parseGoBench found %d benchmarks, want 2", len(got))
	}
	if got[0].name != "BenchmarkAuthenticateCached" || got[0].runs != 3 || got[0].nsPerOp != 840.9 || got[0].allocsPerOp != 2 {
		t.Errorf("first benchmark = %+v, want BenchmarkAuthenticateCached, 3 runs, median 840.9 ns, 2 allocs", got[0])
	}
	if got[1].name != "BenchmarkSign/EdDSA" || got[1].bytesPerOp != 1696 {
		t.Errorf("second benchmark = %+v, want BenchmarkSign/EdDSA with 1696 B/op", got[1])
	}
}

func TestReadProcStatsOfSelf(t *testing.T) {
	s, err := readProcStats(os.Getpid())
	if err != nil {
		t.Skipf("no /proc on this system: %v", err)
	}
	if s.RSS <= 0 || s.PeakRSS < s.RSS {
		t.Errorf("readProcStats(self) = %+v, want RSS > 0 and peak RSS >= RSS", s)
	}
}

func TestReadKeysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	content := `{"clientId": "a", "clientSecret": "s1", "name": "x"}
[{"clientId": "b", "clientSecret": "s2"}, {"clientId": "c", "clientSecret": "s3"}]`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := readKeysFile(path)
	if err != nil {
		t.Fatalf("readKeysFile: %v", err)
	}
	var ids []string
	for _, c := range creds {
		ids = append(ids, c.clientID)
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Errorf("client IDs = %v, want a, b, c", ids)
	}

	if err := os.WriteFile(path, []byte(`{"clientId": "a"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readKeysFile(path); err == nil {
		t.Error("readKeysFile accepted an entry without clientSecret")
	}
}

func TestConfigRejectsNonLoopbackURL(t *testing.T) {
	for _, u := range []string{"https://10.0.0.1:8443", "https://example.com", "http://127.0.0.1:8443", "https://127.0.0.1:8443/v1"} {
		_, err := parseConfig([]string{"--url", u, "--client-id", "a", "--client-secret", "b"}, func(string) string { return "" }, &bytes.Buffer{})
		if err == nil {
			t.Errorf("parseConfig accepted --url %s", u)
		}
	}
	for _, u := range []string{"https://127.0.0.1:8443", "https://[::1]:8443", "https://localhost:8443"} {
		if _, err := parseConfig([]string{"--url", u, "--client-id", "a", "--client-secret", "b"}, func(string) string { return "" }, &bytes.Buffer{}); err != nil {
			t.Errorf("parseConfig rejected --url %s: %v", u, err)
		}
	}
}

// TestBenchmarkStartedIOGate runs every scenario briefly against an iogate the harness
// starts, with the baseline server, and renders the report page. It checks what the
// harness counts, never how fast anything was. Two runs of each scenario put token and vault
// runs after a mixed run, whose key rotations must leave every load key usable.
func TestBenchmarkStartedIOGate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts iogate and loads it; skipped with -short")
	}
	bin := testenv.Binary(t)
	args := []string{
		"--start", "--iogate-bin", bin, "--json", "--scenario", "token,oauth2-token,vaults,mixed", "--baseline",
		"-c", "2", "-d", "600ms", "--warmup", "200ms", "--key-count", "40", "--load-keys", "8",
		"--churn-interval", "100ms", "--server-log-level", "warn", "--runs", "2",
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("iogate-bench: %v\nprogress output:\n%s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the --json output is not a report: %v", err)
	}
	if len(rep.Startups) != 1 || rep.Startups[0].Keys < 40 {
		t.Errorf("startups = %+v, want one iogate with at least 40 keys", rep.Startups)
	}

	for _, want := range []struct{ scenario, target string }{
		{"token", "iogate"}, {"vaults", "iogate"}, {"vaults", "baseline"}, {"mixed", "iogate"},
	} {
		s := findSummary(rep.Summaries, want.scenario, want.target)
		if s == nil || s.Runs != 2 {
			t.Errorf("%s on %s: summary %+v, want two measured runs", want.scenario, want.target, s)
			continue
		}
		if s.Responses == 0 || s.RequestsPerSecond <= 0 {
			t.Errorf("%s on %s: %d responses, %g requests/s; want some", want.scenario, want.target, s.Responses, s.RequestsPerSecond)
		}
		if len(s.Errors) > 0 {
			t.Errorf("%s on %s: errors %v, want none", want.scenario, want.target, s.Errors)
		}
		if s.ServerCPUPer1000 == nil || s.ServerPeakRSSBytes == 0 {
			t.Errorf("%s on %s: server CPU %v and peak RSS %d, want both measured", want.scenario, want.target, s.ServerCPUPer1000, s.ServerPeakRSSBytes)
		}
	}
	if s := findSummary(rep.Summaries, "vaults", "iogate"); s != nil && s.VsBaseline <= 0 {
		t.Errorf("vaults on iogate: VsBaseline = %g, want the ratio to the baseline", s.VsBaseline)
	}
	if s := findSummary(rep.Summaries, "oauth2-token", "iogate"); s == nil || (s.Unavailable == "" && s.Responses == 0) {
		t.Errorf("oauth2-token: summary %+v, want either measured or marked unavailable", s)
	}
	mixed := findSummary(rep.Summaries, "mixed", "iogate")
	if mixed != nil && (mixed.Deletions == 0 || mixed.NotRevoked != 0) {
		t.Errorf("mixed: %d deletions, %d not revoked within %s; want at least one deletion, all revoked", mixed.Deletions, mixed.NotRevoked, revocationDeadline)
	}

	// The page renders from the report.
	reportFile := filepath.Join(t.TempDir(), "main.json")
	if err := os.WriteFile(reportFile, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := run(ctx, []string{"report", "--main", reportFile, "--revision", "0123456789ab"}, nil, &page, &stderr); err != nil {
		t.Fatalf("iogate-bench report: %v", err)
	}
	for _, want := range []string{"from revision `0123456789ab`", "## Machine", "## Results", "## Against the targets", "| token | iogate |"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the report page lacks %q", want)
		}
	}
}

func TestReadAuditCommits(t *testing.T) {
	body := "# HELP iogate_audit_commit_records Audit records per successful group commit.\n" +
		"# TYPE iogate_audit_commit_records histogram\n" +
		"iogate_audit_commit_records_bucket{le=\"1\"} 3\n" +
		"iogate_audit_commit_records_sum 120\n" +
		"iogate_audit_commit_records_count 30\n" +
		"iogate_audit_commit_seconds_sum 0.5\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer srv.Close()
	got, err := readAuditCommits(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("readAuditCommits: %v", err)
	}
	if got != (auditCommits{records: 120, commits: 30, seconds: 0.5}) {
		t.Fatalf("readAuditCommits = %+v, want 120 records in 30 commits of 0.5 s in all", got)
	}
	if mean := (auditCommits{records: 100, commits: 25, seconds: 0.25}).meanSeconds(got); mean != 0.05 {
		t.Errorf("meanSeconds = %v, want 0.05 (0.25 s over 5 commits)", mean)
	}
	if per := (auditCommits{records: 100, commits: 25}).perCommit(got); per != 4 {
		t.Errorf("perCommit = %v, want 4 (20 records in 5 commits)", per)
	}
	if per := got.perCommit(got); per != 0 {
		t.Errorf("perCommit with no commit in between = %v, want 0", per)
	}

	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") }))
	defer empty.Close()
	if _, err := readAuditCommits(context.Background(), empty.URL); err == nil {
		t.Error("readAuditCommits accepted metrics without the histogram")
	}
}

// startBaseline starts the baseline server in process with body and a header file of
// headerText, and returns its address and a client connection to it.
func startBaseline(t *testing.T, body []byte, headerText string) (string, *conn) {
	t.Helper()
	dir := t.TempDir()
	bodyFile, headerFile := filepath.Join(dir, "body.json"), filepath.Join(dir, "header.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(headerFile, []byte(headerText), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runBaselineServer(ctx, []string{"--body-file", bodyFile, "--header-file", headerFile, "--cert-dir", dir}, logW)
		logW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, logR)
		if err := <-done; err != nil {
			t.Errorf("baseline server: %v", err)
		}
	})
	var ready struct {
		Msg  string `json:"msg"`
		Addr string `json:"https_addr"`
	}
	if err := json.NewDecoder(logR).Decode(&ready); err != nil || ready.Msg != baselineReadyMsg {
		t.Fatalf("first log line of the baseline server: %+v, %v", ready, err)
	}
	go io.Copy(io.Discard, logR)

	tlsConf, err := clientTLS(filepath.Join(dir, "cert.pem"), false, ready.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(ready.Addr, tlsConf, 10*time.Second)
	t.Cleanup(c.close)
	return ready.Addr, c
}

// TestBaselineSendsCapturedResponse starts the baseline server with a header and a
// body as the harness captures them from iogate, and checks that a response carries the
// same fields and bytes. Date is net/http's own in both servers.
func TestBaselineSendsCapturedResponse(t *testing.T) {
	body := []byte(`{"vaults":[],"nextCursor":null}` + "\n")
	header := http.Header{
		"Content-Type":              {"application/json"},
		"Content-Length":            {"999"},
		"Date":                      {"Thu, 01 Jan 2026 00:00:00 GMT"},
		"Cache-Control":             {"no-store"},
		"Strict-Transport-Security": {"max-age=63072000; includeSubDomains"},
		"X-Content-Type-Options":    {"nosniff"},
		"X-Request-Id":              {"0123456789abcdef0123456789abcdef"},
	}
	headerJSON, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	addr, c := startBaseline(t, body, string(headerJSON))

	status, got, err := c.do(context.Background(), requestBytes("GET", addr, "/v1/vaults", [][2]string{{"Authorization", "Bearer x"}}, nil))
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /v1/vaults: status %d, error %v", status, err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body = %q, want %q", got, body)
	}
	for name, want := range header {
		if name == "Date" || name == "Content-Length" {
			continue
		}
		if v := c.header.Values(name); len(v) != 1 || v[0] != want[0] {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if v := c.header.Get("Content-Length"); v != fmt.Sprint(len(body)) {
		t.Errorf("Content-Length = %q, want %d, the length of the body", v, len(body))
	}
	if v := c.header.Get("Date"); v == header.Get("Date") || v == "" {
		t.Errorf("Date = %q, want the time of the response", v)
	}
	if n := len(c.header); n != len(header) {
		t.Errorf("the response has %d header fields, want %d: %v", n, len(header), c.header)
	}
}

// TestBaselineLongBodyLength gives the baseline a body longer than the 2,048 bytes that
// net/http buffers before it sends a response chunked. iogate sends such a vault list with
// Content-Length, so the baseline must too.
func TestBaselineLongBodyLength(t *testing.T) {
	body := []byte(`{"data":[` + strings.Repeat(`{"id":"x"},`, 400) + `{}]}` + "\n")
	addr, c := startBaseline(t, body, `{"Content-Type":["application/json"],"Cache-Control":["no-store"]}`)

	status, got, err := c.do(context.Background(), requestBytes("GET", addr, "/v1/vaults", nil, nil))
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /v1/vaults: status %d, error %v", status, err)
	}
	if len(got) != len(body) {
		t.Errorf("body of %d bytes, want %d", len(got), len(body))
	}
	if v := c.header.Get("Content-Length"); v != fmt.Sprint(len(body)) {
		t.Errorf("Content-Length = %q, want %d", v, len(body))
	}
	if v := c.header.Get("Transfer-Encoding"); v != "" {
		t.Errorf("Transfer-Encoding = %q, want none", v)
	}
}

// TestHeaderFileInvalid checks that readHeaderFile returns an error for a header file that
// the baseline could not send as written, rather than serving other bytes.
func TestHeaderFileInvalid(t *testing.T) {
	dir := t.TempDir()
	for i, text := range []string{
		"", "{", "[]", "null", "{}", `{"A":"b"}`, `{"A":[1]}`, strings.Repeat("[", 100000),
		`{"X-A":["a\r\nSet-Cookie: s=1"]}`, `{"X-A":["a\u0000"]}`, `{"Bad Name":["v"]}`, `{"":["v"]}`,
	} {
		path := filepath.Join(dir, fmt.Sprint("header", i))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if fields, err := readHeaderFile(path); err == nil {
			t.Errorf("readHeaderFile accepted %.40q: %v", text, fields)
		}
	}
	if _, err := readHeaderFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("readHeaderFile accepted a missing file")
	}
}

// TestHeaderFileValid checks that readHeaderFile keeps tabs in values and skips the fields
// that the server writes itself.
func TestHeaderFileValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "header.json")
	if err := os.WriteFile(path, []byte(`{"x-a":["a\tb"],"Date":["d"],"Content-Length":["1"],"Connection":["close"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fields, err := readHeaderFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 1 || fields[0].name != "X-A" || len(fields[0].values) != 1 || fields[0].values[0] != "a\tb" {
		t.Errorf("fields = %q, want only X-A: a<tab>b", fields)
	}
}
