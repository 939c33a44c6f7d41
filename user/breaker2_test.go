package user

// Tests for weaknesses a second adversarial review found in the sign-in limiter.

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestSignInFloodNoLockout fills the per-account table with made-up emails,
// ten from each of 10,000 IPv6 /64 networks, which one /48 holds. Each address stays
// within its own limit. A user who then signs in from an address not seen before must not
// be refused.
func TestSignInFloodNoLockout(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newSignInLimits(func() time.Time { return now })
	const addresses = maxLimiters / addressBurst
	for a := range addresses {
		addr := fmt.Sprintf("2001:db8:%x:%x::1", a>>8, a&0xff)
		for i := range addressBurst {
			if !l.allow(addr, "email:spray"+strconv.Itoa(a*addressBurst+i)+"@attacker.test") {
				t.Fatalf("attempt %d from %s refused within the address burst", i, addr)
			}
		}
	}
	if !l.allow("198.51.100.7", "email:owner@acme.test") {
		t.Errorf("owner's sign-in from a new address after %d made-up emails from %d /64 networks: refused, want allowed",
			addresses*addressBurst, addresses)
	}
}

// TestSignInFullTableEvictsOnce checks that a full table is not scanned for every new key.
// A scan of 100,000 entries holds the table's mutex for milliseconds, so a scan per
// attempt would let a few dozen new addresses a second stall every sign-in. One eviction
// must free half of the table, so that the next new keys find room without a scan.
func TestSignInFullTableEvictsOnce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := &limiterMap{every: 1, burst: addressBurst, entries: map[string]*limiterEntry{}}
	for i := range maxLimiters {
		m.allow("in-use-"+strconv.Itoa(i), now)
	}
	const newKeys = 100
	for i := range newKeys {
		if !m.allow("new-"+strconv.Itoa(i), now) {
			t.Fatalf("new key %d refused on a full table, want room made for it", i)
		}
	}
	if n := len(m.entries); n != maxLimiters/2+newKeys {
		t.Errorf("table holds %d entries after %d new keys, want %d: one eviction to half, then none", n, newKeys, maxLimiters/2+newKeys)
	}
}
