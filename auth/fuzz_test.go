package auth

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/iogate/iogate"
)

// FuzzAuthenticate feeds arbitrary bearer tokens to the verifier of a started engine. It
// must never panic, must fail with ErrInvalidToken for anything but the issued token, and
// must authenticate nothing else.
func FuzzAuthenticate(f *testing.F) {
	e := newTestEngine(f)
	k, secret := e.createKey(f)
	tok := e.issue(f, k.ClientID, secret)
	f.Add(tok)
	f.Add(tok[:len(tok)-1])
	f.Add(tok + ".")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("")
	addr := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := e.svc.Authenticate(context.Background(), raw, addr)
		if err != nil {
			if !errors.Is(err, iogate.ErrInvalidToken) {
				t.Fatalf("Authenticate error %v, want ErrInvalidToken", err)
			}
			if TokenFailureOf(err) == NoTokenFailure {
				t.Fatalf("Authenticate error %v has no TokenFailure", err)
			}
			return
		}
		if raw != tok || p.ClientID != k.ClientID {
			t.Fatalf("Authenticate accepted a token that was not issued, for client %q", p.ClientID)
		}
	})
}
