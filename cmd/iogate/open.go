package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// env is an opened data directory: its store, master key and token engine.
type env struct {
	store *sqlite.DB
	// authStore is the store as the engine and the HTTP handlers use it: store itself, or
	// store wrapped by globals.wrapStore.
	authStore iogate.Store
	master    *iogate.MasterKey
	auth      *auth.Service
}

func (e *env) Close() error { return e.store.Close() }

// ensureDataDir creates the data directory with mode 0700, or checks that it exists.
func (g *globals) ensureDataDir(create bool) error {
	info, err := os.Stat(g.dataDir)
	switch {
	case err == nil && !info.IsDir():
		return errorf("data directory %s is not a directory", g.dataDir)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data directory %s: %w", g.dataDir, err)
	case !create:
		return errorf("data directory %s does not exist: start the server with \"iogate serve\" first, or pass --data-dir", g.dataDir)
	}
	return os.MkdirAll(g.dataDir, 0o700)
}

// loadMasterKey reads the master key from IOGATE_MASTER_KEY or the key file. A missing key
// file is created only when create is true.
func (g *globals) loadMasterKey(create bool) (*iogate.MasterKey, error) {
	if v := g.getenv("IOGATE_MASTER_KEY"); v != "" {
		k, err := iogate.ParseMasterKey(v)
		if err != nil {
			return nil, errorf("invalid IOGATE_MASTER_KEY: %v; it must be 32 bytes in base64", err)
		}
		return k, nil
	}
	path := g.masterKeyFile
	if path == "" {
		path = filepath.Join(g.dataDir, "master.key")
	}
	k, err := iogate.LoadOrCreateMasterKeyFile(path, create)
	if err != nil {
		return nil, errorf("%v", err)
	}
	return k, nil
}

// open opens the data directory for a CLI command or the server.
func (g *globals) open(ctx context.Context, create bool, cfg auth.Config) (*env, error) {
	if err := g.ensureDataDir(create); err != nil {
		return nil, err
	}
	master, err := g.loadMasterKey(create)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(g.dataDir, "iogate.db"))
	if err != nil {
		return nil, err
	}
	var store iogate.Store = db
	if g.wrapStore != nil {
		store = g.wrapStore(db)
	}
	a, err := auth.New(ctx, store, master, cfg)
	if err != nil {
		db.Close()
		if errors.Is(err, iogate.ErrWrongMasterKey) {
			return nil, errorf("%v", err)
		}
		return nil, err
	}
	return &env{store: db, authStore: store, master: master, auth: a}, nil
}
