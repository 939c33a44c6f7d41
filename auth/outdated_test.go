package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestOutdatedTokenOfSigningKeys checks which tokens of signing keys that no longer verify
// are outdated. A token of a retired key that has left the JWKS is, because the key is
// still stored. A token of a revoked key is not, whether the key signed or was retired.
func TestOutdatedTokenOfSigningKeys(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	retiredKID := f.server.Keyring().ActiveKeyID()
	retiredTok := f.issue(t)
	if err := f.authenticate(retiredTok); err != nil {
		t.Fatalf("Authenticate before the rotation: %v", err)
	}

	if _, err := f.server.RotateSigningKey(ctx, "", 0); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	f.reload(t)
	signingKID := f.server.Keyring().ActiveKeyID()
	if signingKID == retiredKID {
		t.Fatalf("the rotated key %s still signs", retiredKID)
	}
	signedTok := f.issue(t)

	// The retired key leaves the JWKS once its last token has expired, plus the margin.
	f.clock.advance(f.server.cfg.TokenTTL + publishMargin + time.Second)
	f.reload(t)
	if publishedKIDs(t, f.server)[retiredKID] {
		t.Fatalf("retired key %s still published after its tokens expired", retiredKID)
	}
	err := f.authenticate(retiredTok)
	if !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of a token of the unpublished key = %v, want ErrInvalidToken", err)
	}
	if !IsOutdatedCredential(err) {
		t.Errorf("IsOutdatedCredential(%v) = false for a token of a retired, stored key, want true", err)
	}
	if got := TokenFailureOf(err); got != TokenRetiredSigningKey {
		t.Errorf("TokenFailureOf(%v) = %q for a token of a retired, stored key, want %q", err, got, TokenRetiredSigningKey)
	}

	for name, c := range map[string]struct{ kid, tok string }{
		"retired key": {retiredKID, retiredTok},
		"signing key": {signingKID, signedTok},
	} {
		if _, err := f.cli.RevokeSigningKey(ctx, c.kid); err != nil {
			t.Fatalf("RevokeSigningKey of the %s: %v", name, err)
		}
		f.reload(t)
		err := f.authenticate(c.tok)
		if !errors.Is(err, iogate.ErrInvalidToken) {
			t.Errorf("Authenticate of a token of the revoked %s = %v, want ErrInvalidToken", name, err)
		}
		if IsOutdatedCredential(err) {
			t.Errorf("IsOutdatedCredential(%v) = true for a token of the revoked %s, want false", err, name)
		}
		if got := TokenFailureOf(err); got != TokenUnknownSigningKey {
			t.Errorf("TokenFailureOf(%v) = %q for a token of the revoked %s, want %q", err, got, name, TokenUnknownSigningKey)
		}
	}
}

// TestOutdatedClientSecret checks that the previous secret is outdated after its grace
// period, with its own audit reason, and that a wrong secret and an unknown client ID are
// not outdated.
func TestOutdatedClientSecret(t *testing.T) {
	h := newHarness(t)
	k, oldSecret := h.createKey(t)
	if _, _, err := h.svc.RotateKey(h.ctx, k.ClientID, time.Minute); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	h.clock.Advance(time.Minute)

	cases := []struct {
		name       string
		clientID   string
		secret     iogate.Secret
		outdated   bool
		wantReason string
	}{
		{"previous secret after its grace period", k.ClientID, oldSecret, true, iogate.DenySecretRetired},
		{"wrong secret", k.ClientID, iogate.Secret("iogs_wrong"), false, iogate.DenyInvalidSecret},
		{"unknown client ID", "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", oldSecret, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(h.records(t))
			err := h.issueErr(c.clientID, c.secret, loopback1)
			if !errors.Is(err, iogate.ErrInvalidClient) {
				t.Fatalf("IssueToken error = %v, want ErrInvalidClient", err)
			}
			if got := IsOutdatedCredential(err); got != c.outdated {
				t.Errorf("IsOutdatedCredential = %t, want %t", got, c.outdated)
			}
			records := h.records(t)
			switch {
			case c.wantReason == "" && len(records) != before:
				t.Errorf("audit records grew from %d to %d, want no record", before, len(records))
			case c.wantReason != "" && len(records) != before+1:
				t.Fatalf("audit records grew from %d to %d, want one more", before, len(records))
			case c.wantReason != "":
				if last := records[len(records)-1]; last.Event != iogate.AuditTokenDenied || last.Reason != c.wantReason {
					t.Errorf("last record = %s %q, want %s %q", last.Event, last.Reason, iogate.AuditTokenDenied, c.wantReason)
				}
			}
		})
	}
}
