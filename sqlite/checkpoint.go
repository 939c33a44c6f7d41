package sqlite

import (
	"context"
	"time"
)

// checkpointInterval is how often a background goroutine copies committed pages from the
// WAL into the database file.
const checkpointInterval = 50 * time.Millisecond

// runCheckpoints copies the WAL into the database file every checkpointInterval until stop
// is closed. It runs PASSIVE checkpoints on a reader connection: they wait for no reader
// and no writer, so the writer keeps committing while pages are copied. Without it, the
// commit that takes the WAL past wal_autocheckpoint pages copies them all before it
// returns, and every token request waiting on that commit waits for the copy too. The
// writer's own checkpoint stays as a backstop, and it finds most pages already copied.
func (db *DB) runCheckpoints(stop <-chan struct{}) {
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// A failure here is not an error of any request: the next tick, or the writer's
		// backstop, checkpoints again.
		db.reader.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
	}
}
