package iogate

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"hash/crc32"
	"math/big"
	"strings"
	"sync"
)

// SecretPrefix starts every client secret that iogate generates. A fixed prefix lets
// secret scanners find leaked secrets and lets the server reject an obvious typo early.
const SecretPrefix = "iogs_"

const (
	base62Alphabet   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretBodyLen    = 43 // 256 bits in base62 need 43 digits
	secretCheckLen   = 6  // a CRC-32 in base62 needs 6 digits
	generatedSecretN = len(SecretPrefix) + secretBodyLen + secretCheckLen
)

// MaxSecretLength bounds any client secret the server hashes, generated or imported.
const MaxSecretLength = 512

// GenerateSecret returns a new client secret: the prefix, 256 random bits in base62 and a
// base62 CRC-32 of the two. It contains only ASCII letters, digits and one underscore, so
// it needs no escaping in JSON, forms, URLs or shells.
func GenerateSecret() (Secret, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	body := encodeBase62(new(big.Int).SetBytes(raw[:]), secretBodyLen)
	s := SecretPrefix + body
	return Secret(s + encodeBase62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(s)))), secretCheckLen)), nil
}

// HasGeneratedShape reports whether s has the prefix of generated secrets. Such a string
// must also carry a valid checksum; any other string may be an imported secret.
func HasGeneratedShape(s string) bool {
	return strings.HasPrefix(s, SecretPrefix)
}

// ChecksumValid reports whether a secret with the generated prefix has the right length,
// alphabet and checksum. A false result means the secret was mistyped or truncated.
func ChecksumValid(s string) bool {
	if len(s) != generatedSecretN || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	for i := len(SecretPrefix); i < len(s); i++ {
		if strings.IndexByte(base62Alphabet, s[i]) < 0 {
			return false
		}
	}
	head := s[:len(s)-secretCheckLen]
	want := encodeBase62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(head)))), secretCheckLen)
	return subtle.ConstantTimeCompare([]byte(want), []byte(s[len(s)-secretCheckLen:])) == 1
}

func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}

// Secret is a client secret in plain text. It exists only between generation and the one
// response that shows it, or between a request and its verification. Its String and
// LogValue methods redact it so that it cannot reach a log line by accident.
type Secret string

// String returns a redacted placeholder, never the secret.
func (Secret) String() string { return "[REDACTED]" }

// GoString returns a redacted placeholder, never the secret.
func (Secret) GoString() string { return "[REDACTED]" }

// Reveal returns the secret itself, for the one response that issues it.
func (s Secret) Reveal() string { return string(s) }

// SecretHash is the keyed hash of a client secret: HMAC-SHA-256 under the server pepper.
// Secrets are 256 random bits, so a slow password hash would add no protection and would
// cap the token endpoint at a few hundred requests per second.
type SecretHash [sha256.Size]byte

// HashSecret returns the keyed hash of secret under pepper.
func HashSecret(pepper []byte, secret string) SecretHash {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(secret))
	var h SecretHash
	m.Sum(h[:0])
	return h
}

// SecretHasher computes HashSecret under one pepper. It reuses HMAC states between calls,
// because the token endpoint hashes a secret on every request and a new state costs
// allocations and two SHA-256 blocks for the key. It is safe for concurrent use.
type SecretHasher struct {
	states sync.Pool
}

type secretHasherState struct {
	mac hash.Hash
	buf []byte
}

// NewSecretHasher returns a hasher under pepper.
func NewSecretHasher(pepper []byte) *SecretHasher {
	h := &SecretHasher{}
	h.states.New = func() any { return &secretHasherState{mac: hmac.New(sha256.New, pepper)} }
	return h
}

// Hash returns HashSecret(pepper, secret).
func (h *SecretHasher) Hash(secret string) SecretHash {
	st := h.states.Get().(*secretHasherState)
	st.mac.Reset()
	st.buf = append(st.buf[:0], secret...)
	st.mac.Write(st.buf)
	var out SecretHash
	st.mac.Sum(out[:0])
	// The buffer held the secret: clear it before the state goes back to the pool.
	clear(st.buf)
	h.states.Put(st)
	return out
}

// Equal compares two hashes in constant time.
func (h SecretHash) Equal(other SecretHash) bool {
	return subtle.ConstantTimeCompare(h[:], other[:]) == 1
}
