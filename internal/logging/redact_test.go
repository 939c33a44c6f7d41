package logging

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	const (
		secret = "iogs_4Kq7bW2xY9zR1mN8pL3vT6sD0fG5hJ2kQ7wE9rT1yU3"
		jwt    = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJlLWJ5dGVz"
	)
	cases := []struct {
		name   string
		log    func(l *slog.Logger)
		absent string
		keep   string
	}{
		{"sensitive key", func(l *slog.Logger) { l.Info("m", "client_secret", "anything-at-all") }, "anything-at-all", `"client_secret":"[REDACTED]"`},
		{"sensitive key in another spelling", func(l *slog.Logger) { l.Info("m", "Authorization", "Basic abc") }, "Basic abc", `"Authorization":"[REDACTED]"`},
		{"secret inside a value", func(l *slog.Logger) { l.Info("m", "detail", "bad secret "+secret+" given") }, secret, "bad secret [REDACTED] given"},
		{"token inside an error", func(l *slog.Logger) { l.Info("m", "error", errors.New("parse "+jwt+": bad")) }, jwt, "parse [REDACTED]: bad"},
		{"bearer value", func(l *slog.Logger) { l.Info("m", "header", "Bearer abcdefghijklmnop") }, "abcdefghijklmnop", "[REDACTED]"},
		{"message", func(l *slog.Logger) { l.Info("got " + secret) }, secret, `"msg":"got [REDACTED]"`},
		{"password in a URL", func(l *slog.Logger) { l.Info("m", "database", "postgres://app:hunter2@db/iogate") }, "hunter2", "postgres://app:[REDACTED]@db/iogate"},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("req", "token", "t0k3n", "path", "/v1")) }, "t0k3n", `"path":"/v1"`},
		{"logger attributes", func(l *slog.Logger) { l.With("cookie", "sid=42").Info("m") }, "sid=42", `"cookie":"[REDACTED]"`},
		{"sensitive key with a number", func(l *slog.Logger) { l.Info("m", "pepper", 424242) }, "424242", `"pepper":"[REDACTED]"`},
		{"C1 control in a value", func(l *slog.Logger) { l.Info("m", "path", "/v1/\u009b31m\u009d0;x\u009c") }, "\u009b", `"path":"/v1/\\u009b31m\\u009d0;x\\u009c"`},
		{"C1 control in an error", func(l *slog.Logger) { l.Info("m", "error", errors.New("bad \u0085 line")) }, "\u0085", `"error":"bad \\u0085 line"`},
		{"C1 control in the message", func(l *slog.Logger) { l.Info("m\u009b") }, "\u009b", `"msg":"m\\u009b"`},
		{"C1 control beside a secret", func(l *slog.Logger) { l.Info("m", "detail", secret+"\u009b") }, secret, `"detail":"[REDACTED]\\u009b"`},
		{"other non-ASCII passes", func(l *slog.Logger) { l.Info("m", "path", "/v1/caf\u00e9\u00c2") }, "\\u00", "\"path\":\"/v1/caf\u00e9\u00c2\""},
		{"ordinary values pass", func(l *slog.Logger) { l.Info("m", "client_id", "6f1c2a7e", "status", 401) }, "[REDACTED]", `"client_id":"6f1c2a7e","status":401`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			c.log(slog.New(Redact(slog.NewJSONHandler(&buf, nil))))
			out := buf.String()
			if strings.Contains(out, c.absent) {
				t.Errorf("log line contains %q, want it redacted: %s", c.absent, out)
			}
			if !strings.Contains(out, c.keep) {
				t.Errorf("log line lacks %q: %s", c.keep, out)
			}
		})
	}
}

func TestMayHoldSecretCoversThePattern(t *testing.T) {
	for _, s := range []string{
		"iogs_4Kq7bW2xY9zR1mN8", "x eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjbGllbnQifQ.c2ln", "BEARER abcdefghij",
		"bAsIc dXNlcjpwYXNzd29yZA==", "postgres://app:hunter2@db", "Bearer\tabcdefghij",
		"ba\u017fic dXNlcjpwYXNzd29yZA==",
	} {
		if !secretPattern.MatchString(s) {
			t.Fatalf("secretPattern does not match %q; fix the test case", s)
		}
		if !mayHoldSecret(s) {
			t.Errorf("mayHoldSecret(%q) = false, but the pattern matches it", s)
		}
	}
	for _, s := range []string{"/v1/vaults", "GET", "127.0.0.1", "6f1c2a7e-5b1d-4c1e-9a57-1f2d3c4b5a69", "", "bear", "basi"} {
		if mayHoldSecret(s) {
			t.Errorf("mayHoldSecret(%q) = true, want false", s)
		}
	}
}

// BenchmarkRedactAccessLog logs an access-log line, as the HTTP middleware does for every
// request, through the redacting handler.
func BenchmarkRedactAccessLog(b *testing.B) {
	l := slog.New(Redact(slog.NewJSONHandler(io.Discard, nil)))
	b.ReportAllocs()
	for b.Loop() {
		l.Info("request", "request_id", "4f1d2c3b4a5968778695a4b3c2d1e0f1", "method", "GET", "path", "/v1/vaults",
			"status", 200, "remote_addr", "127.0.0.1", "duration_ms", 0.42)
	}
}

// TestSensitiveKeySpellings checks that the allocation-free comparison of short ASCII keys
// agrees with the general one, and that keys outside ASCII still take the general path.
func TestSensitiveKeySpellings(t *testing.T) {
	general := func(key string) bool { return sensitiveKeys[strings.ToLower(keySeparators.Replace(key))] }
	keys := []string{"request_id", "Client-Secret", "CLIENT_SECRET", "__token__", "access-token", "path", "status",
		"remote_addr", "Set-Cookie", "x", "", "databaseURL", "pass_word",
		"to\u212Aen", // KELVIN SIGN, which lower-cases to an ASCII k
		strings.Repeat("a", 40) + "token",
		"authorization" + strings.Repeat("_", 30)}
	for _, k := range keys {
		if got, want := isSensitiveKey(k), general(k); got != want {
			t.Errorf("isSensitiveKey(%q) = %v, the general comparison says %v", k, got, want)
		}
	}
	if !isSensitiveKey("to\u212Aen") {
		t.Error("a key that lower-cases to token is not treated as secret")
	}
}
