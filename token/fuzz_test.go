package token

import (
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// FuzzVerify feeds arbitrary strings to Keyring.Verify. It must never panic, and any
// string it accepts must carry exactly the claims that were signed: no change to a token
// survives verification.
func FuzzVerify(f *testing.F) {
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	key, err := GenerateSigningKey(EdDSA, master, now)
	if err != nil {
		f.Fatal(err)
	}
	ring := NewKeyring()
	if err := ring.Load([]*iogate.SigningKey{key}, EdDSA, master, now); err != nil {
		f.Fatal(err)
	}
	signed := Claims{Issuer: "https://iogate.test", Subject: "c", ClientID: "c", Scope: "vaults:read", Expiry: now.Add(time.Hour).Unix(), ID: "j", Generation: 1}
	tok, err := ring.Sign(&signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(tok[:len(tok)-2] + "AA")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ring.Verify(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify error %v, want ErrMalformed", err)
			}
			return
		}
		if *c != signed {
			t.Fatalf("Verify accepted a token whose claims differ from the signed ones: %+v", *c)
		}
	})
}
