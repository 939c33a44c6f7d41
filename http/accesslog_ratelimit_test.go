package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAccessLogRateLimit checks that the access-log line of a 429 names its limit in
// rate_limit, with the label values of iogate_rate_limit_hits_total. It checks lines built
// with logging.Line and through slog. The lines of the requests that the limits let
// through have no rate_limit.
func TestAccessLogRateLimit(t *testing.T) {
	failures := RateLimits{FailureWindow: time.Hour, BlockDuration: time.Hour}
	slowdown, blocked := failures, failures
	slowdown.FailuresBeforeSlowdown, slowdown.FailuresBeforeBlock = 1, 100
	blocked.FailuresBeforeBlock = 2
	cases := []struct {
		want   string
		limits RateLimits
		// bearer sends the requests to the /v1 API with a valid token, and the others
		// send token requests with a wrong secret.
		bearer bool
	}{
		{"address", RateLimits{TokenPerAddress: 1, TokenPerAddressBurst: 1}, false},
		{"client", RateLimits{TokenPerClient: 1, TokenPerClientBurst: 1}, false},
		{"key", RateLimits{APIPerKey: 1, APIPerKeyBurst: 1}, true},
		{"slowdown", slowdown, false},
		{"blocked", blocked, false},
	}
	for _, c := range cases {
		for _, fast := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s fast %v", c.want, fast), func(t *testing.T) {
				var out bytes.Buffer
				api, w := newAccessLogAPIWith(t, &out, time.Hour, !fast, Options{RateLimitsEnabled: true, RateLimits: c.limits})
				h := api.srv.Handler()
				_, _, token := api.newWriter(t)

				statuses := make([]int, 3)
				for i := range statuses {
					var req *http.Request
					if c.bearer {
						req = httptest.NewRequest(http.MethodGet, "https://iogate.test/v1/vaults", nil)
						req.Header.Set("Authorization", "Bearer "+token)
					} else {
						body := `{"clientId":"` + api.clientID + `","clientSecret":"iogs_wrong"}`
						req = httptest.NewRequest(http.MethodPost, "https://iogate.test/v1/auth/accessToken", strings.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
					}
					req.RemoteAddr = "192.0.2.7:40000"
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					statuses[i] = rec.Code
				}
				if statuses[2] != http.StatusTooManyRequests {
					t.Fatalf("statuses %v, want the third to be 429", statuses)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}

				// The slowdown and the block add a warning of their own between the lines.
				var lines []string
				for line := range strings.Lines(out.String()) {
					if strings.Contains(line, `"msg":"request"`) {
						lines = append(lines, line)
					}
				}
				if len(lines) != len(statuses) {
					t.Fatalf("%d lines, want %d:\n%s", len(lines), len(statuses), out.String())
				}
				for i, line := range lines {
					var got struct {
						Status    int     `json:"status"`
						ErrorCode string  `json:"error_code"`
						RateLimit *string `json:"rate_limit"`
					}
					if err := json.Unmarshal([]byte(line), &got); err != nil {
						t.Fatalf("line %d is not JSON: %v", i, err)
					}
					if got.Status != http.StatusTooManyRequests {
						if got.RateLimit != nil {
							t.Errorf("line %d, status %d: rate_limit %q, want none", i, got.Status, *got.RateLimit)
						}
						continue
					}
					if got.ErrorCode != "rate_limited" {
						t.Errorf("line %d: error_code %q, want rate_limited", i, got.ErrorCode)
					}
					if got.RateLimit == nil || *got.RateLimit != c.want {
						t.Errorf("line %d: rate_limit %v, want %q", i, got.RateLimit, c.want)
					}
				}
			})
		}
	}
}
