package iogate

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		10 * time.Millisecond:              "10ms",
		90 * time.Second:                   "1m30s",
		5 * time.Minute:                    "5m",
		time.Hour:                          "1h",
		90 * time.Minute:                   "1h30m",
		2*time.Hour + 5*time.Second:        "2h0m5s",
		24 * time.Hour:                     "1d",
		36 * time.Hour:                     "1d12h",
		90 * 24 * time.Hour:                "90d",
		24*time.Hour + 10*time.Millisecond: "1d10ms",
		-time.Hour:                         "-1h",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", int64(d), got, want)
		}
		if d < 0 {
			continue
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(FormatDuration(%d) = %q) = %d, %v; want the same duration back", int64(d), got, int64(back), err)
		}
	}
}
