package auth

import (
	"crypto/sha256"
	"sync"

	"github.com/iogate/iogate/token"
)

// tokenCache maps a token's SHA-256 to claims whose signature has been verified, so that a
// token seen before costs a hash and a map read instead of a signature check. It holds at
// most max entries; when full it drops entries that have expired and, if that is not
// enough, an arbitrary tenth of the rest.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*token.Claims
	max     int
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]*token.Claims), max: max}
}

func (c *tokenCache) get(h [sha256.Size]byte) *token.Claims {
	c.mu.RLock()
	claims := c.entries[h]
	c.mu.RUnlock()
	return claims
}

func (c *tokenCache) put(h [sha256.Size]byte, claims *token.Claims, nowUnix int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(nowUnix)
	}
	c.entries[h] = claims
}

func (c *tokenCache) evict(nowUnix int64) {
	for h, claims := range c.entries {
		if claims.Expiry <= nowUnix {
			delete(c.entries, h)
		}
	}
	drop := len(c.entries) - c.max*9/10
	for h := range c.entries {
		if drop <= 0 {
			break
		}
		delete(c.entries, h)
		drop--
	}
}
