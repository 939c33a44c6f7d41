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

func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
