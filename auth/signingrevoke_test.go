package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/token"
)

// revocationFixture is a running server's engine and the CLI's engine on one SQLite file,
// with one API key, as "iogate serve" and "iogate signing-key revoke" share a data
// directory.
type revocationFixture struct {
	server   *Service
	cli      *Service
	clock    *settableClock
	log      *bytes.Buffer
	clientID string
	secret   string
}

func newRevocationFixture(t *testing.T) *revocationFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	clock := &settableClock{t: time.Now()}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	server, err := New(ctx, store, master, Config{Issuer: "https://iogate.test", Now: clock.now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, cli := openService(t, path, clock.now)

	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: clock.now()}
	createAccount(t, server, store, account)
	k, secret, err := server.CreateKey(ctx, CreateKeyRequest{AccountID: account.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return &revocationFixture{server: server, cli: cli, clock: clock, log: &log, clientID: k.ClientID, secret: secret.Reveal()}
}

func (f *revocationFixture) issue(t *testing.T) string {
	t.Helper()
	tok, err := f.server.IssueToken(context.Background(), TokenRequest{ClientID: f.clientID, ClientSecret: f.secret, RemoteAddr: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok.AccessToken
}

func (f *revocationFixture) authenticate(tok string) error {
	_, err := f.server.Authenticate(context.Background(), tok, netip.MustParseAddr("192.0.2.1"))
	return err
}

// reload applies the change feed's news to the server and reloads its keyring, as Run does
// when the feed signals a change and at its next keyring tick.
func (f *revocationFixture) reload(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := f.server.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	f.server.reloadKeyringIfDue(ctx)
	if err := f.server.keyringFailure.failure(); err != nil {
		t.Fatalf("keyring reload failed: %v", err)
	}
}

// warnings returns the messages and attributes of the warnings the server logged.
func (f *revocationFixture) warnings(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(f.log.String()) {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if entry["level"] == "WARN" {
			out = append(out, entry)
		}
	}
	return out
}

// TestRevokedSigningKeyTokensRejected revokes the signing key in the CLI's engine: right
// after the server reloads, a token it verified and cached before and a token it never
// saw are both rejected, a replacement signs, and one warning names the revoked key.
func TestRevokedSigningKeyTokensRejected(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	leakedKID := f.server.Keyring().ActiveKeyID()
	cached := f.issue(t)
	if err := f.authenticate(cached); err != nil {
		t.Fatalf("Authenticate before the revocation: %v", err)
	}
	if f.server.cache.len() != 1 {
		t.Fatalf("token cache holds %d entries after one verification, want 1", f.server.cache.len())
	}
	unseen := f.issue(t)

	got, err := f.cli.RevokeSigningKey(ctx, leakedKID)
	if err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}
	if got.Revoked.KID != leakedKID {
		t.Errorf("RevokeSigningKey revoked %s, want %s", got.Revoked.KID, leakedKID)
	}
	if got.Replacement == nil || got.Replacement.Algorithm != token.EdDSA || !got.Replacement.ActiveAt.Equal(f.clock.now().UTC().Truncate(time.Microsecond)) {
		t.Fatalf("RevokeSigningKey replacement = %+v, want an EdDSA key that signs at once", got.Replacement)
	}
	// Until the server reloads, it still trusts the key: the change reaches it through
	// the change feed.
	if err := f.authenticate(cached); err != nil {
		t.Fatalf("Authenticate of the cached token before the reload: %v", err)
	}

	f.reload(t)
	if err := f.authenticate(cached); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of a token cached before the revocation = %v, want ErrInvalidToken", err)
	}
	if err := f.authenticate(unseen); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of an unseen token of the revoked key = %v, want ErrInvalidToken", err)
	}
	if kids := publishedKIDs(t, f.server); kids[leakedKID] || !kids[got.Replacement.KID] || len(kids) != 1 {
		t.Errorf("JWKS after the revocation holds %v, want only the replacement %s", kids, got.Replacement.KID)
	}
	if active := f.server.Keyring().ActiveKeyID(); active != got.Replacement.KID {
		t.Errorf("server signs with %s after the revocation, want the replacement %s", active, got.Replacement.KID)
	}
	if err := f.authenticate(f.issue(t)); err != nil {
		t.Errorf("Authenticate of a token signed by the replacement: %v", err)
	}

	warnings := f.warnings(t)
	if len(warnings) != 1 {
		t.Fatalf("server logged %d warnings, want 1 for the revoked key: %v", len(warnings), warnings)
	}
	want := map[string]any{"signing_key_id": leakedKID}
	for name, value := range warnings[0] {
		if name == "time" || name == "level" || name == "msg" {
			continue
		}
		if want[name] != value {
			t.Errorf("revocation warning has %s=%v, want only signing_key_id=%s", name, value, leakedKID)
		}
	}
	if warnings[0]["signing_key_id"] != leakedKID {
		t.Errorf("revocation warning = %v, want signing_key_id=%s", warnings[0], leakedKID)
	}

	// Another reload changes nothing and logs nothing more.
	f.server.scheduleKeyringReload(f.clock.now())
	f.reload(t)
	if n := len(f.warnings(t)); n != 1 {
		t.Errorf("server logged %d warnings after a second reload, want still 1", n)
	}
}

// TestRevokedRetiredSigningKey revokes a key that a rotation already retired: it leaves
// the JWKS at once instead of after its tokens expire, and no replacement is created.
func TestRevokedRetiredSigningKey(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	oldKID := f.server.Keyring().ActiveKeyID()
	oldTok := f.issue(t)
	if err := f.authenticate(oldTok); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	next, err := f.cli.RotateSigningKey(ctx, "", 0)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	f.reload(t)
	if err := f.authenticate(oldTok); err != nil {
		t.Fatalf("Authenticate of the retired key's token after the rotation: %v", err)
	}
	newTok := f.issue(t)

	got, err := f.cli.RevokeSigningKey(ctx, oldKID)
	if err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}
	if got.Replacement != nil {
		t.Errorf("RevokeSigningKey of a retired key created replacement %s", got.Replacement.KID)
	}
	f.reload(t)
	if err := f.authenticate(oldTok); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of the revoked key's cached token = %v, want ErrInvalidToken", err)
	}
	if err := f.authenticate(newTok); err != nil {
		t.Errorf("Authenticate of the current key's token: %v", err)
	}
	if kids := publishedKIDs(t, f.server); len(kids) != 1 || !kids[next.KID] {
		t.Errorf("JWKS after revoking the retired key holds %v, want only %s", kids, next.KID)
	}
}

