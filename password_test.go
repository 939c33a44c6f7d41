package iogate

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not name argon2id and its parameters", h)
	}
	if !VerifyPassword(h, "correct horse battery staple") {
		t.Error("VerifyPassword rejects the right password")
	}
	if VerifyPassword(h, "correct horse battery stapler") {
		t.Error("VerifyPassword accepts a wrong password")
	}
	if h2, _ := HashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, _ := HashPassword("correct horse battery staple")
	parts := strings.Split(good, "$")
	cases := []struct {
		name, hash string
	}{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv"},
		{"wrong version", strings.Replace(good, "v=19", "v=16", 1)},
		{"memory over 1 GiB", "$argon2id$v=19$m=4194304,t=2,p=1$" + parts[4] + "$" + parts[5]},
		{"zero passes", "$argon2id$v=19$m=19456,t=0,p=1$" + parts[4] + "$" + parts[5]},
		{"bad salt", "$argon2id$v=19$m=19456,t=2,p=1$!!!$" + parts[5]},
		{"empty hash", "$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if VerifyPassword(c.hash, "correct horse battery staple") {
				t.Errorf("VerifyPassword(%q) = true, want false", c.hash)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	cases := []struct {
		name, password string
		ok             bool
	}{
		{"11 characters", strings.Repeat("a", 11), false},
		{"12 characters", strings.Repeat("a", 12), true},
		{"12 multi-byte characters", strings.Repeat("é", 12), true},
		{"256 characters", strings.Repeat("a", 256), true},
		{"257 characters", strings.Repeat("a", 257), false},
		{"invalid UTF-8", "correct horse \xff battery", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := ValidatePassword(c.password); (err == nil) != c.ok {
				t.Errorf("ValidatePassword: %v, want ok=%t", err, c.ok)
			}
		})
	}
}
