// Package postgres implements iogate.Store on PostgreSQL through pgx's connection pool, so
// that several iogate nodes can share one database. Every write is one transaction. Writes
// to API keys append to key_changes and send a NOTIFY in the same transaction, and Feed
// turns those notifications into the change feed that keeps each node's view current.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/migration"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// NotifyChannel is the LISTEN/NOTIFY channel on which every key change is announced. The
// payload is the change's sequence number.
const NotifyChannel = "iogate_key_changes"

// migrationLockID is the key of the advisory lock that serialises migrations, so that
// nodes starting at the same time apply each migration once. It spells "iogate" in ASCII.
const migrationLockID int64 = 0x696f67617465

// defaultConnectTimeout bounds a connection attempt when the URL sets no connect_timeout,
// so that an unreachable database fails a request instead of hanging it.
const defaultConnectTimeout = 5 * time.Second

// DB is an iogate.Store on a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// version is the schema version after Open's migrations; applied lists the versions
	// that Open applied itself.
	version int
	applied []int

	// where is the database's description in messages: its name, host and port, never a
	// credential.
	where string
}

var _ iogate.Store = (*DB)(nil)

// describe names the database that cfg connects to, for messages.
func describe(cfg pgconn.Config) string {
	at := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		at = "the socket in " + cfg.Host
	}
	return fmt.Sprintf("the PostgreSQL database %q on %s", cfg.Database, at)
}

// Open connects to the database that url names and applies the embedded migrations it
// lacks. The URL is a libpq connection URL (postgres://USER@HOST:PORT/DATABASE?OPTIONS);
// the password may also come from PGPASSWORD or a .pgpass file, as with libpq, and the
// pool size from the pool_max_conns option. An unreachable database is CodeUnavailable.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors, so the cause is safe to log.
		return nil, iogate.WrapError(iogate.CodeInvalid, err, "invalid PostgreSQL URL: expected postgres://USER@HOST:PORT/DATABASE")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "iogate"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapError(err)
	}
	db := &DB{pool: pool, now: time.Now, where: describe(cfg.ConnConfig.Config)}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, db.connectPrivilegeError(err, cfg.ConnConfig.User, cfg.ConnConfig.Database)
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping runs a trivial query to check that the database is reachable.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return mapError(db.pool.QueryRow(ctx, `SELECT 1`).Scan(&one))
}

// Migrations returns the schema version and the migrations that Open applied, in order
// (none when the schema was already current).
func (db *DB) Migrations() (version int, applied []int) {
	return db.version, db.applied
}

// migrate applies, in one transaction, every embedded migration that schema_migrations does
// not record, so that a migration merged with a lower number than one already applied still
// runs, as on SQLite.
func (db *DB) migrate(ctx context.Context) error {
	files, err := migration.List(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		// Nodes that start together queue on this lock, which is held until the
		// transaction ends: the first applies the migrations and the others find them
		// recorded. It comes before CREATE TABLE IF NOT EXISTS, which is not safe to run
		// concurrently.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		// The table is created only when it is missing, because a node role that does not
		// own the schema may not run CREATE TABLE, not even IF NOT EXISTS.
		var role string
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT current_user, to_regclass('schema_migrations') IS NOT NULL`).Scan(&role, &exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
				return db.privilegeError(err, role, "create the schema_migrations table")
			}
		}
		// Before any table is read, so that a role that was never granted anything learns
		// every privilege it lacks at once.
		if err := db.checkNodePrivileges(ctx, tx, role); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return db.privilegeError(err, role, "read the applied migrations")
		}
		recorded, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return db.privilegeError(err, role, "read the applied migrations")
		}
		// A node of an older release must not serve a schema that a newer one migrated,
		// for example while a rolling upgrade is rolled back.
		if err := migration.CheckRecorded(recorded, files, db.where); err != nil {
			return err
		}
		db.version, db.applied = 0, nil
		for _, v := range recorded {
			db.version = max(db.version, v)
		}
		for _, f := range files {
			if slices.Contains(recorded, f.Version) {
				continue
			}
			body, err := migrationFiles.ReadFile(f.Name)
			if err != nil {
				return err
			}
			// Exec without arguments uses the simple query protocol, which runs a file of
			// several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return db.privilegeError(err, role, "apply migration "+f.Name)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, f.Version, db.now()); err != nil {
				return db.privilegeError(err, role, "record migration "+f.Name)
			}
			db.version = max(db.version, f.Version)
			db.applied = append(db.applied, f.Version)
		}
		return nil
	})
}

// write runs fn in a transaction and commits it, or rolls it back when fn fails.
func (db *DB) write(ctx context.Context, fn func(pgx.Tx) error) error {
	return mapError(pgx.BeginFunc(ctx, db.pool, fn))
}

// deleteBatch runs a DELETE whose last parameter is the LIMIT of the subquery that picks
// the rows, in a transaction of its own, and returns how many rows it deleted. The
// subquery should lock its rows FOR UPDATE SKIP LOCKED, so that nodes sweeping at the same
// time take different rows instead of waiting for each other. A limit below 1 deletes
// nothing.
func (db *DB) deleteBatch(ctx context.Context, query string, limit int, args ...any) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, append(args, limit)...)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// errUnavailable is the caller-safe message of every connection failure.
const errUnavailable = "the database is unreachable; retry later"

// errConflictRetry is the caller-safe message of a serialization failure or a deadlock:
// PostgreSQL aborted the transaction because of a concurrent one, and a retry usually
// succeeds.
const errConflictRetry = "the database aborted the change because of a concurrent one; retry"

// mapError turns driver conditions into domain error codes, as the sqlite package does:
// no row is CodeNotFound, a unique violation CodeConflict, a foreign-key violation
// CodeNotFound, and a lost or refused connection CodeUnavailable.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var de *iogate.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return iogate.WrapError(iogate.CodeNotFound, err, "not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return iogate.WrapError(iogate.CodeConflict, err, "already exists")
		case pe.Code == "23503":
			return iogate.WrapError(iogate.CodeNotFound, err, "a referenced record does not exist")
		case pe.Code == "40001" || pe.Code == "40P01":
			return iogate.WrapError(iogate.CodeUnavailable, err, errConflictRetry)
		case unavailableCode(pe.Code):
			return iogate.WrapError(iogate.CodeUnavailable, err, errUnavailable)
		case strings.HasPrefix(pe.Code, "22"):
			// Data exceptions (a value out of range, bytes that are not UTF-8) come from
			// the caller's input, which the store methods check first; this is the net.
			return iogate.WrapError(iogate.CodeInvalid, err, "invalid value")
		}
		return err
	}
	if connectionLost(err) {
		return iogate.WrapError(iogate.CodeUnavailable, err, errUnavailable)
	}
	return err
}

// unavailableCode reports whether a PostgreSQL error code means that the server cannot
// serve the request now but may later: connection exceptions (class 08), shutdown and
// startup (57P01-57P03), too many connections, and a read-only standby after a failover.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53300", "25006":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// connectionLost reports whether err comes from a connection that could not be made or
// broke: the server is down, restarting, or unreachable.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	return false
}

// storable reports whether PostgreSQL can hold s in a TEXT column: it must be valid UTF-8
// without NUL bytes. SQLite stores any string, so lookups of other strings must return
// what SQLite returns for them, not a driver error.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// nullTime returns nil for the zero time, which the store writes as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNullTime returns the zero time for NULL and the UTC time otherwise.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
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
