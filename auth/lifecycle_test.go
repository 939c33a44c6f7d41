package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// clock is a settable time source for the engine.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingStore counts the transactions that append audit records on a real store. While
// failAppends is set, AppendAuditRecords fails as a database would that went away after the
// change it describes committed. While holdAppends is set, AppendAuditRecords calls it
// first, so that a test can hold the append as a database that stopped responding does.
type countingStore struct {
	iogate.Store
	appends     atomic.Int64
	records     atomic.Int64
	failAppends atomic.Bool
	holdAppends atomic.Pointer[func(ctx context.Context)]
}

func (s *countingStore) AppendAuditRecords(ctx context.Context, records []*iogate.AuditRecord) error {
	if hold := s.holdAppends.Load(); hold != nil {
		(*hold)(ctx)
	}
	if s.failAppends.Load() {
		return iogate.Errorf(iogate.CodeUnavailable, "audit records not appended: the test made the append fail")
	}
	s.appends.Add(1)
	s.records.Add(int64(len(records)))
	return s.Store.AppendAuditRecords(ctx, records)
}

// harness is a started engine on a fresh SQLite database, with one account.
type harness struct {
	svc     *Service
	store   *countingStore
	clock   *clock
	account string
	ctx     context.Context
}

var (
	loopback1 = netip.MustParseAddr("127.0.0.1")
	loopback2 = netip.MustParseAddr("127.0.0.2")
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWithConfig(t, Config{})
}

// newHarnessWithConfig is newHarness with the engine configured by cfg, whose Issuer and
// Now it sets.
func newHarnessWithConfig(t *testing.T, cfg Config) *harness {
	t.Helper()
	ctx := iogate.WithActor(context.Background(), iogate.Actor{Type: iogate.ActorOperator, ID: "tester"})
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := iogate.NewMasterKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{store: &countingStore{Store: db}, clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, ctx: ctx}
	cfg.Issuer, cfg.Now = "https://iogate.test", h.clock.Now
	h.svc, err = New(ctx, h.store, master, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: h.clock.Now()}
	createAccount(t, h.svc, db, a)
	h.account = a.ID
	return h
}

func (h *harness) createKey(t *testing.T, allowed ...string) (*iogate.APIKey, iogate.Secret) {
	t.Helper()
	k, secret, err := h.svc.CreateKey(h.ctx, CreateKeyRequest{AccountID: h.account, Name: "ci", AllowedIPs: allowed})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k, secret
}

func (h *harness) issue(t *testing.T, clientID string, secret iogate.Secret, from netip.Addr) string {
	t.Helper()
	tok, err := h.svc.IssueToken(h.ctx, TokenRequest{ClientID: clientID, ClientSecret: secret.Reveal(), RemoteAddr: from})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok.AccessToken
}

// issueErr returns IssueToken's error for the credentials.
func (h *harness) issueErr(clientID string, secret iogate.Secret, from netip.Addr) error {
	_, err := h.svc.IssueToken(h.ctx, TokenRequest{ClientID: clientID, ClientSecret: secret.Reveal(), RemoteAddr: from})
	return err
}

func (h *harness) authErr(tok string, from netip.Addr) error {
	_, err := h.svc.Authenticate(h.ctx, tok, from)
	return err
}

// records returns every audit record of the harness's account, oldest first, after the
// queued denial records have been written.
func (h *harness) records(t *testing.T) []*iogate.AuditRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.flushAudit()
	var out []*iogate.AuditRecord
	if err := h.store.AuditRecords(ctx, h.account, func(r *iogate.AuditRecord) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// flushAudit waits until the queued denial records are written.
func (h *harness) flushAudit() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.svc.audit.flush(ctx)
}

