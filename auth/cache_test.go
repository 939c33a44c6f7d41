package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/iogate/iogate/token"
)

func cacheKey(i int) [sha256.Size]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

func TestTokenCacheGetPut(t *testing.T) {
	c := newTokenCache(1000)
	claims := &token.Claims{ID: "a", Expiry: 2000}
	if got := c.get(cacheKey(1)); got != nil {
		t.Fatalf("get on an empty cache = %+v, want nil", got)
	}
	c.put(cacheKey(1), newVerifiedToken(claims), 1000)
	if got := c.get(cacheKey(1)); got == nil || got.claims != claims {
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
		c.put(cacheKey(i), newVerifiedToken(&token.Claims{Expiry: 5000}), 1000)
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
		c.put(cacheKey(i), newVerifiedToken(&token.Claims{Expiry: 999}), 900)
	}
	live := make([][sha256.Size]byte, 0, 64)
	for i := range 64 {
		h := cacheKey(100*max + i)
		live = append(live, h)
		c.put(h, newVerifiedToken(&token.Claims{Expiry: 5000}), 1000)
	}
	for i, h := range live {
		if c.get(h) == nil {
			t.Fatalf("live entry %d was evicted while expired entries were present", i)
		}
	}
}
