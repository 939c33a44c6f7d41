package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// openOtherStore opens a second store on e's SQLite file, as the CLI does, so that its
// writes reach e's engine only through the change feed. It is closed when the test ends.
func openOtherStore(t *testing.T, e *testEngine) *sqlite.DB {
	t.Helper()
	other, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// createVaultIn creates a vault in e's account through store.
func createVaultIn(t *testing.T, e *testEngine, store iogate.Store) {
	t.Helper()
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: e.accountID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	rec, err := e.svc.AuditChain().NewVaultCreatedRecord(v, iogate.Actor{Type: iogate.ActorOperator, ID: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateVault(context.Background(), v, rec); err != nil {
		t.Fatal(err)
	}
}

func TestOnChangeDeliversVaultChanges(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	var got []iogate.KeyChange
	e.svc.OnChange(iogate.ChangeVaults, func(c iogate.KeyChange) {
		c.Seq = 0
		got = append(got, c)
	})

	// Another process writes through its own connection, as the CLI does.
	createVaultIn(t, e, openOtherStore(t, e))
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

// TestFullReloadDeliversSkippedChanges records unblocks that no Sync applied, as when the
// feed was down, and reloads every key. The listener gets the reload's notice and then
// each skipped unblock, in order. It gets no change that it had received before, and no
// change of another kind.
func TestFullReloadDeliversSkippedChanges(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	var got []iogate.KeyChange
	e.svc.OnChange(iogate.ChangeAddressUnblock, func(c iogate.KeyChange) {
		c.Seq = 0
		got = append(got, c)
	})
	other := openOtherStore(t, e)
	unblock := func(prefix string) {
		t.Helper()
		if err := other.RecordAddressUnblock(ctx, netip.MustParsePrefix(prefix), "tester"); err != nil {
			t.Fatal(err)
		}
	}

	unblock("192.0.2.1/32")
	if err := e.svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// createKey writes through the engine, which applies every change up to its own and
	// so delivers the unblock before it. The one after it is left for the reload.
	unblock("192.0.2.2/32")
	e.createKey(t)
	got = nil
	unblock("2001:db8::/64")
	createVaultIn(t, e, other)

	if err := e.svc.resync(ctx); err != nil {
		t.Fatal(err)
	}
	want := []iogate.KeyChange{
		{Kind: iogate.ChangeAddressUnblock},
		{Kind: iogate.ChangeAddressUnblock, Address: "2001:db8::/64", Operator: "tester"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes delivered by a full reload (-want +got):\n%s", diff)
	}

	got = nil
	if err := e.svc.resync(ctx); err != nil {
		t.Fatal(err)
	}
	want = []iogate.KeyChange{{Kind: iogate.ChangeAddressUnblock}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes delivered by a second full reload with nothing skipped (-want +got):\n%s", diff)
	}
}
