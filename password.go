package iogate

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length bounds, in characters. The minimum follows NIST SP 800-63B for
// passwords chosen without other composition rules; the maximum bounds hashing work.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

// argon2id parameters: 19 MiB of memory, 2 passes, 1 lane, the first configuration that
// the OWASP Password Storage Cheat Sheet recommends. They are stored in each hash, so
// raising them later leaves existing hashes verifiable.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// ValidatePassword checks a new password's length and encoding.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return Errorf(CodeInvalid, "password is not valid UTF-8")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return Errorf(CodeInvalid, "password is too short: %d characters, at least %d", n, MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return Errorf(CodeInvalid, "password is too long: %d characters, at most %d", n, MaxPasswordLength)
	}
	return nil
}

// HashPassword returns the argon2id hash of pw in the PHC string format,
// $argon2id$v=19$m=...,t=...,p=...$salt$hash, with a random salt.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches the encoded hash. A malformed hash never
// matches. Passwords longer than MaxPasswordLength are not hashed and never match.
func VerifyPassword(encoded, pw string) bool {
	if utf8.RuneCountInString(pw) > MaxPasswordLength {
		return false
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false
	}
	// Bound the parameters read from the store, so that a tampered row cannot make one
	// sign-in allocate gigabytes.
	if memory == 0 || memory > 1<<20 || passes == 0 || passes > 10 || threads == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// DummyPasswordHash returns a valid hash of a random password, made on first use. Sign-in
// verifies against it when the email is unknown, so that an unknown email costs the same
// time as a wrong password.
var DummyPasswordHash = sync.OnceValue(func() string {
	var b [16]byte
	rand.Read(b[:])
	h, err := HashPassword(base64.RawStdEncoding.EncodeToString(b[:]))
	if err != nil {
		panic(err)
	}
	return h
})
