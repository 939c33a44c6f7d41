package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"testing"
	"time"
)

// lineAttr is an attribute that a test adds both to a slog record and to a Line.
type lineAttr struct {
	attr slog.Attr
	add  func(Line) Line
}

func str(key, value string) lineAttr {
	return lineAttr{slog.String(key, value), func(l Line) Line { return l.String(key, value) }}
}

func integer(key string, value int64) lineAttr {
	return lineAttr{slog.Int64(key, value), func(l Line) Line { return l.Int(key, value) }}
}

func float(key string, value float64) lineAttr {
	return lineAttr{slog.Float64(key, value), func(l Line) Line { return l.Float(key, value) }}
}

func addr(key, value string) lineAttr {
	var a netip.Addr
	if value != "" {
		a = netip.MustParseAddr(value)
	}
	return lineAttr{slog.String(key, a.String()), func(l Line) Line { return l.Addr(key, a) }}
}

// handlerLine returns what the NewJSON handler writes for a record.
func handlerLine(t *testing.T, at time.Time, msg string, attrs []lineAttr) string {
	t.Helper()
	var out bytes.Buffer
	w := NewBufferedWriter(&out, time.Hour)
	r := slog.NewRecord(at, slog.LevelInfo, msg, 0)
	for _, a := range attrs {
		r.AddAttrs(a.attr)
	}
	if err := NewJSON(w, slog.LevelInfo).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestLineMatchesHandler(t *testing.T) {
	at := time.Date(2026, 12, 5, 6, 30, 1, 120_000_000, time.UTC)
	cases := []struct {
		name   string
		at     time.Time
		msg    string
		attrs  []lineAttr
		wantOK bool
	}{
		{"access line", at, "request", []lineAttr{
			str("request_id", "4f1d2c3b4a5968778695a4b3c2d1e0f1"), str("method", "GET"), str("path", "/v1/vaults"),
			integer("status", 200), addr("remote_addr", "127.0.0.1"), float("duration_ms", 0.042),
		}, true},
		{"IPv6 peer and HTML characters", at, "request", []lineAttr{
			str("path", "/v1/a<b>&c"), addr("peer_addr", "2001:db8::1"), addr("remote_addr", "::ffff:192.0.2.1"),
		}, true},
		{"whole nanoseconds and a local zone", time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 5*3600+1800)), "request", nil, true},
		{"floats in fixed notation", at, "request", []lineAttr{
			float("a", 0.0), float("b", math.Copysign(0, -1)), float("c", 1e-6), float("d", 123456.789), float("e", 1e20), float("f", -2.5),
		}, true},
		{"negative and large integers", at, "request", []lineAttr{integer("a", -1), integer("b", math.MaxInt64)}, true},
		{"quote in a value", at, "request", []lineAttr{str("path", `/v1/x"y`)}, false},
		{"backslash in a value", at, "request", []lineAttr{str("path", `/v1/x\y`)}, false},
		{"control character in a value", at, "request", []lineAttr{str("path", "/v1/x\ny")}, false},
		{"non-ASCII value", at, "request", []lineAttr{str("path", "/v1/caf\u00e9")}, false},
		{"invalid UTF-8 value", at, "request", []lineAttr{str("path", "/v1/\xff")}, false},
		{"line separator in a value", at, "request", []lineAttr{str("path", "/v1/\u2028")}, false},
		{"quote in a key", at, "request", []lineAttr{str(`pa"th`, "/")}, false},
		{"quote in the message", at, `say "hi"`, nil, false},
		{"client secret in a value", at, "request", []lineAttr{str("path", "/v1/iogs_0123456789abcdef")}, false},
		{"bearer credential in a value", at, "request", []lineAttr{str("note", "Bearer abcdefghijkl")}, false},
		{"JWT in the message", at, "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", nil, false},
		{"sensitive key", at, "request", []lineAttr{str("client_secret", "x")}, false},
		{"sensitive key in other case", at, "request", []lineAttr{str("Authorization", "x")}, false},
		{"tiny float", at, "request", []lineAttr{float("a", 1e-7)}, false},
		{"huge float", at, "request", []lineAttr{float("a", 1e21)}, false},
		{"NaN", at, "request", []lineAttr{float("a", math.NaN())}, false},
		{"infinity", at, "request", []lineAttr{float("a", math.Inf(1))}, false},
		{"address with a zone", at, "request", []lineAttr{addr("peer_addr", "fe80::1%eth0")}, false},
		{"zero address", at, "request", []lineAttr{addr("remote_addr", "")}, false},
		{"year after 9999", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "request", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf [64]byte
			l := StartLine(buf[:0], c.at, slog.LevelInfo, c.msg)
			for _, a := range c.attrs {
				l = a.add(l)
			}
			got, ok := l.Bytes()
			if ok != c.wantOK {
				t.Fatalf("ok = %v, want %v for line %s", ok, c.wantOK, got)
			}
			if !ok {
				return
			}
			if want := handlerLine(t, c.at, c.msg, c.attrs); string(got) != want {
				t.Errorf("line differs from the handler's:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLineWriterFindsNewJSONWriter(t *testing.T) {
	w := NewBufferedWriter(io.Discard, time.Hour)
	defer w.Close()
	h := NewJSON(w, slog.LevelInfo)
	if got := LineWriter(h); got != w {
		t.Errorf("LineWriter(NewJSON(w)) = %p, want w %p", got, w)
	}
	if got := LineWriter(h.WithAttrs([]slog.Attr{slog.String("listener", "https")})); got != nil {
		t.Errorf("LineWriter of a handler with attributes = %p, want nil", got)
	}
	if got := LineWriter(h.WithGroup("request")); got != nil {
		t.Errorf("LineWriter of a handler with a group = %p, want nil", got)
	}
	if got := LineWriter(slog.NewJSONHandler(w, nil)); got != nil {
		t.Errorf("LineWriter of another handler = %p, want nil", got)
	}
}

func BenchmarkAccessLine(b *testing.B) {
	addr := netip.MustParseAddr("127.0.0.1")
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		var buf [320]byte
		end := time.Now()
		l := StartLine(buf[:0], end, slog.LevelInfo, "request").
			String("request_id", "4f1d2c3b4a5968778695a4b3c2d1e0f1").
			String("method", "GET").
			String("path", "/v1/vaults").
			Int("status", 200).
			Addr("remote_addr", addr).
			Float("duration_ms", float64(end.Sub(start).Microseconds())/1000)
		if _, ok := l.Bytes(); !ok {
			b.Fatal("line not ok")
		}
	}
}
