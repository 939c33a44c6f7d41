package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/client"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/sqlite"
)

// Example lists an account's vaults. The first line starts a real iogate server on a
// loopback port, with a fresh SQLite database, an account, an API key and two vaults.
// Against a deployed server only the client part is needed.
func Example() {
	srv, clientID, clientSecret, stop := startServer()
	defer stop()

	c, err := client.New(srv.URL, clientID, clientSecret, client.WithHTTPClient(srv.Client()))
	if err != nil {
		log.Fatal(err)
	}
	for v, err := range c.Vaults(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.Name, v.Threshold, v.Status)
	}
	// Output:
	// Treasury 2 active
	// Cold storage 3 active
}

// startServer runs iogate's HTTPS handler in this process over TLS on 127.0.0.1, on the
// same engine and store as "iogate serve", and returns it with a key's credentials.
func startServer() (srv *httptest.Server, clientID, clientSecret string, stop func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "iogate-example-")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "iogate.db"))
	if err != nil {
		log.Fatal(err)
	}
	master, err := iogate.NewMasterKey([]byte("example master key of 32 bytes!!"))
	if err != nil {
		log.Fatal(err)
	}

	srv = httptest.NewUnstartedServer(nil)
	engine, err := auth.New(ctx, db, master, auth.Config{Issuer: "https://" + srv.Listener.Addr().String()})
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		log.Fatal(err)
	}
	srv.Config.Handler = iohttp.NewServer(engine, db, slog.New(slog.DiscardHandler)).Handler()
	srv.StartTLS()

	account := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.example", Status: iogate.AccountActive, CreatedAt: time.Now()}
	operator := iogate.Actor{Type: iogate.ActorOperator, ID: "example"}
	rec, err := engine.AuditChain().NewAccountCreatedRecord(account, operator, "cli")
	if err != nil {
		log.Fatal(err)
	}
	if err := db.CreateAccount(ctx, account, rec); err != nil {
		log.Fatal(err)
	}
	for i, v := range []struct {
		name      string
		threshold int
	}{{"Treasury", 2}, {"Cold storage", 3}} {
		vault := &iogate.Vault{ID: iogate.NewID(), AccountID: account.ID, Name: v.name, Threshold: v.threshold, Status: iogate.VaultActive, CreatedAt: time.Now().Add(time.Duration(i) * time.Millisecond)}
		rec, err := engine.AuditChain().NewVaultCreatedRecord(vault, operator)
		if err != nil {
			log.Fatal(err)
		}
		if err := db.CreateVault(ctx, vault, rec); err != nil {
			log.Fatal(err)
		}
	}
	key, secret, err := engine.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "example"})
	if err != nil {
		log.Fatal(err)
	}
	stop = func() {
		srv.Close()
		db.Close()
		os.RemoveAll(dir)
	}
	return srv, key.ClientID, secret.Reveal(), stop
}
