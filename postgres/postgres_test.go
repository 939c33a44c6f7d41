package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) iogate.Store {
		return open(t, pgtest.NewDatabase(t))
	})
}

// TestConformanceOnTwoHandles runs the cases of two handles on one database, each with a
// connection pool of its own, as two nodes have.
func TestConformanceOnTwoHandles(t *testing.T) {
	storetest.RunTwoHandles(t, func(t *testing.T) (iogate.Store, iogate.Store) {
		url := pgtest.NewDatabase(t)
		return open(t, url), open(t, url)
	})
}

func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformanceAsNodeRole runs the store suite as a role that does not own the schema,
// with the privileges that GrantNodeRole gives it. Every store method must work on a node
// that runs under a role of its own.
func TestConformanceAsNodeRole(t *testing.T) {
	storetest.Run(t, func(t *testing.T) iogate.Store {
		return openAsNodeRole(t, pgtest.NewDatabase(t))
	})
}

// openAsNodeRole migrates the database at url as its owner, grants the test cluster's
// node role, and opens the database as that role.
func openAsNodeRole(t *testing.T, url string) *postgres.DB {
	t.Helper()
	nodeURL := pgtest.AsNodeRole(t, url)
	owner := open(t, url)
	if _, err := owner.GrantNodeRole(context.Background(), os.Getenv(pgtest.NodeRoleVariable)); err != nil {
		t.Fatalf("GrantNodeRole: %v", err)
	}
	owner.Close()
	return open(t, nodeURL)
}
