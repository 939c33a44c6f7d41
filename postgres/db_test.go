package postgres_test

import (
	"context"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
)

// TestOpenRejectsNewerSchema opens a database on which a newer iogate applied a migration
// that this one does not include, as a node of the older release would during a rolled-back
// upgrade. Open must fail with an error that names the migration and the database, and must
// not name the connection's password.
func TestOpenRejectsNewerSchema(t *testing.T) {
	url := pgtest.NewDatabase(t)
	open(t, url).Close()
	pgtest.Exec(t, url, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`)
	db, err := postgres.Open(context.Background(), url)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database with an unknown migration")
	}
	if iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Errorf("Open error code = %q, want %q", iogate.ErrorCodeOf(err), iogate.CodeConflict)
	}
	for _, part := range []string{"migration 9999", "newer iogate", "PostgreSQL database"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Open error %q lacks %q", err, part)
		}
	}
	if u, perr := neturl.Parse(url); perr != nil {
		t.Fatal(perr)
	} else if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		t.Error("Open error contains the connection's password")
	}
}

// TestConcurrentMigrations opens one empty database from several goroutines at once, as
// nodes that start together do: every open succeeds and each migration is applied once.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 6
	var wg sync.WaitGroup
	applied := make([][]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				errs[i] = err
				return
			}
			_, applied[i] = db.Migrations()
			db.Close()
		}()
	}
	wg.Wait()
	appliedBy := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent postgres.Open: %v", errs[i])
		}
		if len(applied[i]) > 0 {
			appliedBy++
		}
	}
	if appliedBy != 1 {
		t.Errorf("%d of %d concurrent opens applied migrations, want exactly 1", appliedBy, n)
	}
	rows := pgtest.QueryInt(t, url, `SELECT COUNT(*) FROM schema_migrations`)
	distinct := pgtest.QueryInt(t, url, `SELECT COUNT(DISTINCT version) FROM schema_migrations`)
	if rows != distinct || rows == 0 {
		t.Errorf("schema_migrations has %d rows for %d versions, want one row per version", rows, distinct)
	}

	// Version numbers may have gaps (each branch of work owns its numbers), so the
	// current version is the highest one, not the count.
	latest := pgtest.QueryInt(t, url, `SELECT MAX(version) FROM schema_migrations`)
	db := open(t, url)
	version, again := db.Migrations()
	if len(again) != 0 || version != int(latest) {
		t.Errorf("reopening: version %d, applied %v; want version %d and nothing applied", version, again, latest)
	}
}

// TestUnreachableDatabase checks that a database on a closed port is CodeUnavailable, the
// code that the HTTP layer maps to 503.
func TestUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, "postgres://iogate@127.0.0.1:"+strconv.Itoa(port)+"/iogate?sslmode=disable")
	if got := iogate.ErrorCodeOf(err); got != iogate.CodeUnavailable {
		t.Fatalf("postgres.Open on a closed port: code %q (%v), want %q", got, err, iogate.CodeUnavailable)
	}
}

// TestInvalidURL checks that a malformed URL is CodeInvalid and its message does not
// repeat the password.
func TestInvalidURL(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://iogate:hunter2-secret@127.0.0.1:notaport/iogate")
	if got := iogate.ErrorCodeOf(err); got != iogate.CodeInvalid {
		t.Fatalf("postgres.Open with a bad port: code %q, want %q", got, iogate.CodeInvalid)
	}
	if msg := iogate.ErrorMessageOf(err); strings.Contains(msg, "hunter2") || strings.Contains(err.Error(), "hunter2") {
		t.Error("the error of a bad URL repeats its password")
	}
}
