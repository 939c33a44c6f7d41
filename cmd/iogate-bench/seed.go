package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/sqlite"
)

// fixture describes the keys that seedDataDir created in a fresh data directory.
type fixture struct {
	// load are the credentials the load clients use, spread evenly over all keys so that
	// lookups do not favour one corner of a large key set.
	load []*credential
	// victims are extra keys, outside load, that the mixed scenario deletes.
	victims []*credential
	keys    int
	elapsed time.Duration
}

// importBatch is the number of keys written per transaction while seeding.
const importBatch = 10_000

// seedDataDir creates in dir, which must not exist or be empty, what "iogate serve" finds
// on its data directory: a TLS certificate, a master key, an account with vaults, and
// keys+victims API keys.
// It writes through iogate's own packages, a batch of keys per transaction, because a
// million CLI processes or single-key transactions would take hours.
func seedDataDir(ctx context.Context, dir string, keys, loadKeys, victims, vaults int) (*fixture, error) {
	start := time.Now()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("data directory %s is not empty: --start needs a fresh one", dir)
	}
	// The certificate is the one "iogate serve" would create on its first run, made here so
	// that the harness can trust it before the server starts.
	tlsDir := filepath.Join(dir, "tls")
	if _, err := iohttp.EnsureSelfSignedCert(filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem"), time.Now()); err != nil {
		return nil, err
	}
	master, err := iogate.LoadOrCreateMasterKeyFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "iogate.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// auth.New creates the pepper of the secret hashes, which the server loads later.
	engine, err := auth.New(ctx, db, master, auth.Config{})
	if err != nil {
		return nil, err
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	account := &iogate.Account{ID: iogate.NewID(), Name: "Benchmark", Email: "bench@example.com", Status: iogate.AccountActive, CreatedAt: now}
	seeder := iogate.Actor{Type: iogate.ActorOperator, ID: "iogate-bench"}
	rec, err := engine.AuditChain().NewAccountCreatedRecord(account, seeder, "iogate-bench")
	if err != nil {
		return nil, err
	}
	if err := db.CreateAccount(ctx, account, rec); err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	for i := range vaults {
		v := &iogate.Vault{ID: iogate.NewID(), AccountID: account.ID, Name: fmt.Sprintf("Vault %d", i+1), Threshold: 2, Status: iogate.VaultActive, CreatedAt: now}
		rec, err := engine.AuditChain().NewVaultCreatedRecord(v, seeder)
		if err != nil {
			return nil, err
		}
		if err := db.CreateVault(ctx, v, rec); err != nil {
			return nil, fmt.Errorf("create vault: %w", err)
		}
	}

	f := &fixture{keys: keys + victims}
	stride := max(1, keys/max(1, loadKeys))
	batch := make([]*iogate.APIKey, 0, importBatch)
	for i := range keys + victims {
		k, secret, err := newFixtureKey(engine, account.ID, i, now)
		if err != nil {
			return nil, err
		}
		switch {
		case i >= keys:
			f.victims = append(f.victims, newCredential(k.ClientID, secret.Reveal()))
		case i%stride == 0 && len(f.load) < loadKeys:
			f.load = append(f.load, newCredential(k.ClientID, secret.Reveal()))
		}
		batch = append(batch, k)
		if len(batch) == importBatch || i == keys+victims-1 {
			if err := db.ImportAPIKeys(ctx, batch); err != nil {
				return nil, fmt.Errorf("import keys: %w", err)
			}
			batch = batch[:0]
		}
		if i%importBatch == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	f.elapsed = time.Since(start)
	return f, nil
}

// newFixtureKey builds a key as auth.Service.CreateKey does, with default scopes, no IP
// allowlist and no expiry.
func newFixtureKey(engine *auth.Service, accountID string, i int, now time.Time) (*iogate.APIKey, iogate.Secret, error) {
	secret, err := iogate.GenerateSecret()
	if err != nil {
		return nil, "", err
	}
	k := &iogate.APIKey{
		ClientID:         iogate.NewClientID(),
		AccountID:        accountID,
		Name:             fmt.Sprintf("bench-%d", i),
		Scopes:           iogate.DefaultScopes,
		CreatedAt:        now,
		UpdatedAt:        now,
		SecretHash:       engine.HashSecret(secret.Reveal()),
		SecretGeneration: 1,
		SecretCreatedAt:  now,
	}
	if err := k.Validate(); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}
