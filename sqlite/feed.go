package sqlite

import (
	"context"
	"fmt"
	"time"
)

// FeedInterval is how often the change feed polls the database. It bounds how long a
// change made by another process (the CLI) takes to reach a running server.
const FeedInterval = 25 * time.Millisecond

// Feed is the change feed of a SQLite store. It polls SQLite's data_version on one
// dedicated connection: the number changes whenever another connection commits, so a poll
// that sees no change costs one pragma and no table read.
type Feed struct {
	db       *DB
	interval time.Duration
}

// NewFeed returns the change feed of db.
func NewFeed(db *DB) *Feed { return &Feed{db: db, interval: FeedInterval} }

// Watch calls changed once at the start and then whenever the database may have changed,
// until ctx ends or the connection fails. It calls alive after every successful poll.
func (f *Feed) Watch(ctx context.Context, changed, alive func()) error {
	conn, err := f.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open change feed connection: %w", err)
	}
	defer conn.Close()
	last, err := DataVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("read data_version: %w", err)
	}
	alive()
	changed()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		v, err := DataVersion(ctx, conn)
		if err != nil {
			return fmt.Errorf("read data_version: %w", err)
		}
		alive()
		if v != last {
			last = v
			changed()
		}
	}
}
