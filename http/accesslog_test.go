package http

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/logging"
)

// newAccessLogAPI returns a test API that logs through logging.NewJSON to out, as "iogate
// serve" does, and the writer under that handler. With slogOnly, every line goes through slog.
func newAccessLogAPI(t *testing.T, out io.Writer, interval time.Duration, slogOnly bool) (*testAPI, *logging.BufferedWriter) {
	t.Helper()
	return newAccessLogAPIWith(t, out, interval, slogOnly, Options{})
}

// newAccessLogAPIWith is newAccessLogAPI with a server configured by opts.
func newAccessLogAPIWith(t *testing.T, out io.Writer, interval time.Duration, slogOnly bool, opts Options) (*testAPI, *logging.BufferedWriter) {
	t.Helper()
	w := logging.NewBufferedWriter(out, interval)
	var h slog.Handler = logging.NewJSON(w, slog.LevelInfo)
	if slogOnly {
		h = slogOnlyHandler{h}
	}
	return newTestAPIWithLog(t, opts, slog.New(h)), w
}

// slogOnlyHandler hides the handler type that logging.LineWriter looks for.
type slogOnlyHandler struct{ slog.Handler }

// TestAccessLogLines checks the access-log lines of a server that writes them without slog,
// as "iogate serve" does, both for requests that take that way and for those that fall back
// to slog because a value needs escaping or redaction. An error response's line names its
// code.
func TestAccessLogLines(t *testing.T) {
	var out bytes.Buffer
	api, w := newAccessLogAPI(t, &out, time.Hour, false)
	if api.srv.lines != w {
		t.Fatal("the server did not find the writer under its logger")
	}
	h := api.srv.Handler()

	requests := []struct {
		target, wantPath string
		wantStatus       int
		wantCode         string
	}{
		{"/healthz", "/healthz", http.StatusOK, ""},
		{"/v1/vaults", "/v1/vaults", http.StatusUnauthorized, "missing_token"},
		{"/v1/x%22y%5Cz", `/v1/x"y\z`, http.StatusNotFound, "not_found"},
		{"/v1/caf%C3%A9", "/v1/caf\u00e9", http.StatusNotFound, "not_found"},
		{"/v1/iogs_0123456789abcdefghij", "/v1/[REDACTED]", http.StatusNotFound, "not_found"},
		{"/v1/%C2%9B31m%C2%9D0;x%C2%9C", `/v1/\u009b31m\u009d0;x\u009c`, http.StatusNotFound, "not_found"},
	}
	var ids []string
	for _, r := range requests {
		req := httptest.NewRequest(http.MethodGet, "https://iogate.test"+r.target, nil)
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ids = append(ids, rec.Header().Get("X-Request-Id"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	if strings.Contains(out.String(), "iogs_") {
		t.Errorf("access log contains a client secret: %s", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(requests) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(requests), out.String())
	}
	for i, r := range requests {
		var got struct {
			Time       time.Time `json:"time"`
			Level      string    `json:"level"`
			Msg        string    `json:"msg"`
			RequestID  string    `json:"request_id"`
			Method     string    `json:"method"`
			Path       string    `json:"path"`
			Status     int       `json:"status"`
			RemoteAddr string    `json:"remote_addr"`
			DurationMS *float64  `json:"duration_ms"`
			ErrorCode  string    `json:"error_code"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Errorf("line %d is not JSON: %v: %s", i, err, lines[i])
			continue
		}
		if got.Time.IsZero() {
			t.Errorf("line %d has no time: %s", i, lines[i])
		}
		if got.Level != "INFO" {
			t.Errorf("line %d: level %q, want INFO", i, got.Level)
		}
		if got.Msg != "request" {
			t.Errorf("line %d: msg %q, want request", i, got.Msg)
		}
		if got.RequestID != ids[i] {
			t.Errorf("line %d: request_id %q, want the response's X-Request-Id %q", i, got.RequestID, ids[i])
		}
		if got.Method != http.MethodGet {
			t.Errorf("line %d: method %q, want GET", i, got.Method)
		}
		if got.Path != r.wantPath {
			t.Errorf("line %d: path %q, want %q", i, got.Path, r.wantPath)
		}
		if got.Status != r.wantStatus {
			t.Errorf("line %d: status %d, want %d", i, got.Status, r.wantStatus)
		}
		if got.RemoteAddr != "192.0.2.7" {
			t.Errorf("line %d: remote_addr %q, want 192.0.2.7", i, got.RemoteAddr)
		}
		if got.DurationMS == nil || *got.DurationMS < 0 {
			t.Errorf("line %d: duration_ms missing or negative: %s", i, lines[i])
		}
		if got.ErrorCode != r.wantCode {
			t.Errorf("line %d: error_code %q, want %q", i, got.ErrorCode, r.wantCode)
		}
	}
}