func TestRotateWithGrace(t *testing.T) {
	h := newHarness(t)
	k, oldSecret := h.createKey(t)
	oldToken := h.issue(t, k.ClientID, oldSecret, loopback1)

	rotated, newSecret, err := h.svc.RotateKey(h.ctx, k.ClientID, 10*time.Minute)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if rotated.SecretGeneration != 2 || rotated.Previous == nil || rotated.Previous.Generation != 1 {
		t.Fatalf("after rotation: generation %d, previous %+v; want 2 with previous generation 1", rotated.SecretGeneration, rotated.Previous)
	}

	// During the grace period both secrets and the old token work.
	if err := h.authErr(oldToken, loopback1); err != nil {
		t.Errorf("token of the old secret during the grace period: %v", err)
	}
	graceToken := h.issue(t, k.ClientID, oldSecret, loopback1)
	newToken := h.issue(t, k.ClientID, newSecret, loopback1)

	// Once the grace ends, the old secret and every token it minted are refused.
	h.clock.Advance(10*time.Minute + time.Second)
	if err := h.issueErr(k.ClientID, oldSecret, loopback1); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("old secret after the grace period: error %v, want ErrInvalidClient", err)
	}
	for name, tok := range map[string]string{"before rotation": oldToken, "during grace": graceToken} {
		if err := h.authErr(tok, loopback1); !errors.Is(err, iogate.ErrInvalidToken) {
			t.Errorf("token of the old secret issued %s, after the grace period: error %v, want ErrInvalidToken", name, err)
		}
	}
	if err := h.authErr(newToken, loopback1); err != nil {
		t.Errorf("token of the new secret after the grace period: %v", err)
	}
	h.issue(t, k.ClientID, newSecret, loopback1)
}

// A token minted with the previous secret stops working when the grace period ends, so its
// exp claim and expires_in must end there too. A resource server that verifies tokens
// against the JWKS alone would otherwise accept it for up to a whole token lifetime after
// the secret retired.
func TestGraceTokenExpiresWithGrace(t *testing.T) {
	h := newHarness(t)
	k, oldSecret := h.createKey(t)
	rotated, _, err := h.svc.RotateKey(h.ctx, k.ClientID, 10*time.Minute)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	graceEnd := rotated.Previous.ExpiresAt

	h.clock.Advance(9 * time.Minute)
	issued, err := h.svc.IssueToken(h.ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: oldSecret.Reveal(), RemoteAddr: loopback1})
	if err != nil {
		t.Fatalf("IssueToken with the previous secret during the grace period: %v", err)
	}
	if want := int64(graceEnd.Sub(h.clock.Now()) / time.Second); issued.ExpiresIn > want {
		t.Errorf("ExpiresIn of a token of the previous secret = %d, want at most %d, the seconds left in the grace period", issued.ExpiresIn, want)
	}
	claims, err := h.svc.Keyring().Verify(issued.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Expiry > graceEnd.Unix() {
		t.Errorf("exp of a token of the previous secret = %s, after the end of the grace period %s", claims.ExpiresAt().UTC(), graceEnd.UTC())
	}
}

func TestRotateWithoutGrace(t *testing.T) {
	h := newHarness(t)
	k, oldSecret := h.createKey(t)
	oldToken := h.issue(t, k.ClientID, oldSecret, loopback1)

	rotated, newSecret, err := h.svc.RotateKey(h.ctx, k.ClientID, 0)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	// The old secret's hash stays, with no grace period at all, so that its later use is
	// recorded as a retired secret.
	if p := rotated.Previous; p == nil || p.Generation != 1 || !p.ExpiresAt.IsZero() {
		t.Errorf("after a rotation with grace 0: previous secret %+v, want generation 1 with no grace end", p)
	}
	if view := rotated.View(h.clock.Now()); view.Rotation != nil {
		t.Errorf("after a rotation with grace 0: key view shows rotation %+v, want none", view.Rotation)
	}
	err = h.issueErr(k.ClientID, oldSecret, loopback1)
	if !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("old secret right after rotation: error %v, want ErrInvalidClient", err)
	}
	// A node whose clock is behind the rotating one's must not accept the old secret
	// either.
	h.clock.Advance(-time.Minute)
	if err := h.issueErr(k.ClientID, oldSecret, loopback1); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("old secret on a clock a minute behind the rotation: error %v, want ErrInvalidClient", err)
	}
	h.clock.Advance(time.Minute)
	if !IsOutdatedCredential(err) {
		t.Errorf("IsOutdatedCredential(%v) = false for the retired secret, want true", err)
	}
	records := h.records(t)
	if last := records[len(records)-1]; last.Event != iogate.AuditTokenDenied || last.Reason != iogate.DenySecretRetired {
		t.Errorf("last record = %s %q, want %s %q", last.Event, last.Reason, iogate.AuditTokenDenied, iogate.DenySecretRetired)
	}
	err = h.authErr(oldToken, loopback1)
	if !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("token of the old secret right after rotation: error %v, want ErrInvalidToken", err)
	}
	if !IsOutdatedCredential(err) {
		t.Errorf("IsOutdatedCredential(%v) = false for a token of the retired secret, want true", err)
	}
	h.issue(t, k.ClientID, newSecret, loopback1)
}

