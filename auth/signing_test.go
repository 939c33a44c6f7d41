package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/token"
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
	return newTestServiceOn(t, openTestStore(t), clock, ttl, token.EdDSA)
}

func openTestStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestServiceOn starts a server that signs with alg on db, as one node of a cluster
// that shares db.
func newTestServiceOn(t *testing.T, db iogate.Store, clock *testClock, ttl time.Duration, alg string) *Service {
	t.Helper()
	ctx := context.Background()
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, db, master, Config{Issuer: "https://iogate.test", TokenTTL: ttl, Now: clock.Now, SigningAlgorithm: alg})
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

// TestRotationToOtherAlgorithm checks that every key a server signs
// with was published for longer than the JWKS may be cached, also after a rotation to
// another algorithm than the server's.
func TestRotationToOtherAlgorithm(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	s := newTestService(t, clock, time.Hour)
	if _, err := s.RotateSigningKey(ctx, token.RS256, DefaultActivationDelay); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	s.reloadKeyringIfDue(ctx)
	publishedBefore := publishedKIDs(t, s)

	clock.Set(start.Add(DefaultActivationDelay + time.Second))
	s.reloadKeyringIfDue(ctx)
	if active := s.Keyring().ActiveKeyID(); !publishedBefore[active] {
		t.Errorf("EdDSA server signs with key %s after the RS256 key activated; it was not in the JWKS before, which held %v", active, publishedBefore)
	}
}

// TestRotationAcrossAlgorithmsPerServer follows a cluster that changes from EdDSA to
// RS256: after the RS256 key activates, an EdDSA server keeps its published key and an
// RS256 server signs with the rotated key, and no server creates a key of its own.
func TestRotationAcrossAlgorithmsPerServer(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	db := openTestStore(t)
	ed := newTestServiceOn(t, db, clock, time.Hour, token.EdDSA)
	edKID := ed.Keyring().ActiveKeyID()

	rotated, err := ed.RotateSigningKey(ctx, token.RS256, DefaultActivationDelay)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	clock.Set(start.Add(DefaultActivationDelay))
	ed.scheduleKeyringReload(clock.Now())
	ed.reloadKeyringIfDue(ctx)
	if got := ed.Keyring().ActiveKeyID(); got != edKID {
		t.Errorf("EdDSA server signs with %s after the RS256 key activated, want its published key %s", got, edKID)
	}
	if !publishedKIDs(t, ed)[rotated.KID] {
		t.Errorf("EdDSA server does not publish the RS256 key %s", rotated.KID)
	}

	// A server restarted with --signing-alg RS256 after the activation.
	rs := newTestServiceOn(t, db, clock, time.Hour, token.RS256)
	if got := rs.Keyring().ActiveKeyID(); got != rotated.KID {
		t.Errorf("RS256 server signs with %s, want the rotated key %s", got, rotated.KID)
	}
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(keys) != 2 {
		t.Errorf("store holds %d signing keys, want 2 (the EdDSA key and the rotated RS256 key)", len(keys))
	}
}

// TestRotationSwitchesSameAlgorithm checks that a running RS256 server, which
// created its own key at start, switches to a rotated RS256 key when it activates while
// an EdDSA server keeps its key.
func TestRotationSwitchesSameAlgorithm(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	db := openTestStore(t)
	ed := newTestServiceOn(t, db, clock, time.Hour, token.EdDSA)
	rs := newTestServiceOn(t, db, clock, time.Hour, token.RS256)
	edKID, rsKID := ed.Keyring().ActiveKeyID(), rs.Keyring().ActiveKeyID()

	rotated, err := ed.RotateSigningKey(ctx, token.RS256, DefaultActivationDelay)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	clock.Set(start.Add(DefaultActivationDelay))
	for _, s := range []*Service{ed, rs} {
		s.scheduleKeyringReload(clock.Now())
		s.reloadKeyringIfDue(ctx)
	}
	if got := rs.Keyring().ActiveKeyID(); got != rotated.KID {
		t.Errorf("RS256 server signs with %s after the rotation activated, want %s", got, rotated.KID)
	}
	if !publishedKIDs(t, rs)[rsKID] {
		t.Errorf("RS256 server withdrew its previous key %s before its tokens expired", rsKID)
	}
	if got := ed.Keyring().ActiveKeyID(); got != edKID {
		t.Errorf("EdDSA server signs with %s after the RS256 rotation, want %s", got, edKID)
	}
}

