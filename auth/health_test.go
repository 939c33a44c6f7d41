package auth

import (
	"context"
	"testing"
	"time"

	"github.com/iogate/iogate/sqlite"
)

func TestCheckHealthDetectsStalledFeed(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	if h := e.svc.CheckHealth(ctx); !h.Ready || h.Lag != 0 {
		t.Fatalf("fresh engine: %+v, want ready with no lag", h)
	}

	// Another process (a second handle on the file) deletes a key; no change feed runs,
	// so the view stays behind.
	k, _ := e.createKey(t)
	other, err := sqlite.Open(ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.DeleteAPIKey(ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}
	if h := e.svc.CheckHealth(ctx); !h.Ready {
		t.Fatalf("first check behind the store: %+v, want still ready (the lag starts now)", h)
	}
	e.clock.advance(3 * time.Second)
	if h := e.svc.CheckHealth(ctx); !h.Ready || h.Lag != 3*time.Second {
		t.Fatalf("3s behind: %+v, want ready with a 3s lag", h)
	}
	e.clock.advance(3 * time.Second)
	h := e.svc.CheckHealth(ctx)
	if h.Ready || h.Lag != 6*time.Second || h.Reason == "" {
		t.Fatalf("6s behind with a 5s bound: %+v, want not ready with a reason", h)
	}
	if last := e.svc.LastHealth(); last != h {
		t.Errorf("LastHealth = %+v, want the last check %+v", last, h)
	}

	if err := e.svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if h := e.svc.CheckHealth(ctx); !h.Ready || h.Lag != 0 {
		t.Errorf("after Sync: %+v, want ready with no lag", h)
	}
}

func TestCheckHealthProgressIsNotStale(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	other, err := sqlite.Open(ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// A view that keeps applying changes but is behind at every check is not stalled.
	for range 4 {
		k, _ := e.createKey(t)
		if err := other.DeleteAPIKey(ctx, k.ClientID); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(3 * time.Second)
		if h := e.svc.CheckHealth(ctx); !h.Ready {
			t.Fatalf("view that progresses between checks: %+v, want ready", h)
		}
	}
}

func TestCheckHealthStoreDown(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	e.store.Close()
	h := e.svc.CheckHealth(ctx)
	if h.Ready || h.Reason == "" {
		t.Errorf("closed store: %+v, want not ready with a reason", h)
	}
}
