// Package sqlite implements iogate.Store on an embedded SQLite database, through the pure-Go
// modernc.org/sqlite driver. It is the default store: one file in the data directory, in WAL
// mode with synchronous=FULL, so that every acknowledged write survives a crash or a power
// cut. Only the token-record index, rebuilt from the audit log, commits without fsync.
// Several processes (a running server and the CLI) may use the same file at once.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/migration"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is an iogate.Store on one SQLite file. Writes go through a single connection, so
// that transactions in this process queue in Go rather than spin on SQLite's lock; reads use
// a pool of read-only connections, which WAL lets run beside the writer.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	now    func() time.Time

	// version is the schema version after Open's migrations; applied lists the versions
	// that Open applied itself.
	version int
	applied []int

	// stmts holds the statements of frequent writes, prepared once on the writer pool.
	stmtsMu sync.Mutex
	stmts   map[string]*sql.Stmt

	// stopCheckpoints ends runCheckpoints and runTokenIndex; checkpointsDone and
	// tokenIndexDone are closed when they have ended.
	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
	tokenIndexDone  chan struct{}
	stopOnce        sync.Once

	// tokenIndexDirty holds the accounts with token.issued records that runTokenIndex has
	// not indexed yet.
	tokenIndexMu    sync.Mutex
	tokenIndexDirty map[string]struct{}
}

var _ iogate.Store = (*DB)(nil)

// Pragmas applied to every connection. synchronous=FULL makes a commit durable before it
// returns (writeUnsynced lowers it for one transaction at a time); busy_timeout lets the CLI
// and a running server wait for each other's writes.
var pragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(1)",
}

// writerPragmas are applied to the writer connection only. Token issuance commits a group
// of audit records about a thousand times a second, and each record updates index pages
// scattered over the file, so the writer keeps a larger page cache (32 MiB rather than
// SQLite's 2 MiB). runCheckpoints copies the WAL into the database in the background; the
// writer checkpoints itself only past 8,000 pages (32 MiB), which bounds the WAL if the
// background copies fall behind.
var writerPragmas = []string{
	"cache_size(-32768)",
	"wal_autocheckpoint(8000)",
}

// Open opens (creating it if needed) the SQLite database at path and applies the embedded
// migrations that it lacks.
func Open(ctx context.Context, path string) (*DB, error) {
	// Create the file with mode 0600 before SQLite does, because SQLite gives new files the
	// process's default mode and copies the database file's mode to its -wal and -shm files.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	f.Close()
	writer, err := sql.Open("sqlite", dsn(path, "immediate", false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn(path, "deferred", true))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	reader.SetMaxOpenConns(8)
	reader.SetMaxIdleConns(8)
	db := &DB{path: path, writer: writer, reader: reader, now: time.Now,
		stopCheckpoints: make(chan struct{}), checkpointsDone: make(chan struct{}), tokenIndexDone: make(chan struct{})}
	go func() {
		defer close(db.checkpointsDone)
		db.runCheckpoints(db.stopCheckpoints)
	}()
	go func() {
		defer close(db.tokenIndexDone)
		db.runTokenIndex(db.stopCheckpoints)
	}()
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func dsn(path, txlock string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		for _, p := range writerPragmas {
			q.Add("_pragma", p)
		}
	}
	q.Set("_txlock", txlock)
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Close stops the background checkpoints and closes both connection pools.
func (db *DB) Close() error {
	db.stopOnce.Do(func() { close(db.stopCheckpoints) })
	<-db.checkpointsDone
	<-db.tokenIndexDone
	db.stmtsMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtsMu.Unlock()
	return errors.Join(db.reader.Close(), db.writer.Close())
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// migrate applies, in one immediate transaction, every embedded migration above the
// version recorded in schema_migrations. The immediate lock makes concurrent starts of the
// server and the CLI apply each migration once.
func (db *DB) migrate(ctx context.Context) error {
	files, err := migration.List(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		// Apply every embedded migration not yet recorded, not only those above the highest
		// recorded version, so that a migration merged with a lower number still runs.
		var recorded []int
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			recorded = append(recorded, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := migration.CheckRecorded(recorded, files, "the database "+db.path); err != nil {
			return err
		}
		for _, f := range files {
			if slices.Contains(recorded, f.Version) {
				db.version = max(db.version, f.Version)
				continue
			}
			body, err := migrationFiles.ReadFile(f.Name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply migration %s: %w", f.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, f.Version, toMicros(db.now())); err != nil {
				return err
			}
			db.version = f.Version
			db.applied = append(db.applied, f.Version)
		}
		return nil
	})
}

// Migrations returns the schema version and the migrations that Open applied, in order
// (none when the schema was already current).
func (db *DB) Migrations() (version int, applied []int) {
	return db.version, db.applied
}

// Ping checks that the database file can be read.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return mapError(db.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one))
}

// write runs fn in an immediate transaction on the writer connection and commits it.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	return runTx(tx, err, fn)
}

// deleteBatch runs a DELETE whose last parameter is the LIMIT of the subquery that picks
// the rows, in a transaction of its own, and returns how many rows it deleted. A limit
// below 1 deletes nothing, because SQLite reads a negative LIMIT as no limit.
func (db *DB) deleteBatch(ctx context.Context, query string, limit int, args ...any) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, append(args, limit)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// runTx runs fn in tx, which BeginTx returned with err, and commits it unless fn fails.
func runTx(tx *sql.Tx, err error, fn func(*sql.Tx) error) error {
	if err != nil {
		return mapError(err)
	}
	// The rollback also runs when fn panics, so that the connection is not left inside a
	// transaction. After a commit it does nothing.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return mapError(err)
	}
	return mapError(tx.Commit())
}