// TestRetireSigningKeys retires the EdDSA keys after the cluster moved to RS256: the
// retired key stays published for the token lifetime plus the margin, and retiring the
// last algorithm that signs is rejected.
func TestRetireSigningKeys(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	ttl := time.Hour
	db := openTestStore(t)
	ed := newTestServiceOn(t, db, clock, ttl, token.EdDSA)
	edKID := ed.Keyring().ActiveKeyID()

	_, err := ed.RetireSigningKeys(ctx, token.EdDSA, 0)
	wantErrorCode(t, "RetireSigningKeys(the only algorithm)", err, iogate.CodeInvalid)
	_, err = ed.RetireSigningKeys(ctx, token.ES256, 0)
	wantErrorCode(t, "RetireSigningKeys(no ES256 key)", err, iogate.CodeNotFound)
	_, err = ed.RetireSigningKeys(ctx, "HS256", 0)
	wantErrorCode(t, "RetireSigningKeys(HS256)", err, iogate.CodeInvalid)
	_, err = ed.RetireSigningKeys(ctx, token.EdDSA, -time.Second)
	wantErrorCode(t, "RetireSigningKeys(negative delay)", err, iogate.CodeInvalid)

	rotated, err := ed.RotateSigningKey(ctx, token.RS256, DefaultActivationDelay)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	// Before the RS256 key activates, no other algorithm signs yet.
	_, err = ed.RetireSigningKeys(ctx, token.EdDSA, 0)
	wantErrorCode(t, "RetireSigningKeys(before the RS256 key activates)", err, iogate.CodeInvalid)

	clock.Set(start.Add(DefaultActivationDelay))
	rs := newTestServiceOn(t, db, clock, ttl, token.RS256)
	retired, err := rs.RetireSigningKeys(ctx, token.EdDSA, 0)
	if err != nil {
		t.Fatalf("RetireSigningKeys: %v", err)
	}
	if len(retired) != 1 || retired[0].KID != edKID || !retired[0].RetiredAt.Equal(clock.Now()) {
		t.Errorf("RetireSigningKeys returned %+v, want key %s retired at %s", retired, edKID, clock.Now())
	}
	_, err = rs.RetireSigningKeys(ctx, token.RS256, 0)
	wantErrorCode(t, "RetireSigningKeys(RS256 after EdDSA)", err, iogate.CodeInvalid)

	retiredAt := clock.Now()
	steps := []struct {
		name      string
		at        time.Time
		published bool
	}{
		{"right after retirement", retiredAt, true},
		{"old tokens may still be valid", retiredAt.Add(ttl + publishMargin - time.Second), true},
		{"old tokens have expired", retiredAt.Add(ttl + publishMargin), false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.Set(st.at)
			rs.reloadKeyringIfDue(ctx)
			if got := rs.Keyring().ActiveKeyID(); got != rotated.KID {
				t.Errorf("RS256 server signs with %s, want %s", got, rotated.KID)
			}
			if got := publishedKIDs(t, rs)[edKID]; got != st.published {
				t.Errorf("EdDSA key %s published = %v, want %v", edKID, got, st.published)
			}
		})
	}
}

