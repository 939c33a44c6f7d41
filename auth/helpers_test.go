package auth

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// settableClock is a settable clock safe for concurrent use.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testEngine is a started engine on a fresh SQLite file with one account.
type testEngine struct {
	svc       *Service
	store     *sqlite.DB
	path      string
	accountID string
	clock     *settableClock
}

func newTestEngine(t testing.TB) *testEngine {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	clock := &settableClock{t: time.Now()}
	store, svc := openService(t, path, clock.now)
	// The clock starts once the migrations have run, so that the signing key that Start
	// creates is never older than the signing-key log, whose creation time the migration
	// took from the real clock.
	clock.t = time.Now()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: clock.now()}
	createAccount(t, svc, store, account)
	return &testEngine{svc: svc, store: store, path: path, accountID: account.ID, clock: clock}
}

// openService opens the SQLite file at path and an engine on it, with a fixed master key
// and the clock now, or time.Now when now is nil. The store is closed when the test ends.
func openService(t testing.TB, path string, now func() time.Time) (*sqlite.DB, *Service) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, store, master, Config{Issuer: "https://iogate.test", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return store, svc
}

func (e *testEngine) createKey(t testing.TB, allowed ...string) (*iogate.APIKey, string) {
	t.Helper()
	k, secret, err := e.svc.CreateKey(context.Background(), CreateKeyRequest{AccountID: e.accountID, Name: "k", AllowedIPs: allowed})
	if err != nil {
		t.Fatal(err)
	}
	return k, secret.Reveal()
}

func (e *testEngine) issue(t testing.TB, clientID, secret string) string {
	t.Helper()
	tok, err := e.svc.IssueToken(context.Background(), TokenRequest{ClientID: clientID, ClientSecret: secret, RemoteAddr: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok.AccessToken
}

// mistype returns secret with its last character changed, so that it never verifies.
func mistype(secret string) string {
	last := secret[len(secret)-1]
	if last == 'x' {
		return secret[:len(secret)-1] + "y"
	}
	return secret[:len(secret)-1] + "x"
}

// createAccount stores a with its account.created record, as "iogate account create" does.
func createAccount(t testing.TB, svc *Service, store iogate.Store, a *iogate.Account) {
	t.Helper()
	rec, err := svc.AuditChain().NewAccountCreatedRecord(a, iogate.Actor{Type: iogate.ActorOperator, ID: "tester"}, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAccount(context.Background(), a, rec); err != nil {
		t.Fatal(err)
	}
}
