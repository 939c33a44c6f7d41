package iogate

import (
	"strings"
	"testing"
)

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw := s.Reveal()
		if !strings.HasPrefix(raw, SecretPrefix) || len(raw) != generatedSecretN {
			t.Fatalf("generated secret has length %d, want %d with prefix %s", len(raw), generatedSecretN, SecretPrefix)
		}
		if !ChecksumValid(raw) {
			t.Fatal("generated secret fails its own checksum")
		}
		if strings.ContainsAny(raw, "+%:/=") {
			t.Fatal("generated secret contains a character that needs escaping")
		}
		if seen[raw] {
			t.Fatal("GenerateSecret repeated a secret")
		}
		seen[raw] = true
		if s.String() == raw || strings.Contains(s.GoString(), raw[5:]) {
			t.Fatal("Secret formats itself in clear text")
		}
	}
}

func TestChecksumRejectsTypos(t *testing.T) {
	s, _ := GenerateSecret()
	raw := s.Reveal()
	for i := len(SecretPrefix); i < len(raw); i++ {
		b := []byte(raw)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if ChecksumValid(string(b)) {
			t.Errorf("secret with position %d changed passes the checksum", i)
		}
	}
	if ChecksumValid(raw[:len(raw)-1]) {
		t.Error("truncated secret passes the checksum")
	}
}

func TestHashSecret(t *testing.T) {
	a := HashSecret([]byte("pepper-1"), "secret")
	if !a.Equal(HashSecret([]byte("pepper-1"), "secret")) {
		t.Error("same pepper and secret give different hashes")
	}
	if a.Equal(HashSecret([]byte("pepper-2"), "secret")) {
		t.Error("different peppers give the same hash")
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"90m", "1h30m0s", true},
		{"30d", "720h0m0s", true},
		{"1d12h", "36h0m0s", true},
		{"0", "0s", true},
		{"-1h", "", false},
		{"d", "", false},
		{"1w", "", false},
		{"", "", false},
	}
	for _, in := range []string{"-1h", "-5ms", " -1d"} {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "must not be negative") {
			t.Errorf("ParseDuration(%q) error = %v, want one that says it must not be negative", in, err)
		}
	}
	for _, c := range cases {
		d, err := ParseDuration(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseDuration(%q) error = %v, want ok %t", c.in, err, c.ok)
			continue
		}
		if c.ok && d.String() != c.want {
			t.Errorf("ParseDuration(%q) = %s, want %s", c.in, d, c.want)
		}
	}
}

func TestSecretHasherMatchesHashSecret(t *testing.T) {
	pepper := []byte("pepper-of-the-test")
	h := NewSecretHasher(pepper)
	for _, secret := range []string{"", "short", strings.Repeat("long secret ", 20), "iogs_abc"} {
		for range 2 {
			if got, want := h.Hash(secret), HashSecret(pepper, secret); got != want {
				t.Errorf("SecretHasher.Hash of a %d-byte secret differs from HashSecret", len(secret))
			}
		}
	}
}
