package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FeedApplicationName is the application_name of the change feed's connection, which
// distinguishes it from the pool's connections in pg_stat_activity.
const FeedApplicationName = "iogate-feed"

// FeedHeartbeat is the default of Feed.Heartbeat.
const FeedHeartbeat = time.Second

// Feed is the change feed of a PostgreSQL store. It holds one connection of its own, outside
// the pool, that LISTENs on NotifyChannel; every key write sends a NOTIFY there when it
// commits.
type Feed struct {
	cfg *pgx.ConnConfig
	// Heartbeat is how long the feed waits for a notification before it pings its
	// connection, so that a connection that died silently is noticed within about twice
	// this. It must stay well below the engine's maximum staleness, because the feed
	// confirms a quiet connection only this often.
	Heartbeat time.Duration
}

// NewFeed returns the change feed of db. It connects with db's settings.
func NewFeed(db *DB) *Feed {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = FeedApplicationName
	return &Feed{cfg: cfg, Heartbeat: FeedHeartbeat}
}

// Watch connects, LISTENs, and calls changed once and then on every notification, until
// ctx ends or the connection fails. It calls alive whenever the connection has shown that
// it works: on connecting, on every notification, and after every successful heartbeat
// ping. Notifications sent while no connection listens are lost, so the caller must catch
// up from the key_changes table after every (re)connection, which the first changed call
// requests.
func (f *Feed) Watch(ctx context.Context, changed, alive func()) error {
	conn, err := pgx.ConnectConfig(ctx, f.cfg)
	if err != nil {
		return fmt.Errorf("connect change feed: %w", mapError(err))
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen on %s: %w", NotifyChannel, mapError(err))
	}
	alive()
	changed()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, f.Heartbeat)
		_, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			alive()
			changed()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			// No notification within the heartbeat: the timeout leaves the connection
			// usable, and a ping distinguishes a quiet feed from a dead one.
			pingCtx, cancel := context.WithTimeout(ctx, f.Heartbeat)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("change feed ping: %w", mapError(err))
			}
			alive()
		default:
			return fmt.Errorf("wait for key change notification: %w", mapError(err))
		}
	}
}
