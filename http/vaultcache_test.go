package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

func TestVaultCacheKeepsBodiesUntilDropped(t *testing.T) {
	c := newVaultCache(1 << 20)
	loads := 0
	load := func() ([]byte, error) {
		loads++
		return []byte("body"), nil
	}
	for range 3 {
		if _, err := c.body("a", "list/50/", load); err != nil {
			t.Fatal(err)
		}
	}
	if loads != 1 {
		t.Errorf("three reads of one key loaded %d times, want 1", loads)
	}

	c.drop(iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: "other"})
	c.body("a", "list/50/", load)
	if loads != 1 {
		t.Errorf("a drop of another account made the next read load again (%d loads)", loads)
	}
	c.drop(iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: "a"})
	c.body("a", "list/50/", load)
	if loads != 2 {
		t.Errorf("after a drop of the account: %d loads, want 2", loads)
	}
	c.drop(iogate.KeyChange{Kind: iogate.ChangeVaults})
	c.body("a", "list/50/", load)
	if loads != 3 {
		t.Errorf("after a drop of every account: %d loads, want 3", loads)
	}
}

func TestVaultCacheDiscardsLoadsOverlappingADrop(t *testing.T) {
	cases := []struct {
		name   string
		change iogate.KeyChange
	}{
		{"account", iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: "a"}},
		{"every account", iogate.KeyChange{Kind: iogate.ChangeVaults}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newVaultCache(1 << 20)
			// The write commits and its drop arrives while the read is still loading: the
			// loaded body may predate the write, so it must not be kept.
			stale := func() ([]byte, error) {
				c.drop(tc.change)
				return []byte("stale"), nil
			}
			if b, _ := c.body("a", "k", stale); string(b) != "stale" {
				t.Fatalf("the overlapping read returned %q, want what it loaded", b)
			}
			fresh := func() ([]byte, error) { return []byte("fresh"), nil }
			if b, _ := c.body("a", "k", fresh); string(b) != "fresh" {
				t.Errorf("the next read returned %q, want a fresh load", b)
			}
		})
	}
}

func TestVaultCacheBoundAndFailedLoads(t *testing.T) {
	c := newVaultCache(100)
	failure := errors.New("store down")
	if _, err := c.body("a", "k", func() ([]byte, error) { return nil, failure }); !errors.Is(err, failure) {
		t.Fatalf("body returned %v, want the load's error", err)
	}
	if _, ok := c.accounts["a"]["k"]; ok {
		t.Error("a failed load was cached")
	}
	for i := range 50 {
		account := string(rune('a' + i%26))
		c.body(account, strings.Repeat("k", i%7), func() ([]byte, error) { return make([]byte, 20), nil })
		if c.bytes > c.maxBytes {
			t.Fatalf("after %d reads the cache holds %d bytes, above its bound of %d", i+1, c.bytes, c.maxBytes)
		}
	}
	huge := func() ([]byte, error) { return make([]byte, 60), nil }
	c.body("z", "huge", huge)
	if _, ok := c.accounts["z"]["huge"]; ok {
		t.Error("a body above a quarter of the bound was cached")
	}
}

// TestVaultListFollowsWrites reads GET /v1/vaults through the handler while vaults are
// created by this server and by another process, whose change reaches the engine by Sync
// as the change feed would deliver it.
func TestVaultListFollowsWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "iogate.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := auth.New(ctx, store, master, auth.Config{Issuer: "https://iogate.test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, engine, store, account)
	k, secret, err := engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "k",
		Scopes: []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := engine.IssueToken(ctx, auth.TokenRequest{ClientID: k.ClientID, ClientSecret: secret.Reveal()})
	if err != nil {
		t.Fatal(err)
	}
	handler := NewServer(engine, store, slog.New(slog.DiscardHandler)).Handler()
	request := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "https://iogate.test"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		return rec
	}
	names := func() string {
		t.Helper()
		rec := request("GET", "/v1/vaults", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /v1/vaults: status %d", rec.Code)
		}
		var page struct{ Data []struct{ Name string } }
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatalf("GET /v1/vaults: %v", err)
		}
		var out []string
		for _, v := range page.Data {
			out = append(out, v.Name)
		}
		return strings.Join(out, ",")
	}

	if got := names(); got != "" {
		t.Fatalf("vaults of a new account = %q, want none", got)
	}
	rec := request("POST", "/v1/vaults", `{"name":"Cold","threshold":2}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/vaults: status %d, body %s", rec.Code, rec.Body)
	}
	if got := names(); got != "Cold" {
		t.Errorf("vaults right after this server created one = %q, want Cold", got)
	}
	var created struct{ ID string }
	json.Unmarshal(rec.Body.Bytes(), &created)
	if rec := request("GET", "/v1/vaults/"+created.ID, ""); rec.Code != http.StatusOK {
		t.Errorf("GET of the created vault: status %d", rec.Code)
	}

	// Another process (the CLI) writes through its own connection.
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: account.ID, Name: "Warm", Threshold: 1, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	createVault(t, engine, other, v)
	if err := engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "Cold,Warm" {
		t.Errorf("vaults after another process created one = %q, want Cold,Warm", got)
	}

	// Another account's vault stays hidden, cached or not.
	theirs := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, engine, store, theirs)
	hidden := &iogate.Vault{ID: iogate.NewID(), AccountID: theirs.ID, Name: "Theirs", Threshold: 1, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	createVault(t, engine, other, hidden)
	engine.Sync(ctx)
	for range 2 {
		if rec := request("GET", "/v1/vaults/"+hidden.ID, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET of another account's vault: status %d, want 404", rec.Code)
		}
	}
	if got := names(); got != "Cold,Warm" {
		t.Errorf("vaults after another account created one = %q, want Cold,Warm", got)
	}
}
