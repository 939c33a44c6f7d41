package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
)

// TestFeed checks that the feed signals a change committed through another connection
// pool, as another node's write is, and that it fails when its connection is killed.
func TestFeed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	reader, writer := open(t, url), open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	changed := make(chan struct{}, 100)
	alive := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		done <- postgres.NewFeed(reader).Watch(ctx,
			func() { changed <- struct{}{} },
			func() {
				select {
				case alive <- struct{}{}:
				default:
				}
			})
	}()
	waitFor(t, changed, "the first changed call after connecting")
	waitFor(t, alive, "the first alive call")

	chain, err := iogate.NewAuditChain(bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	operator := iogate.Actor{Type: iogate.ActorOperator, ID: "test"}
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	accountRec, err := chain.NewAccountCreatedRecord(a, operator, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.CreateAccount(ctx, a, accountRec); err != nil {
		t.Fatal(err)
	}
	k := &iogate.APIKey{ClientID: iogate.NewClientID(), AccountID: a.ID, Name: "ci", Scopes: []string{iogate.ScopeVaultsRead},
		CreatedAt: a.CreatedAt, UpdatedAt: a.CreatedAt, SecretGeneration: 1, SecretCreatedAt: a.CreatedAt}
	copy(k.SecretHash[:], bytes.Repeat([]byte{1}, len(k.SecretHash)))
	rec, err := chain.NewRecord(a.ID, iogate.AuditKeyCreated, iogate.Actor{Type: iogate.ActorOperator, ID: "test"}, a.CreatedAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.CreateAPIKey(ctx, k, rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changed, "a changed call after another pool created a key")

	// A quiet feed keeps confirming its connection with heartbeat pings.
	for range len(alive) {
		<-alive
	}
	waitFor(t, alive, "an alive call from a heartbeat")

	terminated := pgtest.QueryInt(t, url, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, postgres.FeedApplicationName)
	if terminated != 1 {
		t.Fatalf("terminated %d feed connections, want 1", terminated)
	}
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("Watch after its connection was killed returned %v, want a connection error", err)
		}
		if got := iogate.ErrorCodeOf(err); got != iogate.CodeUnavailable {
			t.Errorf("Watch after its connection was killed: code %q (%v), want %q", got, err, iogate.CodeUnavailable)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10s after its connection was killed")
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
}
