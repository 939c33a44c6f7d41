package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// TestTokenFailureReasons checks that Authenticate names why each kind of token fails, and
// that every one of those errors stays ErrInvalidToken for the response.
func TestTokenFailureReasons(t *testing.T) {
	ctx := context.Background()
	addr := netip.MustParseAddr("192.0.2.1")
	cases := []struct {
		name string
		// token returns the token to authenticate, after it has changed e as the case needs.
		token func(t *testing.T, e *testEngine, clientID, secret string) string
		want  TokenFailure
	}{
		{"malformed", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return "undefined"
		}, TokenMalformed},
		{"too long", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return strings.Repeat("a", token.MaxLength+1)
		}, TokenMalformed},
		{"unknown signing key", func(t *testing.T, e *testEngine, clientID, secret string) string {
			other := newTestEngine(t)
			k, s := other.createKey(t)
			return other.issue(t, k.ClientID, s)
		}, TokenUnknownSigningKey},
		{"bad signature", func(t *testing.T, e *testEngine, clientID, secret string) string {
			first := strings.Split(e.issue(t, clientID, secret), ".")
			second := strings.Split(e.issue(t, clientID, secret), ".")
			return first[0] + "." + first[1] + "." + second[2]
		}, TokenBadSignature},
		{"wrong issuer", func(t *testing.T, e *testEngine, clientID, secret string) string {
			now := e.clock.now().Unix()
			raw, err := e.svc.Keyring().Sign(&token.Claims{Issuer: "https://other.test", Audience: "https://other.test",
				Subject: clientID, ClientID: clientID, AccountID: e.accountID, Scope: iogate.ScopeVaultsRead,
				IssuedAt: now, NotBefore: now, Expiry: now + 60, ID: "j", Generation: 1})
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, TokenWrongIssuer},
		{"expired", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			e.clock.advance(e.svc.cfg.TokenTTL + time.Second)
			return raw
		}, TokenExpired},
		{"key deleted", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			if err := e.svc.DeleteKey(ctx, clientID); err != nil {
				t.Fatal(err)
			}
			return raw
		}, TokenKeyDeleted},
		{"key expired", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			expiry := e.clock.now().Add(time.Minute)
			if _, err := e.svc.UpdateKey(ctx, clientID, UpdateKeyRequest{ExpiresAt: &expiry}); err != nil {
				t.Fatal(err)
			}
			e.clock.advance(2 * time.Minute)
			return raw
		}, TokenKeyExpired},
		{"account suspended", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			if err := e.svc.SuspendAccount(ctx, e.accountID); err != nil {
				t.Fatal(err)
			}
			return raw
		}, TokenAccountSuspended},
		{"secret retired", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			if _, _, err := e.svc.RotateKey(ctx, clientID, time.Minute); err != nil {
				t.Fatal(err)
			}
			e.clock.advance(2 * time.Minute)
			return raw
		}, TokenSecretRetired},
		{"token revoked", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			if err := e.svc.RevokeToken(ctx, clientID, raw, addr); err != nil {
				t.Fatal(err)
			}
			return raw
		}, TokenRevoked},
		{"scope removed", func(t *testing.T, e *testEngine, clientID, secret string) string {
			raw := e.issue(t, clientID, secret)
			if _, err := e.svc.UpdateKey(ctx, clientID, UpdateKeyRequest{Scopes: []string{iogate.ScopeVaultsRead}}); err != nil {
				t.Fatal(err)
			}
			return raw
		}, TokenScopeRemoved},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEngine(t)
			k, secret, err := e.svc.CreateKey(ctx, CreateKeyRequest{AccountID: e.accountID, Name: "k",
				Scopes: []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}})
			if err != nil {
				t.Fatal(err)
			}
			raw := c.token(t, e, k.ClientID, secret.Reveal())

			p, err := e.svc.Authenticate(ctx, raw, addr)
			if p != nil {
				t.Errorf("Authenticate returned principal %+v, want nil", p)
			}
			if !errors.Is(err, iogate.ErrInvalidToken) {
				t.Errorf("Authenticate error = %v, want ErrInvalidToken", err)
			}
			if err == nil || err.Error() != iogate.ErrInvalidToken.Error() {
				t.Errorf("Authenticate error text = %v, want the text of ErrInvalidToken", err)
			}
			if got := TokenFailureOf(err); got != c.want {
				t.Errorf("TokenFailureOf(%v) = %q, want %q", err, got, c.want)
			}
			if c.want.String() == "" {
				t.Errorf("TokenFailure(%d).String() is empty", c.want)
			}
		})
	}
}

// TestTokenFailureOfOtherErrors checks that errors other than a failed token have no reason.
func TestTokenFailureOfOtherErrors(t *testing.T) {
	for _, err := range []error{nil, iogate.ErrInvalidToken, ErrStale, ipNotAllowed(netip.MustParseAddr("192.0.2.1")), errOutdatedToken} {
		if got := TokenFailureOf(err); got != NoTokenFailure {
			t.Errorf("TokenFailureOf(%v) = %q, want NoTokenFailure", err, got)
		}
	}
}