// TestRotateKeyFromStaleGeneration checks that a rotation of a secret generation that was
// rotated meanwhile changes nothing, so that two forms posted at once rotate the key once.
func TestRotateKeyFromStaleGeneration(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(t)
	rotated, secret, err := h.svc.RotateKeyFrom(h.ctx, k.ClientID, k.SecretGeneration, 0)
	if err != nil {
		t.Fatalf("RotateKeyFrom of the current generation: %v", err)
	}
	if _, _, err := h.svc.RotateKeyFrom(h.ctx, k.ClientID, k.SecretGeneration, 0); !errors.Is(err, ErrRotatedMeanwhile) {
		t.Errorf("RotateKeyFrom of the generation before: error %v, want ErrRotatedMeanwhile", err)
	}
	// The secret of the first rotation still works: the second one changed nothing.
	h.issue(t, k.ClientID, secret, loopback1)
	got, err := h.store.FindAPIKey(h.ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretGeneration != rotated.SecretGeneration {
		t.Errorf("secret generation after the refused rotation = %d, want %d", got.SecretGeneration, rotated.SecretGeneration)
	}
}

func TestRotateTwiceRetiresFirstSecret(t *testing.T) {
	h := newHarness(t)
	k, first := h.createKey(t)
	firstToken := h.issue(t, k.ClientID, first, loopback1)

	_, second, err := h.svc.RotateKey(h.ctx, k.ClientID, time.Hour)
	if err != nil {
		t.Fatalf("first RotateKey: %v", err)
	}
	secondToken := h.issue(t, k.ClientID, second, loopback1)
	rotated, third, err := h.svc.RotateKey(h.ctx, k.ClientID, time.Hour)
	if err != nil {
		t.Fatalf("second RotateKey: %v", err)
	}
	if rotated.SecretGeneration != 3 || rotated.Previous == nil || rotated.Previous.Generation != 2 {
		t.Fatalf("after two rotations: generation %d, previous %+v; want 3 with previous generation 2", rotated.SecretGeneration, rotated.Previous)
	}

	if err := h.issueErr(k.ClientID, first, loopback1); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("first secret after the second rotation: error %v, want ErrInvalidClient", err)
	}
	if err := h.authErr(firstToken, loopback1); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("token of the first secret after the second rotation: error %v, want ErrInvalidToken", err)
	}
	if err := h.authErr(secondToken, loopback1); err != nil {
		t.Errorf("token of the second secret during its grace: %v", err)
	}
	h.issue(t, k.ClientID, second, loopback1)
	h.issue(t, k.ClientID, third, loopback1)

	var rotations []*iogate.AuditRecord
	for _, r := range h.records(t) {
		if r.Event == iogate.AuditKeyRotated {
			rotations = append(rotations, r)
		}
	}
	if len(rotations) != 2 || !strings.Contains(string(rotations[1].Details), `"retiredGenerations":[1]`) {
		t.Errorf("key.rotated records = %d, want 2 with the second retiring generation 1", len(rotations))
	}
}

func TestRotateGraceBounds(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(t)
	for _, grace := range []time.Duration{-time.Second, MaxRotationGrace + time.Second} {
		if _, _, err := h.svc.RotateKey(h.ctx, k.ClientID, grace); iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
			t.Errorf("RotateKey with grace %s: error %v, want %s", grace, err, iogate.CodeInvalid)
		}
	}
	if _, _, err := h.svc.RotateKey(h.ctx, k.ClientID, MaxRotationGrace); err != nil {
		t.Errorf("RotateKey with grace 30d: %v", err)
	}
	if _, _, err := h.svc.RotateKey(h.ctx, iogate.NewClientID(), time.Hour); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Errorf("RotateKey of an unknown key: error %v, want %s", err, iogate.CodeNotFound)
	}
}

