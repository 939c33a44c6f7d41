package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/iogate/iogate/token"
)

func cacheKey(i int) [sha256.Size]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

// published is the keyring check of put for a keyring that publishes every key.
func published(string) bool { return true }

func TestTokenCacheGetPut(t *testing.T) {
	c := newTokenCache(1000)
	claims := &token.Claims{ID: "a", Expiry: 2000}
	if got := c.get(cacheKey(1)); got != nil {
		t.Fatalf("get on an empty cache = %+v, want nil", got)
	}
	c.put(cacheKey(1), newVerifiedToken(claims, "kid", "", ""), 1000, published)
	if got := c.get(cacheKey(1)); got == nil || got.claims != *claims {
		t.Fatalf("get after put = %+v, want %+v", got, claims)
	}
	if got := c.get(cacheKey(2)); got != nil {
		t.Fatalf("get of another key = %+v, want nil", got)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	const max = 1600
	c := newTokenCache(max)
	for i := range 20 * max {
		c.put(cacheKey(i), newVerifiedToken(&token.Claims{Expiry: 5000}, "kid", "", ""), 1000, published)
	}
	if n := c.len(); n > max {
		t.Fatalf("cache holds %d entries after %d puts, want at most %d", n, 20*max, max)
	}
	if n := c.len(); n < max/2 {
		t.Fatalf("cache holds %d entries after %d puts, want at least %d", n, 20*max, max/2)
	}
	last := cacheKey(20*max - 1)
	if c.get(last) == nil {
		t.Fatal("the entry put last was evicted")
	}
}

func TestTokenCacheEvictsExpiredFirst(t *testing.T) {
	const max = 160
	c := newTokenCache(max)
	// Fill every shard with expired entries, then add live ones: each shard that fills up
	// must drop expired entries before live ones.
	for i := range 10 * max {
		c.put(cacheKey(i), newVerifiedToken(&token.Claims{Expiry: 999}, "kid", "", ""), 900, published)
	}
	live := make([][sha256.Size]byte, 0, 64)
	for i := range 64 {
		h := cacheKey(100*max + i)
		live = append(live, h)
		c.put(h, newVerifiedToken(&token.Claims{Expiry: 5000}, "kid", "", ""), 1000, published)
	}
	for i, h := range live {
		if c.get(h) == nil {
			t.Fatalf("live entry %d was evicted while expired entries were present", i)
		}
	}
}

// TestVerifiedTokenSharesStrings checks that a cache entry keeps the values of the claims
// but shares the strings that tokens repeat, and keeps a scope claim it cannot share.
func TestVerifiedTokenSharesStrings(t *testing.T) {
	issuer := "https://iogate.example"
	account := "0190d2f4-6a7b-7c3d-8e9f-0a1b2c3d4e5f"
	client := "6f1c2a7e-5b1d-4c1e-9a57-1f2d3c4b5a69"
	claims := &token.Claims{
		Issuer: strings.Clone(issuer), Audience: strings.Clone(issuer), Subject: strings.Clone(client), ClientID: client,
		AccountID: strings.Clone(account), Scope: "vaults:read vaults:write", ID: "token-1", Expiry: 5000, Generation: 3,
	}
	want := *claims
	v := newVerifiedToken(claims, "kid", issuer, account)
	if v.claims != want {
		t.Fatalf("entry claims = %+v, want %+v", v.claims, want)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(v.claims.Issuer, issuer) || !same(v.claims.Audience, issuer) {
		t.Error("issuer and audience are copies, want the configured issuer")
	}
	if !same(v.claims.Subject, client) {
		t.Error("subject is a copy, want the client ID")
	}
	if !same(v.claims.AccountID, account) {
		t.Error("account ID is a copy, want the key view's")
	}
	set, _ := newScopeSet([]string{"vaults:read", "vaults:write"})
	if !same(v.claims.Scope, scopeClaims[set]) {
		t.Error("scope claim is a copy, want the scope tables'")
	}
	if len(v.scopeList) != 2 || &v.scopeList[0] != &scopeLists[set][0] {
		t.Error("scope list is a copy, want the scope tables'")
	}

	odd := newVerifiedToken(&token.Claims{Issuer: "https://other.example", Scope: "vaults:write vaults:read", AccountID: "other"}, "kid", issuer, account)
	if odd.claims.Issuer != "https://other.example" || odd.claims.Scope != "vaults:write vaults:read" || odd.claims.AccountID != "other" {
		t.Errorf("entry of another issuer, unsorted scopes and another account = %+v, want the claims unchanged", odd.claims)
	}
	if !slices.Equal(odd.scopeList, []string{"vaults:write", "vaults:read"}) {
		t.Errorf("scope list = %v, want the claim's order", odd.scopeList)
	}
}

// TestTokenCacheDropSigningKeys checks that the entries of removed signing keys leave the
// cache and the others stay.
func TestTokenCacheDropSigningKeys(t *testing.T) {
	c := newTokenCache(1600)
	for i := range 100 {
		kid := "kept"
		if i%4 == 0 {
			kid = "revoked"
		}
		c.put(cacheKey(i), newVerifiedToken(&token.Claims{Expiry: 5000}, kid, "", ""), 1000, published)
	}
	if n := c.dropSigningKeys(map[string]bool{"revoked": true}); n != 25 {
		t.Errorf("dropSigningKeys removed %d entries, want 25", n)
	}
	for i := range 100 {
		v := c.get(cacheKey(i))
		switch {
		case i%4 == 0 && v != nil:
			t.Errorf("entry %d of the revoked key is still cached", i)
		case i%4 != 0 && v == nil:
			t.Errorf("entry %d of a kept key was dropped", i)
		}
	}
}

// TestTokenCachePutOfUnpublishedKey checks that put rejects the entry of a key that left
// the keyring after it verified the token.
func TestTokenCachePutOfUnpublishedKey(t *testing.T) {
	c := newTokenCache(1000)
	unpublished := func(kid string) bool { return kid != "revoked" }
	if c.put(cacheKey(1), newVerifiedToken(&token.Claims{Expiry: 5000}, "revoked", "", ""), 1000, unpublished) {
		t.Error("put of an entry of an unpublished key = true, want false")
	}
	if c.get(cacheKey(1)) != nil {
		t.Error("the entry of an unpublished key was cached")
	}
	if !c.put(cacheKey(2), newVerifiedToken(&token.Claims{Expiry: 5000}, "kept", "", ""), 1000, unpublished) {
		t.Error("put of an entry of a published key = false, want true")
	}
}

// TestVerifiedTokenSize checks that the cache entry stays in its allocation size class:
// every cached token costs that much memory, and the garbage collector scans it.
func TestVerifiedTokenSize(t *testing.T) {
	if size := unsafe.Sizeof(verifiedToken{}); size > 208 {
		t.Errorf("verifiedToken is %d bytes, want at most 208, the size class it had before", size)
	}
}
