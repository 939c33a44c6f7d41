package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/sqlite"
	"github.com/spf13/cobra"
)

// Database kinds that --database selects.
const (
	databaseSQLite   = "sqlite"
	databasePostgres = "postgres"
)

// databaseKind returns which store --database names: "" (the default) is the SQLite file in
// the data directory, a postgres:// or postgresql:// URL is PostgreSQL. The error never
// repeats the value, which may hold a password.
func databaseKind(database string) (string, error) {
	lower := strings.ToLower(database)
	switch {
	case database == "" || lower == databaseSQLite:
		return databaseSQLite, nil
	case strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://"):
		return databasePostgres, nil
	}
	return "", errorf("invalid --database: expected a postgres:// URL, or nothing for the SQLite database in --data-dir")
}

// checkDatabaseFlag rejects a --database given on the command line that carries a password:
// command lines are visible to every user of the machine (ps, /proc) and end up in shell
// history. The password may come from IOGATE_DATABASE, PGPASSWORD or a .pgpass file instead.
func checkDatabaseFlag(cmd *cobra.Command, database, source string) error {
	fromFile := strings.HasPrefix(source, "key ")
	if !cmd.Flags().Changed("database") && !fromFile {
		return nil
	}
	kind, err := databaseKind(database)
	if err != nil || kind != databasePostgres {
		return err
	}
	if _, err := url.Parse(database); err != nil {
		return errorf("invalid --database: the PostgreSQL URL does not parse; expected postgres://USER@HOST:PORT/DATABASE")
	}
	switch {
	case hasDatabasePassword(database) && fromFile:
		return errorf("%s (--database was set by %s)", configPasswordMessage, source)
	case hasDatabasePassword(database):
		return errorf("--database must not contain a password, because command lines are visible to other users of the machine: " +
			"put the URL with its password in IOGATE_DATABASE, or the password in PGPASSWORD or ~/.pgpass")
	}
	return nil
}

// configPasswordMessage is the error for a database password in the --config file.
const configPasswordMessage = "the --config file must not contain a database password, because configuration files are often shared or kept in version control: " +
	"put the URL with its password in IOGATE_DATABASE, or the password in PGPASSWORD or ~/.pgpass"

// hasDatabasePassword reports whether database is a PostgreSQL URL that carries a password,
// in its user information or in its password option. A value that does not parse as one
// carries none.
func hasDatabasePassword(database string) bool {
	if kind, err := databaseKind(database); err != nil || kind != databasePostgres {
		return false
	}
	u, err := url.Parse(database)
	if err != nil {
		return false
	}
	_, hasPassword := u.User.Password()
	return hasPassword || u.Query().Has("password")
}

// databaseLabel describes the store for logs and messages: the kind and, for PostgreSQL,
// host, port and database name, without user, password or options.
func (g *globals) databaseLabel() string {
	kind, err := databaseKind(g.database)
	if err != nil {
		return "invalid"
	}
	if kind == databaseSQLite {
		return "sqlite:" + filepath.Join(g.dataDir, "iogate.db")
	}
	u, err := url.Parse(g.database)
	if err != nil {
		return databasePostgres
	}
	return "postgres://" + u.Host + u.Path
}

// openStore opens the store that --database names and returns it with its change feed.
// The SQLite store lives in the data directory, which is created only when create is true.
func (g *globals) openStore(ctx context.Context, create bool) (iogate.Store, auth.ChangeFeed, error) {
	kind, err := databaseKind(g.database)
	if err != nil {
		return nil, nil, err
	}
	if kind == databasePostgres {
		db, err := postgres.Open(ctx, g.database)
		if err != nil {
			return nil, nil, &flagError{flag: "database", err: err}
		}
		return db, postgres.NewFeed(db), nil
	}
	if err := g.ensureDataDir(create); err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(g.dataDir, "iogate.db"))
	if err != nil {
		return nil, nil, err
	}
	return db, sqlite.NewFeed(db), nil
}

// usesPostgres reports whether --database names a PostgreSQL database.
func (g *globals) usesPostgres() bool {
	kind, _ := databaseKind(g.database)
	return kind == databasePostgres
}

// storeFlags returns the global flags that cmd's command line gave to choose the store and
// the master key, each with a leading space, for a next command printed in a hint. Values
// set by the environment or a file are left out, because the next command gets them too.
func (g *globals) storeFlags(cmd *cobra.Command) string {
	var b strings.Builder
	for _, name := range []string{"data-dir", "database", "master-key-file"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			fmt.Fprintf(&b, " --%s %s", name, shellQuote(f.Value.String()))
		}
	}
	return b.String()
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds only characters
// that the shell does not interpret, and in single quotes otherwise.
func shellQuote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=,+%", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