func TestPreviousSecretUse(t *testing.T) {
	h := newHarness(t)
	k, oldSecret := h.createKey(t)

	// A use from before the rotation that is written after it does not count.
	h.issue(t, k.ClientID, oldSecret, loopback1)
	h.clock.Advance(time.Second)
	if _, _, err := h.svc.RotateKey(h.ctx, k.ClientID, time.Hour); err != nil {
		t.Fatal(err)
	}
	h.svc.uses.flush(h.ctx)
	view := h.keyView(t, k.ClientID)
	if view.Rotation == nil || view.Rotation.PreviousUsedSinceRotation {
		t.Fatalf("rotation view = %+v, want the previous secret unused since the rotation", view.Rotation)
	}

	h.clock.Advance(time.Second)
	h.issue(t, k.ClientID, oldSecret, loopback2)
	h.svc.uses.flush(h.ctx)
	view = h.keyView(t, k.ClientID)
	if !view.Rotation.PreviousUsedSinceRotation || view.Rotation.PreviousLastUsedAt == nil || !view.Rotation.PreviousLastUsedAt.Equal(h.clock.Now()) {
		t.Errorf("rotation view = %+v, want the previous secret used at %s", view.Rotation, h.clock.Now())
	}
}

func (h *harness) keyView(t *testing.T, clientID string) iogate.APIKeyView {
	t.Helper()
	k, err := h.store.FindAPIKey(h.ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return k.View(h.clock.Now())
}

func TestUpdateKeyTakesEffectOnNextRequest(t *testing.T) {
	h := newHarness(t)
	k, secret := h.createKey(t, "127.0.0.1")
	tok := h.issue(t, k.ClientID, secret, loopback1)
	if err := h.authErr(tok, loopback2); !errors.Is(err, ErrIPNotAllowed) {
		t.Errorf("token used from 127.0.0.2 with the key limited to 127.0.0.1: error %v, want ErrIPNotAllowed", err)
	}

	if _, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{AllowedIPs: []string{"127.0.0.2"}}); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	if err := h.authErr(tok, loopback1); !errors.Is(err, ErrIPNotAllowed) {
		t.Errorf("token used from 127.0.0.1 after the list became 127.0.0.2: error %v, want ErrIPNotAllowed", err)
	}
	if err := h.authErr(tok, loopback2); err != nil {
		t.Errorf("token used from 127.0.0.2 after the list became 127.0.0.2: %v", err)
	}
	if err := h.issueErr(k.ClientID, secret, loopback1); !errors.Is(err, ErrIPNotAllowed) {
		t.Errorf("token request from 127.0.0.1: error %v, want ErrIPNotAllowed", err)
	}

	if _, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{AllowedIPs: []string{}}); err != nil {
		t.Fatalf("UpdateKey clearing the list: %v", err)
	}
	if err := h.authErr(tok, loopback1); err != nil {
		t.Errorf("token used from 127.0.0.1 after the list was cleared: %v", err)
	}

	if _, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{Scopes: []string{iogate.ScopeVaultsWrite}}); err != nil {
		t.Fatalf("UpdateKey of scopes: %v", err)
	}
	if err := h.authErr(tok, loopback1); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("vaults:read token after the key lost vaults:read: error %v, want ErrInvalidToken", err)
	}
}

func TestUpdateKeyValidation(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(t)
	empty, long := "", strings.Repeat("n", iogate.MaxNameLength+1)
	cases := []struct {
		name string
		req  UpdateKeyRequest
		code iogate.ErrorCode
		says string
	}{
		{"nothing to change", UpdateKeyRequest{}, iogate.CodeInvalid, "nothing to update"},
		{"bad allowlist entry", UpdateKeyRequest{AllowedIPs: []string{"10.0.0.0/8", "10.0.0.1/8"}}, iogate.CodeInvalid, `"10.0.0.1/8"`},
		{"unknown scope", UpdateKeyRequest{Scopes: []string{"vaults:admin"}}, iogate.CodeInvalidScope, `"vaults:admin"`},
		{"no scopes", UpdateKeyRequest{Scopes: []string{}}, iogate.CodeInvalid, "at least one scope"},
		{"empty name", UpdateKeyRequest{Name: &empty}, iogate.CodeInvalid, "key name is required"},
		{"long name", UpdateKeyRequest{Name: &long}, iogate.CodeInvalid, "too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.svc.UpdateKey(h.ctx, k.ClientID, c.req)
			if iogate.ErrorCodeOf(err) != c.code || !strings.Contains(iogate.ErrorMessageOf(err), c.says) {
				t.Errorf("UpdateKey error = %v, want code %s saying %s", err, c.code, c.says)
			}
		})
	}
	stored, err := h.store.FindAPIKey(h.ctx, k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != k.Name || !stored.UpdatedAt.Equal(k.UpdatedAt) {
		t.Errorf("key after rejected updates: name %q, updated %s; want it unchanged", stored.Name, stored.UpdatedAt)
	}
	if recs := h.records(t); len(recs) != 2 {
		t.Errorf("audit records after rejected updates = %d, want only account.created and key.created", len(recs))
	}
}

