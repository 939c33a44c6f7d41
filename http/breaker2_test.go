package http

// Tests for weaknesses found by a second adversarial review of the rate limiter.

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

// TestClientTableLongIDMemory sends 1,000 client IDs of 60,000 bytes each, the size a
// token request body allows, from one address. The per-client table keeps at most 64
// bytes of each, so the table must not keep the whole IDs in memory.
func TestClientTableLongIDMemory(t *testing.T) {
	cfg := DefaultRateLimits()
	cfg.TokenPerClient, cfg.TokenPerClientBurst = 1, 1
	l := newLimiter(cfg, slog.New(slog.DiscardHandler), nil)
	addr := netip.MustParseAddr("192.0.2.1")
	const ids, idLength = 1000, 60_000
	padding := strings.Repeat("x", idLength)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range ids {
		// Each ID is a new string, as each request body's decoded clientId is.
		l.checkClient(addr, fmt.Sprintf("%08d", i)+padding)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	if n := len(l.clients); n != ids {
		t.Fatalf("per-client table holds %d entries, want %d", n, ids)
	}
	const limit = 10 << 20
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > limit {
		t.Errorf("heap grew by %d MiB for %d per-client entries, want under %d MiB: the table keeps each whole client ID", grown>>20, ids, limit>>20)
	}
}
