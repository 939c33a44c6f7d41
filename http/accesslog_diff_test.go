package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// volatileFields matches the values that differ between two runs of one request.
var volatileFields = regexp.MustCompile(`"time":"[^"]*"|"request_id":"[0-9a-f]{32}"|"duration_ms":[0-9.e+-]+`)

// TestAccessLogLineMatchesSlog sends each request twice, once to a server that builds
// access-log lines with logging.Line and once to one that logs them through slog, and
// compares the two lines with the time, request ID and duration blanked out.
func TestAccessLogLineMatchesSlog(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	requests := []struct {
		name, method, target, remote, forwardedFor string
	}{
		{"plain", "GET", "/healthz", "192.0.2.7:40000", ""},
		{"html characters", "GET", "/v1/a%3Cb%3E&c", "192.0.2.7:40000", ""},
		{"quote", "GET", "/v1/x%22y", "192.0.2.7:40000", ""},
		{"backslash", "GET", "/v1/x%5Cy", "192.0.2.7:40000", ""},
		{"delete character", "GET", "/v1/x%7Fy", "192.0.2.7:40000", ""},
		{"NUL", "GET", "/v1/x%00y", "192.0.2.7:40000", ""},
		{"invalid UTF-8", "GET", "/v1/x%FFy", "192.0.2.7:40000", ""},
		{"line separator", "GET", "/v1/x%E2%80%A8y", "192.0.2.7:40000", ""},
		{"client secret", "GET", "/v1/iogs_0123456789abcdef", "192.0.2.7:40000", ""},
		{"bearer", "GET", "/v1/bEaReR%20abcdefghijkl", "192.0.2.7:40000", ""},
		{"password in URL", "GET", "/v1/https:%2F%2Fuser:pass@host", "192.0.2.7:40000", ""},
		{"JWT", "GET", "/v1/eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnYWJjZGVm", "192.0.2.7:40000", ""},
		{"custom method", "PURGE", "/healthz", "192.0.2.7:40000", ""},
		{"secret as method", "iogs_0123456789abcdef", "/healthz", "192.0.2.7:40000", ""},
		{"IPv6 peer", "GET", "/healthz", "[2001:db8::1]:40000", ""},
		{"IPv4-mapped peer", "GET", "/healthz", "[::ffff:192.0.2.9]:40000", ""},
		{"zoned peer", "GET", "/healthz", "[fe80::1%eth0]:40000", ""},
		{"forwarded IPv6", "GET", "/healthz", "10.1.2.3:40000", "2001:db8::5"},
		{"forwarded mapped", "GET", "/healthz", "10.1.2.3:40000", "::ffff:198.51.100.1"},
		{"forwarded with port", "GET", "/healthz", "[::1]:40000", "[2001:db8::6]:443, 10.0.0.1"},
		{"forwarded garbage", "GET", "/healthz", "10.1.2.3:40000", "not-an-ip\", 10.0.0.2"},
		{"forwarded zone", "GET", "/healthz", "10.1.2.3:40000", "fe80::1%eth0"},
		{"peer without port", "GET", "/healthz", "192.0.2.7", ""},
		{"empty peer", "GET", "/healthz", "", ""},
	}
	// run serves one request and returns its access-log line with the volatile fields
	// blanked out. With fast set, the server writes the line with logging.Line.
	run := func(t *testing.T, fast bool, method, target, remote, forwardedFor string) string {
		var out bytes.Buffer
		api, w := newAccessLogAPI(t, &out, time.Hour, !fast)
		if (api.srv.lines != nil) != fast {
			t.Fatalf("server writes lines without slog: %v, want %v", api.srv.lines != nil, fast)
		}
		api.srv.SetOptions(Options{TrustedProxies: proxies})
		// httptest.NewRequest rejects some of the methods, so the method is set afterwards.
		req := httptest.NewRequest(http.MethodGet, "https://iogate.test"+target, nil)
		req.Method = method
		req.RemoteAddr = remote
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		api.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return volatileFields.ReplaceAllString(out.String(), "#")
	}
	for _, r := range requests {
		t.Run(r.name, func(t *testing.T) {
			fast := run(t, true, r.method, r.target, r.remote, r.forwardedFor)
			slow := run(t, false, r.method, r.target, r.remote, r.forwardedFor)
			if fast != slow {
				t.Errorf("access-log line differs:\n  fast %s\n  slog %s", fast, slow)
			}
		})
	}
}

// TestAccessLogClientID checks that the access-log line names the client of a request
// that authenticated, with its secret or with a bearer token, and names none for a request
// whose authentication failed, in lines built with logging.Line and through slog alike.
func TestAccessLogClientID(t *testing.T) {
	for _, fast := range []bool{true, false} {
		var out bytes.Buffer
		api, w := newAccessLogAPI(t, &out, time.Hour, !fast)
		h := api.srv.Handler()
		send := func(method, target, contentType, body, authorization string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, "https://iogate.test"+target, strings.NewReader(body))
			req.RemoteAddr = "192.0.2.7:40000"
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		issued := send("POST", "/v1/auth/accessToken", "application/json", `{"clientId":"`+api.clientID+`","clientSecret":"`+api.secret+`"}`, "")
		var tok struct{ AccessToken string }
		if err := json.Unmarshal(issued.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("token request: status %d, no access token", issued.Code)
		}
		send("POST", "/v1/auth/accessToken", "application/json", `{"clientId":"`+api.clientID+`","clientSecret":"wrong-secret-of-some-length"}`, "")
		send("GET", "/v1/vaults", "", "", "Bearer "+tok.AccessToken)
		send("GET", "/v1/vaults", "", "", "Bearer not.a.token")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}

		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		want := []string{api.clientID, "", api.clientID, ""}
		if len(lines) != len(want) {
			t.Fatalf("fast %v: %d lines, want %d", fast, len(lines), len(want))
		}
		for i, line := range lines {
			var got struct {
				Status   int    `json:"status"`
				ClientID string `json:"client_id"`
			}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("fast %v: line %d does not parse: %v", fast, i, err)
			}
			if got.ClientID != want[i] {
				t.Errorf("fast %v: line %d (status %d) has client_id %q, want %q", fast, i, got.Status, got.ClientID, want[i])
			}
		}
	}
}
