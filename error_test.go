package iogate

import (
	"fmt"
	"strings"
	"testing"
)

func TestQuoteInput(t *testing.T) {
	long := strings.Repeat("a", 65536)
	cases := []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "", `""`},
		{"short", "client_credentials", `"client_credentials"`},
		{"exactly the maximum", strings.Repeat("b", MaxQuotedInput), fmt.Sprintf("%q", strings.Repeat("b", MaxQuotedInput))},
		{"one byte over", strings.Repeat("c", MaxQuotedInput+1), fmt.Sprintf("%q (first 64 of 65 bytes)", strings.Repeat("c", 64))},
		{"64 KiB", long, fmt.Sprintf("%q (first 64 of 65536 bytes)", long[:64])},
		// "é" is two bytes; the one that would straddle byte 64 is left out whole.
		{"character across the cut", strings.Repeat("x", 63) + "é" + "yyy", fmt.Sprintf("%q (first 63 of 68 bytes)", strings.Repeat("x", 63))},
		{"control characters escaped", "a\nb\x00", `"a\nb\x00"`},
		{"invalid UTF-8 cut as bytes", strings.Repeat("\xff", 70), fmt.Sprintf("%q (first 64 of 70 bytes)", strings.Repeat("\xff", 64))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := QuoteInput(c.input); got != c.want {
				t.Errorf("QuoteInput(%d bytes) = %s, want %s", len(c.input), got, c.want)
			}
		})
	}
}
