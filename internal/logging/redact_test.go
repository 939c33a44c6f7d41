package logging

import (
	"bytes"
	"errors"
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
