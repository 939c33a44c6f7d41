// Package logging holds iogate's slog plumbing: a handler that redacts secrets that reach
// a log record by mistake, a writer that writes lines in batches, and Line, which builds the
// access log's lines without slog.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// redacted replaces every value that the redacting handler removes.
const redacted = "[REDACTED]"

// sensitiveKeys are attribute keys whose values are always secret, compared after
// lower-casing and removing "_" and "-".
var sensitiveKeys = map[string]bool{
	"authorization": true, "cookie": true, "setcookie": true, "password": true, "passwd": true,
	"secret": true, "clientsecret": true, "token": true, "accesstoken": true, "refreshtoken": true,
	"bearer": true, "apikey": true, "masterkey": true, "pepper": true, "session": true, "sessionid": true,
	"totp": true, "totpseed": true, "recoverycode": true, "dsn": true, "databaseurl": true,
}

// secretPattern finds values that look like a credential wherever they appear in a
// string: generated client secrets, JWTs, Authorization header values, and passwords in
// URLs.
var secretPattern = regexp.MustCompile(
	`iogs_[0-9A-Za-z]{8,}` + // client secret
		`|eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]*` + // JWT
		`|(?i:bearer|basic)\s+[0-9A-Za-z._~+/=-]{8,}` + // Authorization value
		`|://[^/\s:@]*:[^/\s@]+@`) // user:password@ in a URL

// mayHoldSecret reports whether s contains a literal that every match of secretPattern
// starts with. The access log passes every request's path, method and IDs through the
// handler, and this check is much cheaper than running the pattern on each of them.
func mayHoldSecret(s string) bool {
	if strings.Contains(s, "iogs_") || strings.Contains(s, "eyJ") || strings.Contains(s, "://") {
		return true
	}
	// The pattern's case-insensitive "basic" also matches U+017F (long s), the only
	// non-ASCII letter that Unicode case folding maps to a letter of "basic" or "bearer".
	if strings.Contains(s, "\u017f") {
		return true
	}
	for i := 0; i+5 <= len(s); i++ {
		if s[i]|0x20 == 'b' && (strings.EqualFold(s[i:i+5], "basic") || i+6 <= len(s) && strings.EqualFold(s[i:i+6], "bearer")) {
			return true
		}
	}
	return false
}

// Redact returns a handler that passes records to next after replacing the values of
// attributes with secret-sounding keys, and any substring that looks like a credential,
// with "[REDACTED]". It is a second net: code must not log secrets in the first place,
// and types that hold secrets redact themselves. It also writes each C1 control character
// (U+0080 to U+009F) of a string as the six characters of its JSON escape, such as
// \u009b, because slog's JSON handler writes them raw. A client can put them in a
// request's path, and some terminals act on them as on escape sequences when an operator
// reads the log.
func Redact(next slog.Handler) slog.Handler {
	return &redactHandler{next: next}
}

type redactHandler struct {
	next slog.Handler
}

func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	// Most records, the access log's among them, hold nothing to redact: pass them on
	// without building a copy.
	if !needsRedaction(r) {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, redactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(clean)}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name)}
}

// needsRedaction reports whether redactAttr or redactString could change anything in r.
// It errs towards true: values it does not inspect, such as errors, groups and LogValuers,
// count as needing it.
func needsRedaction(r slog.Record) bool {
	if mayHoldSecret(r.Message) || hasC1Control(r.Message) {
		return true
	}
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = isSensitiveKey(a.Key) || attrMayHoldSecret(a.Value)
		return !found
	})
	return found
}

func attrMayHoldSecret(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return mayHoldSecret(v.String()) || hasC1Control(v.String())
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		return false
	}
	return true
}

func redactAttr(a slog.Attr) slog.Attr {
	if isSensitiveKey(a.Key) {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactString(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors and other values are rendered as text here, so that a secret inside an
		// error message is caught as well.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redactString(err.Error()))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, redactString(s.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// keySeparators are removed from attribute keys before the comparison with sensitiveKeys.
// It is built once: building a Replacer costs more than the rest of a log call.
var keySeparators = strings.NewReplacer("_", "", "-", "")

func isSensitiveKey(key string) bool {
	// The access log passes six short ASCII keys per request, so those are normalised on the
	// stack. Other keys take the general path, whose lower-casing also maps Unicode letters.
	var buf [32]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 0x80 || n == len(buf) {
			return sensitiveKeys[strings.ToLower(keySeparators.Replace(key))]
		}
		if c == '_' || c == '-' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	return sensitiveKeys[string(buf[:n])]
}

func redactString(s string) string {
	if mayHoldSecret(s) && secretPattern.MatchString(s) {
		s = secretPattern.ReplaceAllStringFunc(s, func(m string) string {
			if strings.HasPrefix(m, "://") {
				return "://" + m[3:strings.Index(m[3:], ":")+3] + ":" + redacted + "@"
			}
			return redacted
		})
	}
	if hasC1Control(s) {
		s = escapeC1Controls(s)
	}
	return s
}

// hasC1Control reports whether s contains a C1 control character, which UTF-8 encodes as
// the byte 0xC2 followed by a byte from 0x80 to 0x9F.
func hasC1Control(s string) bool {
	for i := strings.IndexByte(s, 0xc2); i >= 0 && i+1 < len(s); {
		if s[i+1] <= 0x9f && s[i+1] >= 0x80 {
			return true
		}
		next := strings.IndexByte(s[i+1:], 0xc2)
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

// escapeC1Controls returns s with each C1 control character replaced by its escape, such
// as \u009b.
func escapeC1Controls(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