// storeLegacyText writes name and description to the key directly in the store, bypassing
// the service's checks, as an older iogate could have stored them.
func (h *harness) storeLegacyText(t *testing.T, clientID, name, description string) {
	t.Helper()
	_, err := h.store.UpdateAPIKey(h.ctx, clientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		k.Name, k.Description = name, description
		return h.svc.newKeyRecord(h.ctx, k, iogate.AuditKeyUpdated, map[string]any{"test": "legacy text"})
	})
	if err != nil {
		t.Fatalf("UpdateAPIKey writing a legacy name: %v", err)
	}
}

// TestUpdateKeyKeepsLegacyName checks that a key whose stored name and description contain
// characters disallowed since they were written can still be updated when the update leaves
// them alone, and that a changed name or description is checked.
func TestUpdateKeyKeepsLegacyName(t *testing.T) {
	legacy := []struct{ name, text, rejected string }{
		{"zero-width space", "ci\u200b", "U+200B"},
		{"C1 next line", "c\u0085i", "U+0085"},
		{"tag character", "ci\U000e0041", "U+E0041"},
	}
	for _, l := range legacy {
		t.Run(l.name, func(t *testing.T) {
			h := newHarness(t)
			k, _ := h.createKey(t)
			h.storeLegacyText(t, k.ClientID, l.text, "about "+l.text)
			stored, err := h.store.FindAPIKey(h.ctx, k.ClientID)
			if err != nil {
				t.Fatal(err)
			}

			// The dashboard sends every field back, the CLI only those given.
			sameName, sameDescription := stored.Name, stored.Description
			unchanged := []struct {
				name string
				req  UpdateKeyRequest
			}{
				{"scopes only", UpdateKeyRequest{Scopes: []string{iogate.ScopeVaultsWrite}}},
				{"same name and description", UpdateKeyRequest{Name: &sameName, Description: &sameDescription, AllowedIPs: []string{"127.0.0.1"}}},
			}
			for _, u := range unchanged {
				got, err := h.svc.UpdateKey(h.ctx, k.ClientID, u.req)
				if err != nil {
					t.Fatalf("UpdateKey with %s: %v, want success", u.name, err)
				}
				if got.Name != l.text || got.Description != "about "+l.text {
					t.Errorf("UpdateKey with %s: name %q, description %q; want them kept", u.name, got.Name, got.Description)
				}
			}

			otherName, otherDescription := "other "+l.text, "other "+l.text
			for _, c := range []struct {
				field string
				req   UpdateKeyRequest
			}{
				{"key name", UpdateKeyRequest{Name: &otherName}},
				{"key description", UpdateKeyRequest{Description: &otherDescription}},
			} {
				_, err := h.svc.UpdateKey(h.ctx, k.ClientID, c.req)
				msg := iogate.ErrorMessageOf(err)
				if iogate.ErrorCodeOf(err) != iogate.CodeInvalid || !strings.HasPrefix(msg, c.field+" contains") || !strings.Contains(msg, l.rejected) {
					t.Errorf("UpdateKey changing the %s to %q: error %v, want %s naming the field and %s", c.field, otherName, err, iogate.CodeInvalid, l.rejected)
				}
			}

			clean := "ci"
			got, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{Name: &clean})
			if err != nil {
				t.Fatalf("UpdateKey renaming to %q: %v", clean, err)
			}
			if got.Name != clean {
				t.Errorf("UpdateKey renaming to %q: name %q", clean, got.Name)
			}
		})
	}
}

