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
		return 0, Errorf(CodeInvalid, "invalid duration %q: it must not be negative", s)
	}
	var total time.Duration
	if i := strings.IndexByte(text, 'd'); i > 0 {
		days, err := strconv.ParseUint(text[:i], 10, 16)
		if err != nil {
			return 0, Errorf(CodeInvalid, "invalid duration %q: expected a form such as 90m, 24h or 30d", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		text = text[i+1:]
		if text == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return 0, Errorf(CodeInvalid, "invalid duration %q: expected a form such as 90m, 24h or 30d", s)
	}
	return total + d, nil
}
