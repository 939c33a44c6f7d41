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
	srv       *Server
	engine    *auth.Service
	accountID string
	clientID  string
	secret    string
}

func newTestAPI(t testing.TB, opts Options) *testAPI {
	t.Helper()
	return newTestAPIWithLog(t, opts, slog.New(slog.DiscardHandler))
}

// newTestAPIWithLog is newTestAPI with a server that logs to log.
func newTestAPIWithLog(t testing.TB, opts Options, log *slog.Logger) *testAPI {
	t.Helper()
	return newTestAPIOnStore(t, opts, log, nil, func(db *sqlite.DB) iogate.Store { return db })
}

// newTestAPIOnStore is newTestAPIWithLog with the engine and the server on the store that
// wrap returns for the fresh SQLite store, and the engine logging to engineLog (nil
// discards its lines).
func newTestAPIOnStore(t testing.TB, opts Options, log, engineLog *slog.Logger, wrap func(*sqlite.DB) iogate.Store) *testAPI {
	t.Helper()
	return newTestAPIWithConfig(t, opts, log, auth.Config{Logger: engineLog}, wrap)
}

// newTestAPIWithConfig is newTestAPIOnStore with the engine configured by cfg, whose
// Issuer is always https://iogate.test.
func newTestAPIWithConfig(t testing.TB, opts Options, log *slog.Logger, cfg auth.Config, wrap func(*sqlite.DB) iogate.Store) *testAPI {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := wrap(db)
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "https://iogate.test"
	engine, err := auth.New(ctx, store, master, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, engine, store, account)
	k, secret, err := engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(engine, store, log)
	srv.SetOptions(opts)
	return &testAPI{srv: srv, engine: engine, accountID: account.ID, clientID: k.ClientID, secret: secret.Reveal()}
}

// testOperator is the actor of the accounts and vaults that tests create directly in the
// store, as the CLI's operator.
var testOperator = iogate.Actor{Type: iogate.ActorOperator, ID: "tester"}

// createAccount stores a with its account.created record, as "iogate account create" does.
func createAccount(t testing.TB, engine *auth.Service, store iogate.Store, a *iogate.Account) {
	t.Helper()
	rec, err := engine.AuditChain().NewAccountCreatedRecord(a, testOperator, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAccount(context.Background(), a, rec); err != nil {
		t.Fatal(err)
	}
}

// createVault stores v with its vault.created record, as "iogate vault create" does.
func createVault(t testing.TB, engine *auth.Service, store iogate.Store, v *iogate.Vault) {
	t.Helper()
	rec, err := engine.AuditChain().NewVaultCreatedRecord(v, testOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateVault(context.Background(), v, rec); err != nil {
		t.Fatal(err)
	}
}