func TestAuditOfKeyLifecycle(t *testing.T) {
	h := newHarness(t)
	k, secret := h.createKey(t, "127.0.0.1")
	tok := h.issue(t, k.ClientID, secret, loopback1)
	name := "renamed"
	if _, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{Name: &name, AllowedIPs: []string{"127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	_, newSecret, err := h.svc.RotateKey(h.ctx, k.ClientID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Replace the last character with a different one: "x" unless it already is one.
	last := "x"
	if strings.HasSuffix(secret.Reveal(), "x") {
		last = "y"
	}
	wrong := iogate.Secret(secret.Reveal()[:len(secret.Reveal())-1] + last)
	if err := h.issueErr(k.ClientID, wrong, loopback2); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Denial records are queued without waiting. Flush them so that the order is known.
	h.flushAudit()
	if err := h.issueErr(iogate.NewClientID(), secret, loopback2); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Fatalf("unknown client: %v", err)
	}
	if _, err := h.svc.UpdateKey(h.ctx, k.ClientID, UpdateKeyRequest{AllowedIPs: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.issueErr(k.ClientID, newSecret, loopback2); !errors.Is(err, ErrIPNotAllowed) {
		t.Fatalf("token request from 127.0.0.2: %v", err)
	}
	h.flushAudit()
	if err := h.svc.DeleteKey(h.ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}

	// The account's log starts with its account.created record; the key's records follow.
	recs := h.records(t)
	if len(recs) == 0 || recs[0].Event != iogate.AuditAccountCreated {
		t.Fatalf("the account's first audit record is not account.created: %d records", len(recs))
	}
	recs = recs[1:]
	want := []struct{ event, actor, ip, reason string }{
		{iogate.AuditKeyCreated, "operator:tester", "", ""},
		{iogate.AuditTokenIssued, "client:" + k.ClientID, "127.0.0.1", ""},
		{iogate.AuditKeyUpdated, "operator:tester", "", ""},
		{iogate.AuditKeyRotated, "operator:tester", "", ""},
		{iogate.AuditTokenDenied, "client:" + k.ClientID, "127.0.0.2", iogate.DenyInvalidSecret},
		{iogate.AuditKeyUpdated, "operator:tester", "", ""},
		{iogate.AuditTokenDenied, "client:" + k.ClientID, "127.0.0.2", iogate.DenyIPNotAllowed},
		{iogate.AuditKeyDeleted, "operator:tester", "", ""},
	}
	if len(recs) != len(want) {
		for _, r := range recs {
			t.Logf("record %d: %s %s %s", r.Seq, r.Event, r.Reason, r.Details)
		}
		t.Fatalf("audit records = %d, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		actor := r.Actor.Type + ":" + r.Actor.ID
		if r.Event != w.event || actor != w.actor || r.Actor.IP != w.ip || r.Reason != w.reason || r.ClientID != k.ClientID {
			t.Errorf("record %d = %s by %s from %q, reason %q, key %s; want %s by %s from %q, reason %q, key %s",
				r.Seq, r.Event, actor, r.Actor.IP, r.Reason, r.ClientID, w.event, w.actor, w.ip, w.reason, k.ClientID)
		}
	}
	if !strings.Contains(string(recs[2].Details), `"allowedIps":{"from":["127.0.0.1"],"to":["127.0.0.0/8"]}`) {
		t.Errorf("key.updated details = %s, want the old and new allowed IPs", recs[2].Details)
	}
	if recs[1].TokenID == "" {
		t.Error("token.issued record has no token ID")
	}

	// No record holds a secret or a token, in any field.
	all, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"old secret": secret.Reveal(), "new secret": newSecret.Reveal(), "wrong secret": wrong.Reveal(), "access token": tok} {
		if strings.Contains(string(all), s) {
			t.Errorf("audit records contain the %s", name)
		}
	}

	report, err := h.svc.VerifyAudit(h.ctx, h.account)
	if err != nil || report.Records != int64(len(want)+1) {
		t.Errorf("VerifyAudit = %+v, %v; want %d records verified", report, err, len(want)+1)
	}
}

func TestIssueTokenGroupCommit(t *testing.T) {
	h := newHarness(t)
	k, secret := h.createKey(t)
	before := h.store.appends.Load()

	const n = 64
	tokens := make([]string, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := h.svc.IssueToken(h.ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret.Reveal(), RemoteAddr: loopback1})
			if err != nil {
				errs <- err
				return
			}
			tokens[i] = tok.AccessToken
			p, err := h.svc.Authenticate(h.ctx, tok.AccessToken, loopback1)
			if err != nil {
				errs <- err
				return
			}
			ids[i] = p.TokenID
			// The record must be durable before IssueToken returned: read it now, without
			// flushing anything.
			found := false
			err = h.store.AuditRecords(h.ctx, h.account, func(r *iogate.AuditRecord) error {
				found = found || r.TokenID == p.TokenID
				return nil
			})
			if err == nil && !found {
				err = errors.New("the token.issued record of a returned token is not in the store")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	transactions := h.store.appends.Load() - before
	t.Logf("%d issuances committed in %d audit transactions", n, transactions)
	if transactions > n {
		t.Errorf("%d audit transactions for %d issuances, want at most one each", transactions, n)
	}
	issued := map[string]bool{}
	for _, r := range h.records(t) {
		if r.Event == iogate.AuditTokenIssued {
			issued[r.TokenID] = true
		}
	}
	for _, id := range ids {
		if !issued[id] {
			t.Errorf("no token.issued record for token %s", id)
		}
	}
	// The records are account.created, key.created and one per token.
	if report, err := h.svc.VerifyAudit(h.ctx, h.account); err != nil || report.Records != n+2 {
		t.Errorf("VerifyAudit = %+v, %v; want %d records verified", report, err, n+2)
	}
}

func TestIssueTokenFailsWithoutAudit(t *testing.T) {
	h := newHarness(t)
	k, secret := h.createKey(t)
	// Closing the store makes the audit write fail; the token must not be handed out.
	h.store.Store.Close()
	_, err := h.svc.IssueToken(h.ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret.Reveal(), RemoteAddr: loopback1})
	if iogate.ErrorCodeOf(err) != iogate.CodeUnavailable {
		t.Errorf("IssueToken with the audit log unwritable: error %v, want %s", err, iogate.CodeUnavailable)
	}
}

// TestIssueInLastSecond checks that a credential with less than a second left gets no token.
// Claims count whole seconds, so such a token would be expired when issued.
func TestIssueInLastSecond(t *testing.T) {
	h := newHarness(t)
	// Ends of lifetimes then fall half a second after a whole second.
	alignToHalfSecond := func() {
		fraction := time.Duration(h.clock.Now().Nanosecond())
		h.clock.Advance((3*time.Second/2 - fraction) % time.Second)
	}
	// lastSecond moves the clock into the last second before end.
	lastSecond := func(end time.Time) {
		h.clock.Advance(end.Truncate(time.Second).Add(200 * time.Millisecond).Sub(h.clock.Now()))
	}

	alignToHalfSecond()
	k, secret, err := h.svc.CreateKey(h.ctx, CreateKeyRequest{AccountID: h.account, Name: "short", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	lastSecond(k.ExpiresAt)
	if err := h.issueErr(k.ClientID, secret, loopback1); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("IssueToken in the key's last second: error %v, want ErrInvalidClient", err)
	}
	records := h.records(t)
	last := records[len(records)-1]
	if last.Event != iogate.AuditTokenDenied || last.Reason != iogate.DenyKeyExpired {
		t.Errorf("last record = %s %q, want %s %q", last.Event, last.Reason, iogate.AuditTokenDenied, iogate.DenyKeyExpired)
	}

	alignToHalfSecond()
	other, oldSecret := h.createKey(t)
	rotated, _, err := h.svc.RotateKey(h.ctx, other.ClientID, 10*time.Minute)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	lastSecond(rotated.Previous.ExpiresAt)
	if err := h.issueErr(other.ClientID, oldSecret, loopback1); !errors.Is(err, iogate.ErrInvalidClient) {
		t.Errorf("IssueToken with the previous secret in the grace period's last second: error %v, want ErrInvalidClient", err)
	}
	records = h.records(t)
	last = records[len(records)-1]
	if last.Event != iogate.AuditTokenDenied || last.Reason != iogate.DenySecretRetired {
		t.Errorf("last record = %s %q, want %s %q", last.Event, last.Reason, iogate.AuditTokenDenied, iogate.DenySecretRetired)
	}
}
