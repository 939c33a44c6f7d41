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
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iogate.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
