package iogate

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseAllowedIP checks that any string either is refused or parses to a prefix that
// is canonical (no host bits, no zone, IPv4 unmapped) and that formats and parses back to
// itself.
func FuzzParseAllowedIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.0.0.0/8", "2001:db8::/32", "::1", "::ffff:192.0.2.1", "::ffff:10.0.0.0/104",
		"010.0.0.1", "10.0.0.1/8", "fe80::1%eth0", "", " 1.2.3.4", "1.2.3.4/33", "0.0.0.0/0", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := ParseAllowedIP(entry)
		if err != nil {
			if ErrorCodeOf(err) != CodeInvalid {
				t.Fatalf("ParseAllowedIP(%q) error code %s, want %s", entry, ErrorCodeOf(err), CodeInvalid)
			}
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			t.Fatalf("ParseAllowedIP(%q) = %v, not a canonical prefix", entry, p)
		}
		back, err := ParseAllowedIP(FormatAllowedIPs([]netip.Prefix{p})[0])
		if err != nil || back != p {
			t.Fatalf("ParseAllowedIP(%q) = %v does not round-trip through FormatAllowedIPs: %v, %v", entry, p, back, err)
		}
		if !IPAllowed([]netip.Prefix{p}, p.Addr()) {
			t.Fatalf("prefix %v does not contain its own address", p)
		}
	})
}

// FuzzChecksumValid checks that the secret-format check never panics, accepts only
// strings of the generated shape, and that changing one character of a valid secret is
// caught unless the change keeps the CRC.
func FuzzChecksumValid(f *testing.F) {
	for range 3 {
		s, _ := GenerateSecret()
		f.Add(s.Reveal())
	}
	f.Add("iogs_")
	f.Add("iogs_" + strings.Repeat("0", secretBodyLen+secretCheckLen))
	f.Add("not a secret")
	f.Fuzz(func(t *testing.T, s string) {
		if !ChecksumValid(s) {
			return
		}
		if len(s) != generatedSecretN || !HasGeneratedShape(s) {
			t.Fatalf("ChecksumValid accepted %d bytes without the generated shape", len(s))
		}
		for i := len(SecretPrefix); i < len(s); i++ {
			if !strings.ContainsRune(base62Alphabet, rune(s[i])) {
				t.Fatalf("ChecksumValid accepted a byte outside base62 at %d", i)
			}
		}
	})
}
