package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
)

// TestStoppedPostgresCountsVisitErrors checks that the methods that hand rows to a callback
// still count a failure of the store itself, here a PostgreSQL server that was stopped, even
// though they no longer count a failure of the callback.
func TestStoppedPostgresCountsVisitErrors(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.StartCluster(t)
	db, err := postgres.Open(ctx, cluster.NewDatabase(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	m := New()
	store := InstrumentStore(db, m)
	cluster.Stop(t)

	calls := map[string]func() error{
		"audit_records": func() error {
			return store.AuditRecords(ctx, "01a245c7-71cb-78dd-9ea3-cd8c747b39ed", func(*iogate.AuditRecord) error { return nil })
		},
		"all_api_keys":     func() error { return store.AllAPIKeys(ctx, func(*iogate.APIKey) error { return nil }) },
		"all_api_key_auth": func() error { return store.AllAPIKeyAuth(ctx, func(*iogate.APIKeyAuth) error { return nil }) },
		"all_revoked_tokens": func() error {
			return store.AllRevokedTokens(ctx, time.Time{}, func(*iogate.RevokedToken) error { return nil })
		},
	}
	for op, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a stopped server succeeded", op)
			continue
		}
		if got := storeErrorCount(t, m, op); got != 1 {
			t.Errorf("store errors for %s on a stopped server = %v, want 1", op, got)
		}
	}
}
