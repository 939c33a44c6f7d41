package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iogate/iogate"
)

// Backup writes a consistent copy of the database to path with SQLite's VACUUM INTO, while
// other connections and processes keep reading and writing: the copy is the database as of
// one read transaction. It runs on the writer connection, because SQLite refuses VACUUM
// INTO on a query-only one, but takes no write lock. The file is created with mode 0600,
// because it holds secret hashes and sealed keys, and appears at path only once complete.
// Backup refuses to overwrite an existing file and returns the copy's size in bytes.
//
// The copy is useless without the master key, which is not in the database; back that up
// separately.
func (db *DB) Backup(ctx context.Context, path string) (int64, error) {
	if info, err := os.Lstat(path); err == nil && info.IsDir() {
		return 0, iogate.Errorf(iogate.CodeConflict, "%s is a directory: name a new file in it for the backup, such as %s",
			path, filepath.Join(path, "iogate-backup.db"))
	} else if err == nil {
		return 0, iogate.Errorf(iogate.CodeConflict, "%s already exists: choose a new file name for the backup", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("check backup file: %w", err)
	}
	dir := filepath.Dir(path)
	var suffix [6]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(suffix[:]))
	// VACUUM INTO accepts an empty file, so creating it first sets its mode.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create backup file: %w", err)
	}
	f.Close()
	defer os.Remove(tmp)

	if _, err := db.writer.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return 0, fmt.Errorf("copy database: %w", mapError(err))
	}
	if err := syncFile(tmp); err != nil {
		return 0, err
	}
	// A hard link, unlike a rename, fails when the target exists, so a file that appeared
	// at path meanwhile is not overwritten.
	if err := os.Link(tmp, path); err != nil {
		return 0, fmt.Errorf("move backup into place: %w", err)
	}
	if err := syncFile(dir); err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
