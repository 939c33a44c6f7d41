package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// env is an opened store with its change feed, master key and token engine.
type env struct {
	store  iogate.Store
	feed   auth.ChangeFeed
	master *iogate.MasterKey
	auth   *auth.Service
}

func (e *env) Close() error { return e.store.Close() }

// ensureDataDir creates the data directory with mode 0700, or checks that it exists.
func (g *globals) ensureDataDir(create bool) error {
	info, err := os.Stat(g.dataDir)
	switch {
	case err == nil && !info.IsDir():
		return flagErrorf("data-dir", "data directory %s is not a directory: choose a directory with --data-dir", g.dataDir)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return flagErrorf("data-dir", "data directory %s: %v; choose a directory with --data-dir", g.dataDir, err)
	case !create:
		return flagErrorf("data-dir", "data directory %s does not exist: start the server with \"iogate serve\" first, or pass --data-dir", g.dataDir)
	}
	if err := os.MkdirAll(g.dataDir, 0o700); err != nil {
		return flagErrorf("data-dir", "create data directory: %v", err)
	}
	return nil
}

// loadMasterKey reads the master key from IOGATE_MASTER_KEY or the key file. A missing key
// file is created only when create is true, and never for PostgreSQL: nodes that share a
// database must share its master key, so a node that made up its own would lock the others
// out.
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
	if g.usesPostgres() {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, errorf("no master key: with PostgreSQL every node must be given the same master key in IOGATE_MASTER_KEY or --master-key-file, "+
				"and none is created (%s does not exist); generate one with \"iogate master-key generate --output FILE\"", path)
		}
		create = false
	} else if _, err := os.Stat(path); !create && errors.Is(err, os.ErrNotExist) {
		return nil, errorf("no master key at %s: \"iogate serve\" or \"iogate account create\" creates it on first use; "+
			"or pass the existing key with --master-key-file or IOGATE_MASTER_KEY", path)
	}
	k, err := iogate.LoadOrCreateMasterKeyFile(path, create)
	if err != nil {
		return nil, errorf("%v", err)
	}
	return k, nil
}

// open opens the store, the master key and the token engine for a CLI command or the
// server. With SQLite the data directory must exist unless create is true.
func (g *globals) open(ctx context.Context, create bool, cfg auth.Config) (*env, error) {
	if !g.usesPostgres() {
		if err := g.ensureDataDir(create); err != nil {
			return nil, err
		}
	}
	master, err := g.loadMasterKey(create)
	if err != nil {
		return nil, err
	}
	db, feed, err := g.openStore(ctx, create)
	if err != nil {
		return nil, err
	}
	if g.wrapStore != nil {
		db = g.wrapStore(db)
	}
	a, err := auth.New(ctx, db, master, cfg)
	if err != nil {
		db.Close()
		if errors.Is(err, iogate.ErrWrongMasterKey) {
			return nil, errorf("%v", err)
		}
		return nil, err
	}
	return &env{store: db, feed: feed, master: master, auth: a}, nil
}
