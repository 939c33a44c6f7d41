package auth

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/iogate/iogate"
)

func TestParseKeyIDAcceptsCanonicalUUIDsOnly(t *testing.T) {
	canonical := uuid.NewString()
	cases := []string{
		canonical,
		strings.ToUpper(canonical),
		"",
		"key-1",
		canonical[:35],
		canonical + "0",
		strings.ReplaceAll(canonical, "-", ""),
		"{" + canonical[1:35] + "}",
		"6f1c2a7e-5b1d-4c1e-9a57-1f2d3c4b5a6g",
		"6f1c2a7e-5b1d-4c1e-9a57+1f2d3c4b5a69",
		"6f1c2a7e5b1d-4c1e-9a57-1f2d3c4b5a69-",
		"00000000-0000-0000-0000-000000000000",
	}
	for _, s := range cases {
		id, ok := parseKeyID(s)
		if ok != iogate.ValidClientID(s) {
			t.Errorf("parseKeyID(%q) ok = %v, but ValidClientID = %v", s, ok, !ok)
			continue
		}
		if ok && uuid.UUID(id).String() != s {
			t.Errorf("parseKeyID(%q) = %s, want the same UUID", s, uuid.UUID(id))
		}
	}
}

func TestScopeSetRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		scopes []string
		ok     bool
	}{
		{"none", nil, true},
		{"one", []string{iogate.ScopeVaultsRead}, true},
		{"all", slices.Sorted(slices.Values(iogate.AllScopes)), true},
		{"unsorted", []string{iogate.ScopeVaultsWrite, iogate.ScopeVaultsRead}, false},
		{"duplicate", []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsRead}, false},
		{"unknown", []string{"payments:write"}, false},
	}
	for _, c := range cases {
		set, ok := newScopeSet(c.scopes)
		if ok != c.ok {
			t.Errorf("%s: newScopeSet(%q) ok = %v, want %v", c.name, c.scopes, ok, c.ok)
			continue
		}
		if ok && !slices.Equal(set.list(), c.scopes) {
			t.Errorf("%s: list of the set of %q = %q", c.name, c.scopes, set.list())
		}
	}
}

func TestKeyViewKeepsEveryField(t *testing.T) {
	now := time.Now()
	account := iogate.NewID()
	plain := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: account, Scopes: []string{iogate.ScopeVaultsRead}, SecretGeneration: 1}
	plain.SecretHash[0] = 1
	full := &iogate.APIKeyAuth{
		ClientID:         uuid.NewString(),
		AccountID:        account,
		Scopes:           []string{iogate.ScopeVaultsWrite, "legacy:scope"},
		AllowedIPs:       []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		ExpiresAt:        now.Add(time.Hour),
		SecretGeneration: 3,
		Previous:         &iogate.PreviousSecret{Generation: 2, ExpiresAt: now.Add(time.Minute)},
	}
	full.SecretHash[0], full.Previous.Hash[0] = 3, 2
	odd := &iogate.APIKeyAuth{ClientID: "imported-key", AccountID: iogate.NewID(), Scopes: []string{iogate.ScopeVaultsRead}, SecretGeneration: 7}

	v := newKeyView()
	v.put(plain, nil, false)
	v.put(full, []*iogate.RevokedToken{{TokenID: "jti-1"}}, false)
	v.put(odd, nil, true)

	k, ok := v.get(plain.ClientID)
	switch {
	case !ok:
		t.Fatal("plain key not found")
	case k.extra != nil:
		t.Errorf("a key with nothing rare has an extra: %+v", k.extra)
	case k.accountID != account || k.suspended || k.expired(now.Add(100*365*24*time.Hour)):
		t.Errorf("plain key: account %s suspended %v expired %v", k.accountID, k.suspended, k.expired(now))
	case !slices.Equal(k.scopes(), plain.Scopes) || k.state.current != plain.SecretHash || !k.generationValid(1, now):
		t.Errorf("plain key: scopes %q, hash or generation differ", k.scopes())
	}

	k, ok = v.get(full.ClientID)
	switch {
	case !ok:
		t.Fatal("full key not found")
	case !slices.Equal(k.scopes(), full.Scopes):
		t.Errorf("scopes outside the known set = %q, want %q kept as stored", k.scopes(), full.Scopes)
	case !slices.Equal(k.allowed(), full.AllowedIPs):
		t.Errorf("allowlist = %v, want %v", k.allowed(), full.AllowedIPs)
	case !k.expiresAt().Equal(full.ExpiresAt) || k.expired(now) || !k.expired(now.Add(time.Hour)):
		t.Errorf("expiry = %s, want %s", k.expiresAt(), full.ExpiresAt)
	case !k.generationValid(3, now) || !k.generationValid(2, now) || k.generationValid(2, now.Add(time.Minute)) || k.generationValid(1, now):
		t.Error("generations 3 and, during the grace period, 2 must be valid, and no other")
	case k.previous().Hash != full.Previous.Hash:
		t.Error("previous secret hash differs")
	case !k.revoked("jti-1") || k.revoked("jti-2"):
		t.Error("revoked tokens differ")
	}

	k, ok = v.get(odd.ClientID)
	if !ok || k.accountID != odd.AccountID || !k.suspended || k.state.currentG != 7 {
		t.Errorf("key with a non-UUID client ID: found %v, %+v", ok, k)
	}
	if _, ok := v.get(strings.ToUpper(plain.ClientID)); ok {
		t.Error("a client ID in upper case found the key; IDs are compared exactly")
	}
	if n := v.size(); n != 3 {
		t.Errorf("size = %d, want 3", n)
	}

	// A write that did not read the revocations keeps them, and the account's suspension.
	v.account.suspended[v.account.index[account]] = true
	changed := *full
	changed.AllowedIPs = nil
	v.putKeepingRevoked(&changed)
	k, _ = v.get(full.ClientID)
	if !k.revoked("jti-1") || len(k.allowed()) != 0 || !k.suspended {
		t.Errorf("after putKeepingRevoked: revoked %v, allowlist %v, suspended %v", k.revoked("jti-1"), k.allowed(), k.suspended)
	}
	// Suspension belongs to the account, so it reaches every key of it.
	if k, _ := v.get(plain.ClientID); !k.suspended {
		t.Error("another key of the suspended account is not suspended")
	}

	for _, id := range []string{plain.ClientID, full.ClientID, odd.ClientID} {
		v.remove(id)
		if _, ok := v.get(id); ok {
			t.Errorf("key %s found after remove", id)
		}
	}
	if len(v.extras) != 0 {
		t.Errorf("extras left after every key was removed: %d", len(v.extras))
	}
}

