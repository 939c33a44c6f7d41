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
	return newTestAPIOnStore(t, opts, log, auth.Config{}, func(db *sqlite.DB) iogate.Store { return db })
}

// newTestAPIOnStore is newTestAPIWithLog with the engine and the server on the store that
// wrap returns for the fresh SQLite store, and the engine configured by engine, whose
// Issuer is always https://iogate.test.
func newTestAPIOnStore(t testing.TB, opts Options, log *slog.Logger, engine auth.Config, wrap func(*sqlite.DB) iogate.Store) *testAPI {
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
	engine.Issuer = "https://iogate.test"
	svc, err := auth.New(ctx, store, master, engine)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, svc, store, account)
	k, secret, err := svc.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(svc, store, log)
	srv.SetOptions(opts)
	return &testAPI{srv: srv, engine: svc, accountID: account.ID, clientID: k.ClientID, secret: secret.Reveal()}
}

// newWriter creates a key of the account of api's key, with the vaults:read and
// vaults:write scopes. It returns the key, its secret and an access token of it.
func (api *testAPI) newWriter(t testing.TB) (k *iogate.APIKey, secret, token string) {
	t.Helper()
	own, err := api.srv.store.FindAPIKey(context.Background(), api.clientID)
	if err != nil {
		t.Fatal(err)
	}
	return api.newWriterIn(t, own.AccountID)
}

// newWriterIn is newWriter for a key of accountID.
func (api *testAPI) newWriterIn(t testing.TB, accountID string) (k *iogate.APIKey, secret, token string) {
	t.Helper()
	ctx := context.Background()
	k, s, err := api.engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: accountID, Name: "writer",
		Scopes: []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := api.engine.IssueToken(ctx, auth.TokenRequest{ClientID: k.ClientID, ClientSecret: s.Reveal()})
	if err != nil {
		t.Fatal(err)
	}
	return k, s.Reveal(), issued.AccessToken
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
