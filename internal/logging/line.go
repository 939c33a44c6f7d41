package logging

import (
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// NewJSON returns the server's log handler over w: slog's JSON handler, which flushes w
// after each warning or error, behind Redact. LineWriter finds w again from the handler.
func NewJSON(w *BufferedWriter, level slog.Leveler) slog.Handler {
	return &jsonHandler{
		Handler: Redact(FlushFrom(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w, slog.LevelWarn)),
		w:       w,
	}
}

// jsonHandler is the handler that NewJSON returns. The handlers that its WithAttrs and
// WithGroup return are not jsonHandlers, because a Line would lack their attributes.
type jsonHandler struct {
	slog.Handler
	w *BufferedWriter
}

// LineWriter returns the writer under h when h is a handler that NewJSON returned, and nil
// otherwise. A Line written there reads the same as the record that h would write.
func LineWriter(h slog.Handler) *BufferedWriter {
	if j, ok := h.(*jsonHandler); ok {
		return j.w
	}
	return nil
}

// Line is a log line built without slog, for the access log, which writes one per request.
// When Bytes reports ok, the line is byte for byte what the NewJSON handler writes for the
// same record. A value or key that the handler would escape or redact makes ok false, and
// the caller then logs the record through slog.
type Line struct {
	buf []byte
	ok  bool
}

// StartLine begins a line in buf[:0] with the record's time, level and message.
func StartLine(buf []byte, t time.Time, level slog.Level, msg string) Line {
	l := Line{buf: buf[:0], ok: !mayHoldSecret(msg)}
	if y := t.Year(); y < 0 || y >= 10000 || t.IsZero() {
		// slog writes an error in place of a time outside these years, and no time at all
		// for the zero time.
		l.ok = false
	}
	l.buf = append(l.buf, `{"time":"`...)
	l.buf = t.Round(0).AppendFormat(l.buf, time.RFC3339Nano)
	l.buf = append(l.buf, `","level":`...)
	l = l.appendString(level.String())
	l.buf = append(l.buf, `,"msg":`...)
	l = l.appendString(msg)
	return l
}

// String returns l with a string attribute added.
func (l Line) String(key, value string) Line {
	l = l.appendKey(key)
	if mayHoldSecret(value) {
		l.ok = false
	}
	return l.appendString(value)
}

// Int returns l with an integer attribute added.
func (l Line) Int(key string, value int64) Line {
	l = l.appendKey(key)
	l.buf = strconv.AppendInt(l.buf, value, 10)
	return l
}

// Addr returns l with an IP address attribute added, in the form of netip.Addr.String.
func (l Line) Addr(key string, a netip.Addr) Line {
	l = l.appendKey(key)
	if a.Zone() != "" || !a.IsValid() {
		// A zone is any string, so it could need escaping or redaction. The zero Addr appends
		// nothing, but its String method returns "invalid IP".
		l.ok = false
	}
	l.buf = append(l.buf, '"')
	l.buf = a.AppendTo(l.buf)
	l.buf = append(l.buf, '"')
	return l
}

// Float returns l with a floating-point attribute added.
func (l Line) Float(key string, value float64) Line {
	l = l.appendKey(key)
	// encoding/json, which slog calls for floats, switches to exponents outside this range
	// and rejects NaN and infinities.
	if abs := math.Abs(value); value != 0 && (abs < 1e-6 || abs >= 1e21) || math.IsNaN(value) {
		l.ok = false
		return l
	}
	l.buf = strconv.AppendFloat(l.buf, value, 'f', -1, 64)
	return l
}

// Bytes ends the line and returns it with a final newline, and whether it is the handler's
// line. When ok is false, the caller discards the bytes and logs the record through slog.
func (l Line) Bytes() (line []byte, ok bool) {
	return append(l.buf, "}\n"...), l.ok
}

func (l Line) appendKey(key string) Line {
	if isSensitiveKey(key) {
		l.ok = false
	}
	l.buf = append(l.buf, ',')
	l = l.appendString(key)
	l.buf = append(l.buf, ':')
	return l
}

// appendString writes s as a JSON string. Only printable ASCII other than a quote and a
// backslash is written as slog writes it, so any other byte makes the line not ok.
func (l Line) appendString(s string) Line {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			l.ok = false
			break
		}
	}
	l.buf = append(l.buf, '"')
	l.buf = append(l.buf, s...)
	l.buf = append(l.buf, '"')
	return l
}