func wantErrorCode(t *testing.T, call string, err error, want iogate.ErrorCode) {
	t.Helper()
	if got := iogate.ErrorCodeOf(err); got != want {
		t.Errorf("%s returned %v (code %q), want code %q", call, err, got, want)
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
	if _, err := s.Authenticate(ctx, revoked, clientAddrForTest); !errors.Is(err, iogate.ErrInvalidToken) || !IsOutdatedCredential(err) {
		t.Errorf("Authenticate(revoked) error = %v, want ErrInvalidToken marked outdated", err)
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
	if _, err := s.Authenticate(ctx, revoked, clientAddrForTest); !errors.Is(err, iogate.ErrInvalidToken) || !IsOutdatedCredential(err) {
		t.Errorf("Authenticate(revoked) after resync error = %v, want ErrInvalidToken marked outdated", err)
	}
}

var clientAddrForTest = netip.MustParseAddr("127.0.0.1")

// TestRetireSigningKeysAcrossGap retires EdDSA while RS256 has a gap: its current key
// retires in an hour and its successor signs only an hour after that. No key would sign
// during the gap, so the retirement must be rejected. RotateSigningKey rejects such a
// successor (TestRotateSigningKeyGap), so the test stores it directly, as two rotations
// that raced each other or an older release could have.
func TestRetireSigningKeysAcrossGap(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	db := openTestStore(t)
	s := newTestServiceOn(t, db, clock, time.Hour, token.EdDSA)

	if _, err := s.RotateSigningKey(ctx, token.RS256, 0); err != nil {
		t.Fatalf("RotateSigningKey(RS256, now): %v", err)
	}
	if _, err := s.RetireSigningKeys(ctx, token.RS256, time.Hour); err != nil {
		t.Fatalf("RetireSigningKeys(RS256, in 1h): %v", err)
	}
	successor, err := token.GenerateSigningKey(token.RS256, s.master, start)
	if err != nil {
		t.Fatal(err)
	}
	successor.ActiveAt = start.Add(2 * time.Hour)
	if err := db.CreateSigningKey(ctx, successor, s.signingKeyRecorder(iogate.Actor{Type: iogate.ActorOperator, ID: "test"})); err != nil {
		t.Fatalf("CreateSigningKey(RS256 successor in 2h): %v", err)
	}

	_, err = s.RetireSigningKeys(ctx, token.EdDSA, 0)
	wantErrorCode(t, "RetireSigningKeys(EdDSA while RS256 has a gap)", err, iogate.CodeInvalid)
	_, err = s.RetireSigningKeys(ctx, token.EdDSA, 90*time.Minute)
	wantErrorCode(t, "RetireSigningKeys(EdDSA inside the RS256 gap)", err, iogate.CodeInvalid)
	if _, err := s.RetireSigningKeys(ctx, token.EdDSA, 2*time.Hour); err != nil {
		t.Errorf("RetireSigningKeys(EdDSA when the RS256 successor signs): %v", err)
	}
}

// TestRotateSigningKeyGap checks that a rotation whose new key activates after the keys of
// its algorithm stop signing is rejected, because servers of that algorithm would create a
// key of their own in between. A new key that activates before then, and the first key of
// an algorithm that nothing signs with, are accepted.
func TestRotateSigningKeyGap(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	s := newTestServiceOn(t, openTestStore(t), clock, time.Hour, token.EdDSA)

	if _, err := s.RotateSigningKey(ctx, token.RS256, 3*time.Hour); err != nil {
		t.Errorf("RotateSigningKey(first RS256 key, in 3h): %v", err)
	}
	if _, err := s.RotateSigningKey(ctx, token.RS256, 0); err != nil {
		t.Fatalf("RotateSigningKey(RS256, now): %v", err)
	}
	if _, err := s.RetireSigningKeys(ctx, token.RS256, time.Hour); err != nil {
		t.Fatalf("RetireSigningKeys(RS256, in 1h): %v", err)
	}
	_, err := s.RotateSigningKey(ctx, token.RS256, 2*time.Hour)
	wantErrorCode(t, "RotateSigningKey(RS256 after its keys retire)", err, iogate.CodeInvalid)
	if _, err := s.RotateSigningKey(ctx, token.RS256, 30*time.Minute); err != nil {
		t.Errorf("RotateSigningKey(RS256 before its keys retire): %v", err)
	}
}

// TestRotateDefaultAlgorithmSkipsRetired checks that a rotation without an algorithm takes
// the newest key with no retirement. It must neither bring back an algorithm retired now
// nor undo a retirement that "retire --retire-in" scheduled for later.
func TestRotateDefaultAlgorithmSkipsRetired(t *testing.T) {
	tests := []struct {
		name     string
		retireIn time.Duration
	}{
		{"retired now", 0},
		{"retiring in an hour", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
			clock := &testClock{now: start}
			s := newTestServiceOn(t, openTestStore(t), clock, time.Hour, token.RS256)

			if _, err := s.RotateSigningKey(ctx, token.EdDSA, 0); err != nil {
				t.Fatalf("RotateSigningKey(EdDSA, now): %v", err)
			}
			if _, err := s.RetireSigningKeys(ctx, token.EdDSA, tt.retireIn); err != nil {
				t.Fatalf("RetireSigningKeys(EdDSA, %s): %v", tt.retireIn, err)
			}
			k, err := s.RotateSigningKey(ctx, "", 0)
			if err != nil {
				t.Fatalf("RotateSigningKey without an algorithm: %v", err)
			}
			if k.Algorithm != token.RS256 {
				t.Errorf("rotation without an algorithm created a %s key, want RS256, the algorithm that keeps signing", k.Algorithm)
			}
		})
	}
}

// TestReadyNamesKeyringFailure checks that /readyz names the master key only when the
// signing keys failed to reload because they do not decrypt with it.
func TestReadyNamesKeyringFailure(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"wrong master key", fmt.Errorf("signing key k1: %w", iogate.ErrWrongMasterKey), "current master key"},
		{"database error", errors.New("load signing keys: database is locked"), "from the database"},
	} {
		e.svc.keyringFailure.fail(c.err, time.Now())
		err := e.svc.Ready(ctx)
		var de *iogate.Error
		if !errors.As(err, &de) || de.Code != iogate.CodeUnavailable || !strings.Contains(de.Message, c.want) {
			t.Errorf("%s: Ready = %v, want CodeUnavailable with a message naming %q", c.name, err, c.want)
		}
	}
}
