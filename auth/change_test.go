package auth

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

func TestOnChangeDeliversVaultChanges(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	var got []iogate.KeyChange
	e.svc.OnChange(iogate.ChangeVaults, func(c iogate.KeyChange) {
		c.Seq = 0
		got = append(got, c)
	})

	// Another process writes through its own connection, as the CLI does.
	other, err := sqlite.Open(ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: e.accountID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	rec, err := e.svc.AuditChain().NewVaultCreatedRecord(v, iogate.Actor{Type: iogate.ActorOperator, ID: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.CreateVault(ctx, v, rec); err != nil {
		t.Fatal(err)
	}
	// A key change in between must not reach the vault listener.
	e.createKey(t)
	if err := e.svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := []iogate.KeyChange{{Kind: iogate.ChangeVaults, AccountID: e.accountID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes delivered after Sync (-want +got):\n%s", diff)
	}

	// A full reload may have missed changes, so it tells the listener that anything may
	// have changed.
	got = nil
	if err := e.svc.resync(ctx); err != nil {
		t.Fatal(err)
	}
	want = []iogate.KeyChange{{Kind: iogate.ChangeVaults}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes delivered after a full reload (-want +got):\n%s", diff)
	}
}
