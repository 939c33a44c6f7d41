package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
	dto "github.com/prometheus/client_model/go"
)

// TestInstrumentStoreCounts checks, on a real SQLite store, that an expected outcome such
// as a missing session is not counted, and that failures of the store are counted under
// their operation, for dashboard methods as for the others.
func TestInstrumentStoreCounts(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	store := InstrumentStore(db, m)

	if _, err := store.FindSession(ctx, []byte("no such session")); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
		t.Fatalf("FindSession of an unknown session: %v, want not found", err)
	}
	if got := storeErrorCount(t, m, "find_session"); got != 0 {
		t.Errorf("store errors for find_session after a missing session = %v, want 0", got)
	}

	// A closed database fails every call, as a lost one would.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindSession(ctx, []byte("no such session")); err == nil {
		t.Fatal("FindSession on a closed database succeeded")
	}
	if _, err := store.DeleteEndedSessions(ctx, time.Now(), time.Now(), 10); err == nil {
		t.Fatal("DeleteEndedSessions on a closed database succeeded")
	}
	if _, err := store.CountAccounts(ctx); err == nil {
		t.Fatal("CountAccounts on a closed database succeeded")
	}
	for _, op := range []string{"find_session", "delete_ended_sessions", "count_accounts"} {
		if got := storeErrorCount(t, m, op); got != 1 {
			t.Errorf("store errors for %s = %v, want 1", op, got)
		}
	}
}

// storeErrorCount returns the value of iogate_store_errors_total for op.
func storeErrorCount(t *testing.T, m *Metrics, op string) float64 {
	t.Helper()
	var got dto.Metric
	if err := m.storeErrors.WithLabelValues(op).Write(&got); err != nil {
		t.Fatal(err)
	}
	return got.GetCounter().GetValue()
}
