package http

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// testAPI is a Server on a started engine with a fresh SQLite store, one account and one
// key.
type testAPI struct {
	srv      *Server
	engine   *auth.Service
	clientID string
	secret   string
}

func newTestAPI(t testing.TB, opts Options) *testAPI {
	t.Helper()
	return newTestAPIWithLog(t, opts, slog.New(slog.DiscardHandler))
}

// newTestAPIWithLog is newTestAPI with a server that logs to log.
func newTestAPIWithLog(t testing.TB, opts Options, log *slog.Logger) *testAPI {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
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
	if err := store.CreateAccount(ctx, account); err != nil {
		t.Fatal(err)
	}
	k, secret, err := engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(engine, store, log)
	srv.SetOptions(opts)
	return &testAPI{srv: srv, engine: engine, clientID: k.ClientID, secret: secret.Reveal()}
}
