package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// testStoreTimeout is the store timeout of the tests below: short, so that they run fast,
// and far below hangingStore's safety limit.
const testStoreTimeout = 200 * time.Millisecond

// hangingStore is the real store with one fault added. While hang is set, the calls that
// requests wait on block until the request's context ends, as on a database server that
// stopped responding. Then they run on the real store with that context. A call that still
// waits after 10s goes ahead, so that a missing bound fails the test instead of hanging it.
type hangingStore struct {
	iogate.Store
	hang atomic.Bool
}

func (s *hangingStore) wait(ctx context.Context) {
	if !s.hang.Load() {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

func (s *hangingStore) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	s.wait(ctx)
	return s.Store.ListVaults(ctx, accountID, page)
}

func (s *hangingStore) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	s.wait(ctx)
	return s.Store.FindVault(ctx, accountID, id)
}

func (s *hangingStore) CreateVaultOnce(ctx context.Context, v *iogate.Vault, key string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	s.wait(ctx)
	return s.Store.CreateVaultOnce(ctx, v, key, rec)
}

func (s *hangingStore) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	s.wait(ctx)
	return s.Store.RevokeToken(ctx, t, rec)
}

func (s *hangingStore) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	s.wait(ctx)
	return s.Store.UpdateAPIKey(ctx, clientID, update)
}

func (s *hangingStore) FindSession(ctx context.Context, idHash []byte) (*iogate.Session, error) {
	s.wait(ctx)
	return s.Store.FindSession(ctx, idHash)
}

// TestStoreTimeoutAPI checks that each API request that waits on a store that stopped
// responding gets 503 with Retry-After once the store timeout passes, with a message that
// names the timeout, in the error form of its endpoint. A vault creation gets 504.
func TestStoreTimeoutAPI(t *testing.T) {
	var store *hangingStore
	api := newTestAPIOnStore(t, Options{}, slog.New(slog.DiscardHandler), auth.Config{StoreTimeout: testStoreTimeout}, func(db *sqlite.DB) iogate.Store {
		store = &hangingStore{Store: db}
		return store
	})
	writer, secret, tok := api.newWriter(t)
	vault := &iogate.Vault{ID: iogate.NewID(), AccountID: writer.AccountID, Name: "Cold", Threshold: 2, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	createVault(t, api.engine, store, vault)
	handler := api.srv.Handler()
	store.hang.Store(true)

	revoke := url.Values{"token": {tok}}.Encode()
	cases := []struct {
		name, method, path, contentType, body string
		bearer, oauth                         bool
	}{
		{"list vaults", "GET", "/v1/vaults", "", "", true, false},
		{"get vault", "GET", "/v1/vaults/" + vault.ID, "", "", true, false},
		{"revoke token", "POST", "/oauth2/revoke", "application/x-www-form-urlencoded", revoke, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			if c.bearer {
				r.Header.Set("Authorization", "Bearer "+tok)
			} else {
				r.SetBasicAuth(writer.ClientID, secret)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)

			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("%s %s with the store hanging: status %d, want 503; body %s", c.method, c.path, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			want := "the database did not respond within 200ms; retry later"
			var code, detail string
			if c.oauth {
				var e OAuthError
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatalf("body is not an OAuth error: %v", err)
				}
				code, detail = e.Error, e.ErrorDescription
				if code != "temporarily_unavailable" {
					t.Errorf("error = %q, want temporarily_unavailable", code)
				}
			} else {
				var p Problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatalf("body is not problem details: %v", err)
				}
				code, detail = p.Code, p.Detail
				if code != string(iogate.CodeUnavailable) {
					t.Errorf("code = %q, want unavailable", code)
				}
			}
			if detail != want {
				t.Errorf("detail = %q, want %q", detail, want)
			}
		})
	}

	t.Run("create vault", func(t *testing.T) {
		// The vault may have been created, so the response must not be the 503 that
		// clients retry: a retry could create a second vault.
		r := httptest.NewRequest("POST", "/v1/vaults", strings.NewReader(`{"name":"Hot","threshold":1}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		if rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("POST /v1/vaults with the store hanging: status %d, want 504; body %s", rec.Code, rec.Body)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("body is not problem details: %v", err)
		}
		if p.Code != string(iogate.CodeOutcomeUnknown) {
			t.Errorf("code = %q, want %q", p.Code, iogate.CodeOutcomeUnknown)
		}
		if want := "the database did not confirm the new vault within 200ms: it may or may not exist"; !strings.HasPrefix(p.Detail, want) {
			t.Errorf("detail = %q, want it to start with %q", p.Detail, want)
		}
	})

	// Once the store responds again, the same requests succeed.
	store.hang.Store(false)
	r := httptest.NewRequest("GET", "/v1/vaults/"+vault.ID, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Errorf("GET /v1/vaults/%s after the store recovered: status %d, want 200", vault.ID, rec.Code)
	}
}

// TestStoreTimeoutPlainHTTP checks that a valid credential sent over plain HTTP to a store
// that stopped responding still gets the plain listener's 403 once the store timeout
// passes, and that the failed marking is logged.
func TestStoreTimeoutPlainHTTP(t *testing.T) {
	var store *hangingStore
	var logs logBuffer
	api := newTestAPIOnStore(t, Options{}, slog.New(slog.NewJSONHandler(&logs, nil)), auth.Config{StoreTimeout: testStoreTimeout}, func(db *sqlite.DB) iogate.Store {
		store = &hangingStore{Store: db}
		return store
	})
	store.hang.Store(true)

	rec := sendSecretOverPlainHTTP(api)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("plain HTTP token request with the store hanging: status %d, want 403", rec.Code)
	}
	lines := logs.records(t, "recording an exposed credential failed")
	if len(lines) != 1 {
		t.Fatalf("log lines about the failed marking = %d, want 1", len(lines))
	}
	if lines[0]["client_id"] != api.clientID {
		t.Errorf("the failed marking's line names client %v, want %s", lines[0]["client_id"], api.clientID)
	}
	if strings.Contains(logs.String(), api.secret) {
		t.Error("the log holds the client secret")
	}
}

// TestStoreTimeoutDashboardPage checks that a dashboard page whose store stopped
// responding, here at the session lookup, gets the 503 error page with Retry-After once
// the store timeout passes.
func TestStoreTimeoutDashboardPage(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &hangingStore{Store: db}
	d, _, _ := newTestDashboardWith(t, store, time.Now, 0, auth.Config{StoreTimeout: testStoreTimeout})
	store.hang.Store(true)

	r := httptest.NewRequest("GET", "/dashboard/keys", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("a", 43)})
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, r)

	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("GET /dashboard/keys with the store hanging: status %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type = %q, want the HTML error page", got)
	}
}
