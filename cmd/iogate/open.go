package main

import (
	"context"
	"errors"
	"fmt"
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

// masterKeyPath returns the master key file: --master-key-file, else DATA_DIR/master.key.
func (g *globals) masterKeyPath() string {
	if g.masterKeyFile != "" {
		return g.masterKeyFile
	}
	return filepath.Join(g.dataDir, "master.key")
}

// checkMasterKeyFileFlag rejects a --master-key-file value that names no existing file
// but is itself a base64 master key, as when the key was pasted in place of its path.
// Used as a path, the key would name a new key file, which a first run creates, and it
// would appear in error messages and hints. The error does not repeat the value.
func checkMasterKeyFileFlag(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := iogate.ParseMasterKey(path); err != nil {
		return nil
	}
	return flagErrorf("master-key-file", "invalid --master-key-file: the value is a master key, not the path of a file: "+
		"put the key in IOGATE_MASTER_KEY, or in a file with mode 0600 and pass that file's path")
}

// loadMasterKey reads the master key from IOGATE_MASTER_KEY or the key file, which must
// exist. Only createMasterKey creates the file.
func (g *globals) loadMasterKey() (*iogate.MasterKey, error) {
	if v := g.getenv("IOGATE_MASTER_KEY"); v != "" {
		k, err := iogate.ParseMasterKey(v)
		if err != nil {
			return nil, errorf("invalid IOGATE_MASTER_KEY: %v; it must be 32 bytes in base64", err)
		}
		return k, nil
	}
	path := g.masterKeyPath()
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if g.usesPostgres() {
			return nil, g.noPostgresMasterKey(path)
		}
		return nil, errorf("no master key at %s: \"iogate serve\" or \"iogate account create\" creates it on first use; "+
			"or pass the existing key with --master-key-file or IOGATE_MASTER_KEY", path)
	}
	k, err := iogate.LoadOrCreateMasterKeyFile(path, false)
	if err != nil {
		return nil, errorf("%v", err)
	}
	if info != nil {
		if warning := secretFileModeWarning("master key file", path, info.Mode()); warning != "" {
			g.warn(warning)
		}
	}
	return k, nil
}

// secretFileModeWarning returns a warning naming the chmod to run when mode lets users
// other than the owner read or write the secret file at path, else "". kind names the
// file in the message, such as "master key file".
func secretFileModeWarning(kind, path string, mode os.FileMode) string {
	if mode.Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("the %s %s can be read or written by users other than its owner (mode %04o): run \"chmod 600 %s\"",
		kind, path, mode.Perm(), shellQuote(path))
}

// noPostgresMasterKey returns the error of a command on PostgreSQL that has no master key,
// path being the key file that does not exist. Every command except migrate, address
// unblock and master-key generate needs the key, because opening the token engine
// decrypts the stored secrets, so even a read-only command like "account list" fails.
func (g *globals) noPostgresMasterKey(path string) error {
	if g.commandPath == "iogate serve" {
		return errorf("no master key: with PostgreSQL every node must be given the same master key in IOGATE_MASTER_KEY or --master-key-file, "+
			"and none is created (%s does not exist); generate one with \"iogate master-key generate --output FILE\"", path)
	}
	return errorf("no master key: on PostgreSQL, %q needs the master key that the servers use, because it decrypts the stored secrets. "+
		"Pass it in IOGATE_MASTER_KEY or with --master-key-file (%s does not exist). "+
		"If no server has run on this database yet, create the key with \"iogate master-key generate --output FILE\"", g.commandPath, path)
}

// masterKeyFileMissing reports whether the master key would come from a key file that
// does not exist: IOGATE_MASTER_KEY is empty, and the file is missing.
func (g *globals) masterKeyFileMissing() bool {
	if g.getenv("IOGATE_MASTER_KEY") != "" {
		return false
	}
	_, err := os.Stat(g.masterKeyPath())
	return errors.Is(err, os.ErrNotExist)
}

// createMasterKey creates the master key file with a new random key, for a SQLite store
// that holds no sealed secrets yet. A store that holds some was set up under another key,
// such as one from IOGATE_MASTER_KEY, which a new file would only hide: the command would
// fail, and the stray file would look like the key of the data directory.
//
// It never creates a key for PostgreSQL: nodes that share a database must share its master
// key, so a node that made up its own would lock the others out.
func (g *globals) createMasterKey(ctx context.Context, store iogate.Store) (*iogate.MasterKey, error) {
	path := g.masterKeyPath()
	sealed, err := auth.HoldsSealedSecrets(ctx, store)
	if err != nil {
		return nil, err
	}
	if sealed && !g.masterKeyFileMissing() {
		// Another process started on the same new data directory created the key first.
		return g.loadMasterKey()
	}
	if sealed {
		return nil, errorf("no master key at %s, but the database already holds secrets encrypted under a master key: "+
			"pass that key with IOGATE_MASTER_KEY or --master-key-file; a new key would not decrypt them, so none is created", path)
	}
	k, err := iogate.LoadOrCreateMasterKeyFile(path, true)
	if err != nil {
		return nil, errorf("%v", err)
	}
	return k, nil
}

// open opens the store, the master key and the token engine for a CLI command or the
// server. With SQLite the data directory must exist unless create is true, and create also
// lets a new store get a new master key file.
func (g *globals) open(ctx context.Context, create bool, cfg auth.Config) (*env, error) {
	if !g.usesPostgres() {
		if err := g.ensureDataDir(create); err != nil {
			return nil, err
		}
	}
	// A missing key file is created only once the store is open and holds no secrets.
	createKey := create && !g.usesPostgres() && g.masterKeyFileMissing()
	var master *iogate.MasterKey
	if !createKey {
		var err error
		if master, err = g.loadMasterKey(); err != nil {
			return nil, err
		}
	}
	db, feed, err := g.openStore(ctx, create)
	if err != nil {
		return nil, err
	}
	if createKey {
		if master, err = g.createMasterKey(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
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
