package auth

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// testClock is a settable clock for the engine.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// newTestService starts an engine on a fresh SQLite database with a settable clock.
func newTestService(t *testing.T, clock *testClock, ttl time.Duration) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, db, master, Config{Issuer: "https://iogate.test", TokenTTL: ttl, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func publishedKIDs(t *testing.T, s *Service) map[string]bool {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.Keyring().JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.KeyID] = true
	}
	return out
}

// TestSigningKeyLifecycle follows a rotated key through the engine's clock: the new key
// is published before it signs, and the old key stays published until the last token it
// signed has expired, plus the margin for clock differences.
func TestSigningKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	ttl := time.Hour
	s := newTestService(t, clock, ttl)
	oldKID := s.Keyring().ActiveKeyID()

	next, err := s.RotateSigningKey(ctx, "", 10*time.Minute)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	// The CLI rotates in another process; a server learns of it through Sync.
	s.scheduleKeyringReload(clock.Now())
	s.reloadKeyringIfDue(ctx)

	steps := []struct {
		name      string
		at        time.Time
		signer    string
		published []string
		withdrawn []string
	}{
		{"right after the rotation", start, oldKID, []string{oldKID, next.KID}, nil},
		{"just before activation", start.Add(10*time.Minute - time.Second), oldKID, []string{oldKID, next.KID}, nil},
		{"at activation", start.Add(10 * time.Minute), next.KID, []string{oldKID, next.KID}, nil},
		{"old tokens may still be valid", start.Add(10*time.Minute + ttl + publishMargin - time.Second), next.KID, []string{oldKID, next.KID}, nil},
		{"old tokens have expired", start.Add(10*time.Minute + ttl + publishMargin), next.KID, []string{next.KID}, []string{oldKID}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.Set(st.at)
			s.reloadKeyringIfDue(ctx)
			if got := s.Keyring().ActiveKeyID(); got != st.signer {
				t.Errorf("signing key = %s, want %s", got, st.signer)
			}
			kids := publishedKIDs(t, s)
			for _, kid := range st.published {
				if !kids[kid] {
					t.Errorf("key %s is not published, want it in the JWKS", kid)
				}
			}
			for _, kid := range st.withdrawn {
				if kids[kid] {
					t.Errorf("key %s is still published, want it withdrawn", kid)
				}
			}
		})
	}
}

// TestRevokedTokenFailsAtOnce revokes a token in the engine and checks that Authenticate
// and IntrospectToken refuse it on the next call, while another token of the key works.
func TestRevokedTokenFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{now: time.Now()}
	s := newTestService(t, clock, time.Hour)
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: clock.Now()}
	createAccount(t, s, s.store, a)
	k, err := s.ImportKey(ctx, ImportKeyRequest{CreateKeyRequest: CreateKeyRequest{AccountID: a.ID, Name: "imported"}, Secret: "imported+secret%with:colon-é"})
	if err != nil {
		t.Fatalf("ImportKey: %v", err)
	}
	issue := func() string {
		tok, err := s.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: "imported+secret%with:colon-é"})
		if err != nil {
			t.Fatalf("IssueToken with the imported secret: %v", err)
		}
		return tok.AccessToken
	}
	revoked, kept := issue(), issue()
	if err := s.RevokeToken(ctx, k.ClientID, revoked, clientAddrForTest); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := s.Authenticate(ctx, revoked, clientAddrForTest); err != iogate.ErrInvalidToken {
		t.Errorf("Authenticate(revoked) error = %v, want ErrInvalidToken", err)
	}
	if _, ok := s.IntrospectToken(ctx, k.ClientID, revoked); ok {
		t.Error("IntrospectToken(revoked) = active, want inactive")
	}
	if _, err := s.Authenticate(ctx, kept, clientAddrForTest); err != nil {
		t.Errorf("Authenticate(other token) error = %v, want nil", err)
	}
	if err := s.RevokeToken(ctx, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", kept, clientAddrForTest); err != ErrNotOwnToken {
		t.Errorf("RevokeToken by another client = %v, want ErrNotOwnToken", err)
	}

	// A resync rebuilds the view from the store, revocations included.
	if err := s.resync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, revoked, clientAddrForTest); err != iogate.ErrInvalidToken {
		t.Errorf("Authenticate(revoked) after resync error = %v, want ErrInvalidToken", err)
	}
}

var clientAddrForTest = netip.MustParseAddr("127.0.0.1")
