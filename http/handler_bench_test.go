package http

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/internal/logging"
	"github.com/iogate/iogate/sqlite"
)

// The handler benchmarks run the HTTPS API's handler in process, without TLS or sockets,
// on a real SQLite store and with the access log formatted as in production (JSON at info
// level) but discarded. Profile them with:
//
//	go test ./http -run '^$' -bench Handler -benchmem -cpuprofile cpu.out

type benchAPI struct {
	handler   http.Handler
	tokenBody string
	token     string
}

func newBenchAPI(b *testing.B) *benchAPI {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "iogate.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	raw := make([]byte, 32)
	rand.Read(raw)
	master, err := iogate.NewMasterKey(raw)
	if err != nil {
		b.Fatal(err)
	}
	engine, err := auth.New(ctx, db, master, auth.Config{Issuer: "https://127.0.0.1:8443"})
	if err != nil {
		b.Fatalf("auth.New: %v", err)
	}
	if err := engine.Start(ctx); err != nil {
		b.Fatalf("Start: %v", err)
	}
	now := time.Now().UTC()
	account := &iogate.Account{ID: iogate.NewID(), Name: "Bench", Email: "bench@example.com", Status: iogate.AccountActive, CreatedAt: now}
	createAccount(b, engine, db, account)
	for i := range 5 {
		v := &iogate.Vault{ID: iogate.NewID(), AccountID: account.ID, Name: "Vault " + string(rune('A'+i)), Threshold: 2, Status: iogate.VaultActive, CreatedAt: now}
		createVault(b, engine, db, v)
	}
	k, secret, err := engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "bench"})
	if err != nil {
		b.Fatalf("CreateKey: %v", err)
	}
	// The logger and access log are set up as "iogate serve" sets them up.
	w := logging.NewBufferedWriter(io.Discard, 100*time.Millisecond)
	b.Cleanup(func() { w.Close() })
	api := &benchAPI{
		handler:   NewServer(engine, db, slog.New(logging.NewJSON(w, slog.LevelInfo))).Handler(),
		tokenBody: `{"clientId":"` + k.ClientID + `","clientSecret":"` + secret.Reveal() + `"}`,
	}
	rec := api.do(b, api.tokenRequest())
	var resp accessTokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.AccessToken == "" {
		b.Fatalf("token response %d is not a token", rec.Code)
	}
	api.token = resp.AccessToken
	return api
}

func (a *benchAPI) tokenRequest() *http.Request {
	r := httptest.NewRequest("POST", "https://127.0.0.1:8443/v1/auth/accessToken", strings.NewReader(a.tokenBody))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "127.0.0.1:50000"
	return r
}

func (a *benchAPI) vaultsRequest() *http.Request {
	r := httptest.NewRequest("GET", "https://127.0.0.1:8443/v1/vaults", nil)
	r.Header.Set("Authorization", "Bearer "+a.token)
	r.RemoteAddr = "127.0.0.1:50000"
	return r
}

func (a *benchAPI) do(b *testing.B, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: status %d", r.Method, r.URL.Path, rec.Code)
	}
	return rec
}

// BenchmarkHandlerAccessToken is POST /v1/auth/accessToken through the whole handler.
func BenchmarkHandlerAccessToken(b *testing.B) {
	a := newBenchAPI(b)
	b.ReportAllocs()
	for b.Loop() {
		a.do(b, a.tokenRequest())
	}
}

// BenchmarkHandlerListVaults is an authenticated GET /v1/vaults with a cached token.
func BenchmarkHandlerListVaults(b *testing.B) {
	a := newBenchAPI(b)
	b.ReportAllocs()
	for b.Loop() {
		a.do(b, a.vaultsRequest())
	}
}