func TestViewReloadReplacesTheView(t *testing.T) {
	v := newKeyView()
	stale := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: iogate.NewID(), Scopes: []string{iogate.ScopeVaultsRead}}
	odd := &iogate.APIKeyAuth{ClientID: "imported-key", AccountID: stale.AccountID, Scopes: []string{iogate.ScopeVaultsRead}}
	restricted := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: stale.AccountID, Scopes: []string{iogate.ScopeVaultsRead},
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	kept := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: stale.AccountID, Scopes: []string{iogate.ScopeVaultsRead}, SecretGeneration: 1}
	for _, a := range []*iogate.APIKeyAuth{stale, odd, restricted, kept} {
		v.put(a, nil, true)
	}

	suspended := iogate.NewID()
	r := v.beginReload(map[string][]*iogate.RevokedToken{}, map[string]bool{suspended: true})
	fresh := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: suspended, Scopes: []string{iogate.ScopeVaultsRead}}
	r.add(fresh)
	newer := *kept
	newer.SecretGeneration = 2
	r.add(&newer)
	// A key written by this process during the reload counts as seen.
	written := &iogate.APIKeyAuth{ClientID: uuid.NewString(), AccountID: stale.AccountID, Scopes: []string{iogate.ScopeVaultsRead}}
	v.putKeepingRevoked(written)
	r.finish(42)

	for _, gone := range []string{stale.ClientID, odd.ClientID, restricted.ClientID} {
		if _, ok := v.get(gone); ok {
			t.Errorf("key %s, missing from the reload, is still in the view", gone)
		}
	}
	if len(v.extras) != 0 {
		t.Errorf("extras of removed keys left: %d", len(v.extras))
	}
	if k, ok := v.get(fresh.ClientID); !ok || !k.suspended {
		t.Errorf("reloaded key: found %v, suspended %v; want found and suspended", ok, k.suspended)
	}
	if k, ok := v.get(kept.ClientID); !ok || k.state.currentG != 2 || k.suspended {
		t.Errorf("key kept by the reload: found %v, generation %d, suspended %v; want found, 2, not suspended", ok, k.state.currentG, k.suspended)
	}
	if _, ok := v.get(written.ClientID); !ok {
		t.Error("a key written during the reload was removed by it")
	}
	if v.seq() != 42 {
		t.Errorf("seq = %d, want 42", v.seq())
	}
}

func TestViewReloadStoresManyKeys(t *testing.T) {
	v := newKeyView()
	r := v.beginReload(nil, nil)
	ids := make([]string, 3*reloadBatch+5)
	for i := range ids {
		ids[i] = uuid.NewString()
		r.add(&iogate.APIKeyAuth{ClientID: ids[i], AccountID: "account", Scopes: []string{iogate.ScopeVaultsRead}})
	}
	r.finish(1)
	if n := v.size(); n != len(ids) {
		t.Fatalf("view holds %d keys after a reload of %d", n, len(ids))
	}
	for _, id := range ids {
		if _, ok := v.get(id); !ok {
			t.Fatalf("key %s missing after the reload", id)
		}
	}
}
