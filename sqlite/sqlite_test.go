package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) iogate.Store {
		return openAt(t, filepath.Join(t.TempDir(), "iogate.db"))
	})
}

// TestConformanceOnTwoHandles runs the cases of two handles on one file, each with a write
// connection of its own, as a server and the CLI have.
func TestConformanceOnTwoHandles(t *testing.T) {
	storetest.RunTwoHandles(t, func(t *testing.T) (iogate.Store, iogate.Store) {
		path := filepath.Join(t.TempDir(), "iogate.db")
		return openAt(t, path), openAt(t, path)
	})
}

func openAt(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
