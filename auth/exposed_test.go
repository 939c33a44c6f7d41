package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

func TestVerifyExposed(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t, "192.0.2.1")
	tok := e.issue(t, k.ClientID, secret)
	other, otherSecret := e.createKey(t)
	rotated, oldSecret := e.createKey(t)
	oldToken := e.issue(t, rotated.ClientID, oldSecret)
	_, newSecret, err := e.svc.RotateKey(ctx, rotated.ClientID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newToken := e.issue(t, rotated.ClientID, newSecret.Reveal())

	cases := []struct {
		name string
		cred ExposedCredential
		want Exposure
	}{
		{"right secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: secret}, Exposure{k.ClientID, 1, "client_secret"}},
		{"token", ExposedCredential{BearerToken: tok}, Exposure{k.ClientID, 1, "access_token"}},
		{"another key's secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: otherSecret}, Exposure{}},
		{"wrong secret", ExposedCredential{ClientID: k.ClientID, ClientSecret: mistype(secret)}, Exposure{}},
		{"unknown client", ExposedCredential{ClientID: "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", ClientSecret: secret}, Exposure{}},
		{"tampered token", ExposedCredential{BearerToken: tok[:len(tok)-3] + "abc"}, Exposure{}},
		{"empty", ExposedCredential{}, Exposure{}},
		{"other key", ExposedCredential{ClientID: other.ClientID, ClientSecret: otherSecret}, Exposure{other.ClientID, 1, "client_secret"}},
		{"previous secret in grace", ExposedCredential{ClientID: rotated.ClientID, ClientSecret: oldSecret}, Exposure{rotated.ClientID, 1, "client_secret"}},
		{"token of the previous secret", ExposedCredential{BearerToken: oldToken}, Exposure{rotated.ClientID, 1, "access_token"}},
		{"current secret after rotation", ExposedCredential{ClientID: rotated.ClientID, ClientSecret: newSecret.Reveal()}, Exposure{rotated.ClientID, 2, "client_secret"}},
		{"token of the current secret", ExposedCredential{BearerToken: newToken}, Exposure{rotated.ClientID, 2, "access_token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := e.svc.VerifyExposed(c.cred)
			if got != c.want || ok != (c.want != Exposure{}) {
				t.Errorf("VerifyExposed = %+v, %t; want %+v, %t", got, ok, c.want, c.want != Exposure{})
			}
		})
	}
}

// findKey returns the stored key with clientID.
func (e *testEngine) findKey(t *testing.T, clientID string) *iogate.APIKey {
	t.Helper()
	k, err := e.store.FindAPIKey(context.Background(), clientID)
	if err != nil {
		t.Fatalf("FindAPIKey(%s): %v", clientID, err)
	}
	return k
}

// markExposed records an exposure of the secret of generation of key k.
func (e *testEngine) markExposed(t *testing.T, k *iogate.APIKey, generation int) {
	t.Helper()
	if err := e.svc.MarkExposed(context.Background(), Exposure{ClientID: k.ClientID, Generation: generation, Kind: "client_secret"}, false); err != nil {
		t.Fatalf("MarkExposed(generation %d): %v", generation, err)
	}
}

// newExposedKey returns a new engine with one key whose secret, of generation 1, is
// marked exposed, and that secret.
func newExposedKey(t *testing.T) (*testEngine, *iogate.APIKey, string) {
	t.Helper()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	e.markExposed(t, k, 1)
	return e, k, secret
}

func TestMarkExposed(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	tok := e.issue(t, k.ClientID, secret)

	e.markExposed(t, k, 1)
	stored := e.findKey(t, k.ClientID)
	if !stored.Exposed || stored.ExposedAt.IsZero() || stored.ExposedGeneration != 1 {
		t.Errorf("after MarkExposed: exposed %t at %v, generation %d; want true, a time and 1", stored.Exposed, stored.ExposedAt, stored.ExposedGeneration)
	}
	first := stored.ExposedAt
	e.clock.advance(time.Second)
	e.markExposed(t, k, 1)
	if again := e.findKey(t, k.ClientID); !again.ExposedAt.Equal(first) {
		t.Errorf("second MarkExposed moved exposedAt from %v to %v, want the first exposure kept", first, again.ExposedAt)
	}
	if _, err := e.svc.Authenticate(ctx, tok, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("token of a key marked exposed: %v, want it still valid", err)
	}

	records, _, err := e.store.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: e.accountID, Event: iogate.AuditKeyExposed}, iogate.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 {
		t.Fatalf("key.exposed records = %d, want 2", len(records))
	}
	var details struct {
		Credential       string `json:"credential"`
		SecretGeneration int    `json:"secretGeneration"`
	}
	if err := json.Unmarshal(records[0].Details, &details); err != nil {
		t.Fatalf("key.exposed details %s: %v", records[0].Details, err)
	}
	if details.Credential != "client_secret" || details.SecretGeneration != 1 {
		t.Errorf("key.exposed details = %s, want credential client_secret and secretGeneration 1", records[0].Details)
	}

	if err := e.svc.MarkExposed(ctx, Exposure{ClientID: k.ClientID, Generation: 1, Kind: "client_secret"}, true); err != nil {
		t.Fatalf("MarkExposed with revoke: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, tok, netip.MustParseAddr("192.0.2.1")); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("token after revocation: %v, want ErrInvalidToken", err)
	}
	if _, err := e.store.FindAPIKey(ctx, k.ClientID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("FindAPIKey after revocation: %v, want not found", err)
	}
}

// TestExposureEndsWithRotation rotates an exposed key without a grace period. The key
// stops counting as exposed, and the audit log keeps the exposure and the rotation.
func TestExposureEndsWithRotation(t *testing.T) {
	ctx := context.Background()
	e, k, _ := newExposedKey(t)

	rotated, _, err := e.svc.RotateKey(ctx, k.ClientID, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.now()
	if rotated.ExposedSecretValid(now) {
		t.Error("RotateKey with no grace returned a key whose exposed secret is still valid")
	}
	stored := e.findKey(t, k.ClientID)
	if stored.ExposedSecretValid(now) {
		t.Error("stored key still counts as exposed after a rotation with no grace")
	}
	if v := stored.View(now); v.Exposed || v.ExposedAt != nil || v.ExposedGeneration != 0 || v.ExposedUntil != nil {
		t.Errorf("view after a rotation with no grace: exposed %t, at %v, generation %d, until %v; want none",
			v.Exposed, v.ExposedAt, v.ExposedGeneration, v.ExposedUntil)
	}
	for _, event := range []string{iogate.AuditKeyExposed, iogate.AuditKeyRotated} {
		records, _, err := e.store.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: e.accountID, Event: event}, iogate.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 1 {
			t.Errorf("%s records after the rotation = %d, want 1", event, len(records))
		}
	}
}

// TestExposureLastsThroughGrace rotates an exposed key with a grace period. The exposed
// secret keeps working until the grace ends, and the key counts as exposed until then.
func TestExposureLastsThroughGrace(t *testing.T) {
	ctx := context.Background()
	e, k, oldSecret := newExposedKey(t)
	exposedAt := e.findKey(t, k.ClientID).ExposedAt

	if _, _, err := e.svc.RotateKey(ctx, k.ClientID, time.Hour); err != nil {
		t.Fatal(err)
	}
	stored := e.findKey(t, k.ClientID)
	v := stored.View(e.clock.now())
	if !v.Exposed || v.ExposedGeneration != 1 {
		t.Errorf("view during the grace period: exposed %t, generation %d; want true and 1", v.Exposed, v.ExposedGeneration)
	}
	if v.ExposedAt == nil || !v.ExposedAt.Equal(exposedAt) {
		t.Errorf("view during the grace period: exposedAt %v, want %v", v.ExposedAt, exposedAt)
	}
	if v.ExposedUntil == nil || !v.ExposedUntil.Equal(stored.Previous.ExpiresAt) {
		t.Errorf("view during the grace period: exposedUntil %v, want the grace end %v", v.ExposedUntil, stored.Previous.ExpiresAt)
	}
	if _, ok := e.svc.VerifyExposed(ExposedCredential{ClientID: k.ClientID, ClientSecret: oldSecret}); !ok {
		t.Error("the exposed secret no longer verifies during the grace period")
	}

	e.clock.advance(time.Hour - time.Second)
	if !e.findKey(t, k.ClientID).View(e.clock.now()).Exposed {
		t.Error("key no longer exposed a second before the grace period ends")
	}
	e.clock.advance(time.Second)
	if v := e.findKey(t, k.ClientID).View(e.clock.now()); v.Exposed || v.ExposedUntil != nil {
		t.Errorf("view at the end of the grace period: exposed %t, until %v; want neither", v.Exposed, v.ExposedUntil)
	}
	if _, ok := e.svc.VerifyExposed(ExposedCredential{ClientID: k.ClientID, ClientSecret: oldSecret}); ok {
		t.Error("the exposed secret still verifies after the grace period")
	}
}

// TestExposureOfNewerGeneration exposes secrets of both generations during a grace
// period, and then the new secret after the old exposure ended.
func TestExposureOfNewerGeneration(t *testing.T) {
	ctx := context.Background()
	e, k, _ := newExposedKey(t)
	first := e.findKey(t, k.ClientID).ExposedAt
	if _, _, err := e.svc.RotateKey(ctx, k.ClientID, time.Hour); err != nil {
		t.Fatal(err)
	}

	// The new secret leaks too: the key stays exposed after the grace period, and the
	// time of the first exposure stays.
	e.clock.advance(time.Minute)
	e.markExposed(t, k, 2)
	// A late exposure of the old secret does not take the generation back.
	e.markExposed(t, k, 1)
	stored := e.findKey(t, k.ClientID)
	if stored.ExposedGeneration != 2 || !stored.ExposedAt.Equal(first) {
		t.Errorf("after both secrets leaked: generation %d at %v, want 2 at %v", stored.ExposedGeneration, stored.ExposedAt, first)
	}
	e.clock.advance(2 * time.Hour)
	if v := e.findKey(t, k.ClientID).View(e.clock.now()); !v.Exposed || v.ExposedUntil != nil {
		t.Errorf("view after the grace period with the current secret exposed: exposed %t, until %v; want true and no end", v.Exposed, v.ExposedUntil)
	}

	// After a rotation with no grace the key is clear; a new exposure starts a new
	// record with its own time.
	if _, _, err := e.svc.RotateKey(ctx, k.ClientID, 0); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Minute)
	e.markExposed(t, k, 3)
	stored = e.findKey(t, k.ClientID)
	if stored.ExposedGeneration != 3 || !stored.ExposedAt.Equal(e.clock.now().UTC().Truncate(time.Microsecond)) {
		t.Errorf("exposure after the key was clear: generation %d at %v, want 3 at %v", stored.ExposedGeneration, stored.ExposedAt, e.clock.now())
	}
}

// TestExposureWithoutGeneration starts from an exposure that an iogate older than the
// exposed generation recorded. It counts as one of the current secret, and the next
// rotation ends it like any other.
func TestExposureWithoutGeneration(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, _ := e.createKey(t)
	at := e.clock.now().UTC().Truncate(time.Microsecond)
	_, err := e.store.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		k.Exposed, k.ExposedAt = true, at
		return e.svc.newKeyRecord(ctx, k, iogate.AuditKeyExposed, map[string]any{"credential": "client_secret", "revoked": false})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !e.findKey(t, k.ClientID).ExposedSecretValid(e.clock.now()) {
		t.Fatal("an exposure without a generation does not count")
	}

	if _, _, err := e.svc.RotateKey(ctx, k.ClientID, time.Hour); err != nil {
		t.Fatal(err)
	}
	stored := e.findKey(t, k.ClientID)
	if stored.ExposedGeneration != 1 || !stored.ExposedSecretValid(e.clock.now()) {
		t.Errorf("after a rotation with grace: generation %d, valid %t; want 1 and true", stored.ExposedGeneration, stored.ExposedSecretValid(e.clock.now()))
	}
	e.clock.advance(time.Hour)
	if e.findKey(t, k.ClientID).ExposedSecretValid(e.clock.now()) {
		t.Error("the exposure without a generation outlived the grace period of the next rotation")
	}
}
