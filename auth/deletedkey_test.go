package auth

import (
	"context"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestFindDeletedKey checks that FindDeletedKey returns the account, time and actor of a
// deletion, CodeNotFound for a key that exists or never existed, and no actor once the
// audit retention has pruned the key.deleted record.
func TestFindDeletedKey(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	deleted, _ := e.createKey(t)
	live, _ := e.createKey(t)
	operator := iogate.Actor{Type: iogate.ActorOperator, ID: "alice"}
	deletedAt := e.clock.now()
	if err := e.svc.DeleteKey(iogate.WithActor(ctx, operator), deleted.ClientID); err != nil {
		t.Fatal(err)
	}

	got, err := e.svc.FindDeletedKey(ctx, deleted.ClientID)
	if err != nil {
		t.Fatalf("FindDeletedKey of the deleted key: %v", err)
	}
	if got.ClientID != deleted.ClientID || got.AccountID != e.accountID {
		t.Errorf("FindDeletedKey = client %s, account %s; want %s, %s", got.ClientID, got.AccountID, deleted.ClientID, e.accountID)
	}
	if !got.DeletedAt.Equal(deletedAt.Truncate(time.Microsecond)) {
		t.Errorf("FindDeletedKey DeletedAt = %v, want %v", got.DeletedAt, deletedAt)
	}
	if got.DeletedBy == nil || *got.DeletedBy != operator {
		t.Errorf("FindDeletedKey DeletedBy = %+v, want %+v", got.DeletedBy, operator)
	}

	for name, clientID := range map[string]string{"live key": live.ClientID, "unknown key": iogate.NewID()} {
		if _, err := e.svc.FindDeletedKey(ctx, clientID); iogate.ErrorCodeOf(err) != iogate.CodeNotFound {
			t.Errorf("FindDeletedKey of a %s = %v, want CodeNotFound", name, err)
		}
	}

	// The newest record of an account is never pruned, so a later one follows the deletion.
	e.clock.advance(3 * time.Hour)
	e.createKey(t)
	if _, err := e.svc.PruneAudit(ctx, 2*time.Hour); err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	got, err = e.svc.FindDeletedKey(ctx, deleted.ClientID)
	if err != nil {
		t.Fatalf("FindDeletedKey after pruning: %v", err)
	}
	if got.DeletedBy != nil {
		t.Errorf("FindDeletedKey DeletedBy after pruning = %+v, want nil", *got.DeletedBy)
	}
	if got.AccountID != e.accountID {
		t.Errorf("FindDeletedKey after pruning: account %s, want %s", got.AccountID, e.accountID)
	}
}