// TestRevokeSigningKeyErrors checks the errors of an unknown and a missing KID.
func TestRevokeSigningKeyErrors(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		kid  string
		want iogate.ErrorCode
	}{
		{"unknown", "no-such-kid", iogate.CodeNotFound},
		{"empty", "", iogate.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.cli.RevokeSigningKey(ctx, tt.kid)
			if got := iogate.ErrorCodeOf(err); got != tt.want {
				t.Errorf("RevokeSigningKey(%q) error code %q (%v), want %q", tt.kid, got, err, tt.want)
			}
		})
	}
	if kids := publishedKIDs(t, f.server); len(kids) != 1 {
		t.Errorf("JWKS after failed revocations holds %v, want the one key", kids)
	}
}

// TestRevokedSigningKeyAfterFeedOutage revokes a key while the server's change feed is
// down: the full reload that follows the outage skips the signing-keys change, and must
// reload the keyring anyway.
func TestRevokedSigningKeyAfterFeedOutage(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	tok := f.issue(t)
	if err := f.authenticate(tok); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if _, err := f.cli.RevokeSigningKey(ctx, f.server.Keyring().ActiveKeyID()); err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}

	// The feed failed meanwhile, so the server owes a full reload, which catchUp runs
	// when the feed reconnects; Run then reloads the keyring if that is due.
	f.server.health.owe()
	f.server.catchUp(ctx)
	f.server.reloadKeyringIfDue(ctx)
	if err := f.authenticate(tok); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of the revoked key's token after the outage = %v, want ErrInvalidToken", err)
	}
}

// TestRevokedSigningKeyDuringVerification reloads the keyring while other goroutines
// verify tokens of the revoked key for the first time. A verification that passed just
// before the reload must not leave a cache entry behind that accepts the token afterwards.
func TestRevokedSigningKeyDuringVerification(t *testing.T) {
	f := newRevocationFixture(t)
	ctx := context.Background()
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = f.issue(t)
	}
	if _, err := f.cli.RevokeSigningKey(ctx, f.server.Keyring().ActiveKeyID()); err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < len(tokens); i += 2 {
				f.authenticate(tokens[i])
			}
		})
	}
	f.reload(t)
	wg.Wait()
	for i, tok := range tokens {
		if err := f.authenticate(tok); !errors.Is(err, iogate.ErrInvalidToken) {
			t.Errorf("Authenticate of token %d of the revoked key after the reload = %v, want ErrInvalidToken", i, err)
		}
	}
}