// writeUnsynced runs fn like write, but commits without fsync (synchronous=NORMAL for this
// one transaction). Use it only for data rebuilt from durable data, such as the token index.
// A crash can lose such a commit, but WAL recovery keeps a prefix of the log, so never one
// without the commits before it. The next durable commit or checkpoint syncs it too.
func (db *DB) writeUnsynced(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return mapError(err)
	}
	defer conn.Close()
	defer func() {
		// Every other write on this connection must be durable. If FULL cannot be set again,
		// the pool drops the connection instead of reusing it.
		if _, err := conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return mapError(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	return runTx(tx, err, fn)
}

// prepared returns query prepared on the writer pool, preparing it on first use. SQLite
// spends about as long parsing a small INSERT as running it, so the writes of token
// issuance reuse their statements. Call it before opening the transaction that uses the
// statement (through sql.Tx.StmtContext), because preparing needs the writer connection,
// which an open transaction holds.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmtsMu.Lock()
	defer db.stmtsMu.Unlock()
	if st := db.stmts[query]; st != nil {
		return st, nil
	}
	st, err := db.writer.PrepareContext(ctx, query)
	if err != nil {
		return nil, mapError(err)
	}
	if db.stmts == nil {
		db.stmts = make(map[string]*sql.Stmt)
	}
	db.stmts[query] = st
	return st, nil
}

// DataVersion returns SQLite's data_version for conn: a number that changes when another
// connection, in this process or another, commits to the database. The change feed polls
// it on one dedicated connection.
func DataVersion(ctx context.Context, conn *sql.Conn) (int64, error) {
	var v int64
	err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
	return v, err
}

// Conn returns a dedicated read connection, for the change feed's data_version polling.
func (db *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	return db.reader.Conn(ctx)
}

// Pragma returns the value of a pragma on a read connection, for tests and diagnostics.
func (db *DB) Pragma(ctx context.Context, name string) (string, error) {
	var v string
	err := db.reader.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// mapError turns driver conditions into domain error codes.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return iogate.WrapError(iogate.CodeNotFound, err, "not found")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
				return iogate.WrapError(iogate.CodeConflict, err, "already exists")
			}
			if se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
				return iogate.WrapError(iogate.CodeNotFound, err, "a referenced record does not exist")
			}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			return iogate.WrapError(iogate.CodeUnavailable, err, "the database is temporarily unavailable; retry later")
		}
	}
	return err
}

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func pageLimit(p iogate.Page) int {
	switch {
	case p.Limit <= 0:
		return iogate.DefaultPageLimit
	case p.Limit > iogate.MaxPageLimit:
		return iogate.MaxPageLimit
	}
	return p.Limit
}
