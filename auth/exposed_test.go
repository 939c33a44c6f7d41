package auth

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

func TestVerifyExposed(t *testing.T) {
	e := newTestEngine(t)
	k, secret := e.createKey(t, "192.0.2.1")
	tok := e.issue(t, k.ClientID, secret)
	other, otherSecret := e.createKey(t)

	cases := []struct {
		name string
		cred ExposedCredential
		want string
	}{
		{"right secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: secret}, k.ClientID},
		{"token", ExposedCredential{BearerToken: tok}, k.ClientID},
		{"another key's secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: otherSecret}, ""},
		{"wrong secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: mistype(secret)}, ""},
		{"unknown client", ExposedCredential{ClientID: "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", ClientSecret: secret}, ""},
		{"tampered token", ExposedCredential{BearerToken: tok[:len(tok)-3] + "abc"}, ""},
		{"empty", ExposedCredential{}, ""},
		{"other key", ExposedCredential{ClientID: other.ClientID, ClientSecret: otherSecret}, other.ClientID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := e.svc.VerifyExposed(c.cred)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("VerifyExposed = %q, %t; want %q, %t", got, ok, c.want, c.want != "")
			}
		})
	}
}

func TestMarkExposed(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	tok := e.issue(t, k.ClientID, secret)

	if err := e.svc.MarkExposed(ctx, k.ClientID, "client_secret", false); err != nil {
		t.Fatalf("MarkExposed: %v", err)
	}
	stored, err := e.store.FindAPIKey(ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Exposed || stored.ExposedAt.IsZero() {
		t.Errorf("after MarkExposed: exposed %t at %v, want true and a time", stored.Exposed, stored.ExposedAt)
	}
	first := stored.ExposedAt
	e.clock.advance(time.Second)
	if err := e.svc.MarkExposed(ctx, k.ClientID, "client_secret", false); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.store.FindAPIKey(ctx, k.ClientID); !again.ExposedAt.Equal(first) {
		t.Errorf("second MarkExposed moved exposedAt from %v to %v, want the first exposure kept", first, again.ExposedAt)
	}
	if _, err := e.svc.Authenticate(ctx, tok, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("token of a key marked exposed: %v, want it still valid", err)
	}

	if err := e.svc.MarkExposed(ctx, k.ClientID, "client_secret", true); err != nil {
		t.Fatalf("MarkExposed with revoke: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, tok, netip.MustParseAddr("192.0.2.1")); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("token after revocation: %v, want ErrInvalidToken", err)
	}
	if _, err := e.store.FindAPIKey(ctx, k.ClientID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("FindAPIKey after revocation: %v, want not found", err)
	}
}