// startWrappedEngine starts an engine on a fresh SQLite file seen through wrap, with one
// account and one API key. It returns the engine, whose store field is the unwrapped
// SQLite store, the key and its secret.
func startWrappedEngine(t *testing.T, logger *slog.Logger, wrap func(*sqlite.DB) iogate.Store) (*testEngine, *iogate.APIKey, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, wrap(db), master, Config{Issuer: "https://iogate.test", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e := &testEngine{svc: svc, store: db, path: path, clock: &settableClock{t: time.Now()}}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, svc, db, account)
	e.accountID = account.ID
	k, secret := e.createKey(t)
	return e, k, secret
}

// failingChangeRead is a real SQLite store whose next KeyChangesSince fails once armed,
// as it fails when the database goes away between two statements.
type failingChangeRead struct {
	*sqlite.DB
	armed bool
}

func (s *failingChangeRead) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	if s.armed {
		s.armed = false
		return nil, iogate.Errorf(iogate.CodeUnavailable, "database unreachable")
	}
	return s.DB.KeyChangesSince(ctx, seq)
}

// TestRevokeSigningKeySyncFailure revokes the signing key in a started engine whose Sync
// after the revocation fails. The revocation is stored, so it succeeds, and the engine
// reloads its keyring at the next tick all the same, as after a rotation or retirement.
func TestRevokeSigningKeySyncFailure(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	var store *failingChangeRead
	e, k, secret := startWrappedEngine(t, slog.New(slog.NewJSONHandler(&logs, nil)), func(db *sqlite.DB) iogate.Store {
		store = &failingChangeRead{DB: db}
		return store
	})
	svc := e.svc
	tok := e.issue(t, k.ClientID, secret)
	remote := netip.MustParseAddr("192.0.2.1")
	if _, err := svc.Authenticate(ctx, tok, remote); err != nil {
		t.Fatalf("Authenticate before the revocation: %v", err)
	}

	leaked := svc.Keyring().ActiveKeyID()
	store.armed = true
	got, err := svc.RevokeSigningKey(ctx, leaked)
	if err != nil {
		t.Errorf("RevokeSigningKey with a failing Sync after it = %v, want nil because the revocation is stored", err)
	}
	if got == nil || got.Revoked == nil || got.Revoked.KID != leaked {
		t.Errorf("RevokeSigningKey returned %+v, want the revocation of %s", got, leaked)
	}
	svc.reloadKeyringIfDue(ctx)
	if _, err := svc.Authenticate(ctx, tok, remote); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of the revoked key's cached token at the next keyring tick = %v, want ErrInvalidToken", err)
	}
	if strings.Contains(logs.String(), tok) {
		t.Error("the engine logged the access token")
	}
}

// TestRevocationSyncedDuringReload commits a revocation while the server reloads its
// keyring from keys it read before, and another goroutine's Sync (an HTTP handler's, after
// its own write) applies the change meanwhile. The reload it requested must still run
// when the change feed next wakes the server, although nothing else is scheduled.
func TestRevocationSyncedDuringReload(t *testing.T) {
	ctx := context.Background()
	var store *signingKeysReadHook
	e, k, secret := startWrappedEngine(t, nil, func(db *sqlite.DB) iogate.Store {
		store = &signingKeysReadHook{Store: db}
		return store
	})
	server, path := e.svc, e.path
	tok := e.issue(t, k.ClientID, secret)
	remote := netip.MustParseAddr("192.0.2.1")
	if _, err := server.Authenticate(ctx, tok, remote); err != nil {
		t.Fatalf("Authenticate before the revocation: %v", err)
	}
	_, cli := openService(t, path, nil)
	leaked := server.Keyring().ActiveKeyID()

	// A reload is due, as after the periodic resync. While it runs, after it has read the
	// keys, the revocation commits and a handler's Sync applies it.
	server.scheduleKeyringReload(time.Now())
	store.hook = func() {
		if _, err := cli.RevokeSigningKey(ctx, leaked); err != nil {
			t.Errorf("RevokeSigningKey: %v", err)
		}
		if err := server.Sync(ctx); err != nil {
			t.Errorf("Sync during the reload: %v", err)
		}
	}
	server.reloadKeyringIfDue(ctx)

	// The feed then wakes the server, as Run does on a notification.
	server.catchUp(ctx)
	server.reloadKeyringIfDue(ctx)
	if _, err := server.Authenticate(ctx, tok, remote); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of the revoked key's cached token after the feed woke the server = %v, want ErrInvalidToken", err)
	}
	if server.Keyring().Published(leaked) {
		t.Errorf("keyring still publishes the revoked key %s", leaked)
	}
}
