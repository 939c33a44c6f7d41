package iogate

import (
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90m", "1h30m") that may also use "d" for days of
// 24 hours ("30d", "1d12h"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	text := strings.TrimSpace(s)
	if strings.HasPrefix(text, "-") {
		return 0, Errorf(CodeInvalid, "invalid duration %s: it must not be negative", QuoteInput(s))
	}
	var total time.Duration
	if i := strings.IndexByte(text, 'd'); i > 0 {
		days, err := strconv.ParseUint(text[:i], 10, 16)
		if err != nil {
			return 0, Errorf(CodeInvalid, "invalid duration %s: expected a form such as 90m, 24h or 30d", QuoteInput(s))
		}
		total = time.Duration(days) * 24 * time.Hour
		text = text[i+1:]
		if text == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return 0, Errorf(CodeInvalid, "invalid duration %s: expected a form such as 90m, 24h or 30d", QuoteInput(s))
	}
	return total + d, nil
}

// FormatDuration formats d in the form ParseDuration reads and users type: whole days as
// "d" ("1d", "90d", "1d12h") and no zero units at the end ("1h" rather than "1h0m0s").
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
		d -= days * 24 * time.Hour
		if d == 0 {
			return b.String()
		}
	}
	// Duration.String ends whole minutes with "m0s" and whole hours with "h0m0s".
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	b.WriteString(s)
	return b.String()
}
