package storetest

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iogate/iogate"
)

// addressUnblockCases check that an operator's unblock of an address travels on the change
// feed with its prefix and operator, and that the stores reject a prefix no server could
// apply.
var addressUnblockCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"AddressUnblockChanges", testAddressUnblockChanges},
	{"AddressUnblockRejectsInvalidPrefix", testAddressUnblockRejectsInvalidPrefix},
}

// testAddressUnblockChanges records unblocks of an IPv4 address and an IPv6 /64 between
// two key changes: each reads back in order with its kind, canonical prefix and operator,
// and the key changes carry neither.
func testAddressUnblockChanges(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	before := storedKey(t, s, a.ID)
	must(t, "RecordAddressUnblock(192.0.2.7/32)", s.RecordAddressUnblock(ctx, netip.MustParsePrefix("192.0.2.7/32"), "alice"))
	must(t, "RecordAddressUnblock(2001:db8:1::/64)", s.RecordAddressUnblock(ctx, netip.MustParsePrefix("2001:db8:1::/64"), "bob"))
	after := storedKey(t, s, a.ID)

	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	want := []iogate.KeyChange{
		{Kind: iogate.ChangeAPIKey, ClientID: before.ClientID},
		{Kind: iogate.ChangeAddressUnblock, Address: "192.0.2.7/32", Operator: "alice"},
		{Kind: iogate.ChangeAddressUnblock, Address: "2001:db8:1::/64", Operator: "bob"},
		{Kind: iogate.ChangeAPIKey, ClientID: after.ClientID},
	}
	if diff := cmp.Diff(want, changes, cmpopts.IgnoreFields(iogate.KeyChange{}, "Seq")); diff != "" {
		t.Errorf("KeyChangesSince after two unblocks between two key changes (-want +got):\n%s", diff)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].Seq <= changes[i-1].Seq {
			t.Errorf("change %d has Seq %d, not above the %d of the change before it", i, changes[i].Seq, changes[i-1].Seq)
		}
	}
	latest, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	if len(changes) > 0 && latest != changes[len(changes)-1].Seq {
		t.Errorf("LatestKeyChange = %d, want the last change's Seq %d", latest, changes[len(changes)-1].Seq)
	}
}

// testAddressUnblockRejectsInvalidPrefix passes prefixes that ParseBlockedAddress never
// returns: each fails with CodeInvalid and records no change.
func testAddressUnblockRejectsInvalidPrefix(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	for _, p := range []netip.Prefix{
		{},
		netip.PrefixFrom(netip.MustParseAddr("192.0.2.7"), 24),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("2001:db8::/96"),
	} {
		wantCode(t, "RecordAddressUnblock("+p.String()+")", s.RecordAddressUnblock(ctx, p, "alice"), iogate.CodeInvalid)
	}
	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 0 {
		t.Errorf("KeyChangesSince after rejected unblocks = %+v, want none", changes)
	}
}

// RunAddressUnblockMigration checks the migration that adds the address and operator of
// unblocks to the change feed. It records key changes on s, then calls remigrate, which
// must take the database back to the schema before that migration, dropping both columns,
// and return a store on it that has applied the migration again. The earlier changes must
// read back unchanged, with neither field, and an unblock must record after them.
func RunAddressUnblockMigration(t *testing.T, s iogate.Store, remigrate func(t *testing.T) iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	a := newAccount(t, s)
	first, second := storedKey(t, s, a.ID), storedKey(t, s, a.ID)
	old, err := s.KeyChangesSince(ctx, 0)
	must(t, "KeyChangesSince before the migration", err)

	migrated := remigrate(t)
	changes, err := migrated.KeyChangesSince(ctx, 0)
	must(t, "KeyChangesSince after the migration", err)
	if diff := cmp.Diff(old, changes); diff != "" {
		t.Errorf("key changes across the migration (-before +after):\n%s", diff)
	}
	var ids []string
	for _, c := range changes {
		if c.Kind == iogate.ChangeAPIKey {
			ids = append(ids, c.ClientID)
		}
	}
	if diff := cmp.Diff([]string{first.ClientID, second.ClientID}, ids); diff != "" {
		t.Errorf("key changes of the keys created before the migration (-want +got):\n%s", diff)
	}

	must(t, "RecordAddressUnblock after the migration", migrated.RecordAddressUnblock(ctx, netip.MustParsePrefix("198.51.100.0/24"), "alice"))
	latest := changes[len(changes)-1].Seq
	added, err := migrated.KeyChangesSince(ctx, latest)
	must(t, "KeyChangesSince", err)
	want := []iogate.KeyChange{{Kind: iogate.ChangeAddressUnblock, Address: "198.51.100.0/24", Operator: "alice"}}
	if diff := cmp.Diff(want, added, cmpopts.IgnoreFields(iogate.KeyChange{}, "Seq")); diff != "" {
		t.Errorf("KeyChangesSince after an unblock on the migrated store (-want +got):\n%s", diff)
	}
}
