package postgres_test

import (
	"context"
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
