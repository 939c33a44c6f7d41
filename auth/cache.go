package auth

import (
	"crypto/sha256"
	"sync"

	"github.com/iogate/iogate/token"
)

// cacheShards is the number of independently locked parts of the token cache. Every
// request reads the cache, and with one lock the cores would contend for the cache line
// of its reader count; a shard is picked by the first byte of the token hash.
const cacheShards = 16

// tokenCache maps a token's SHA-256 to claims whose signature has been verified, so that a
// token seen before costs a hash and a map read instead of a signature check and a parse. It holds at
// most max entries, split evenly between the shards; when a shard is full it drops its
// entries that have expired and, if that is not enough, an arbitrary tenth of the rest.
type tokenCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*verifiedToken
	max     int
	// The padding keeps neighbouring shards' locks out of one 64-byte cache line.
	_ [64]byte
}

func newTokenCache(max int) *tokenCache {
	c := &tokenCache{}
	perShard := max / cacheShards
	if perShard < 1 {
		perShard = 1
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*verifiedToken)
		c.shards[i].max = perShard
	}
	return c
}

func (c *tokenCache) shard(h [sha256.Size]byte) *cacheShard {
	return &c.shards[int(h[0])%cacheShards]
}

// verifiedToken is a cache entry: claims whose signature verified, with their scope claim
// parsed.
type verifiedToken struct {
	claims token.Claims
	// scopes and scopesKnown are the set of the scope claim and whether it holds only
	// known scopes; scopeList is the claim split at spaces. Do not modify it.
	scopes      scopeSet
	scopesKnown bool
	// canonical reports whether keyID parsed. It sits beside scopesKnown, where it fills
	// padding, so that adding signingKeyID kept the entry in the 208-byte size class.
	canonical bool
	scopeList []string
	// keyID is the client ID as parseKeyID parsed it for the key view.
	keyID keyID
	// signingKeyID is the KID of the signing key that verified the token, the keyring's
	// copy. A keyring reload drops the entries of keys that left it.
	signingKeyID string
}

// newVerifiedToken returns the cache entry of claims, whose signature, issuer and audience
// verified under the signing key kid. The garbage collector scans every entry of a full
// cache on each cycle, so the entry shares the strings that tokens repeat, each only where
// the values are equal. The issuer and audience share issuer, the subject the client ID,
// and the account ID the key view's accountID. The scope claim and its list share the
// scope tables.
func newVerifiedToken(claims *token.Claims, kid, issuer, accountID string) *verifiedToken {
	v := &verifiedToken{claims: *claims, signingKeyID: kid}
	c := &v.claims
	v.keyID, v.canonical = parseKeyID(c.ClientID)
	if c.Issuer == issuer {
		c.Issuer = issuer
	}
	if c.Audience == issuer {
		c.Audience = issuer
	}
	if c.Subject == c.ClientID {
		c.Subject = c.ClientID
	}
	if c.AccountID == accountID {
		c.AccountID = accountID
	}
	if set, ok := scopeClaimSets[c.Scope]; ok {
		c.Scope = scopeClaims[set]
		v.scopes, v.scopesKnown, v.scopeList = set, true, scopeLists[set]
	} else {
		v.scopes, v.scopesKnown, v.scopeList = tokenScopes(c.Scope)
	}
	return v
}

func (c *tokenCache) get(h [sha256.Size]byte) *verifiedToken {
	s := c.shard(h)
	s.mu.RLock()
	claims := s.entries[h]
	s.mu.RUnlock()
	return claims
}

// put adds v unless its signing key is no longer published, and reports whether it did.
// The check runs under the shard's lock, and dropSigningKeys takes that lock after the
// keyring has lost the key, so an entry verified just before a reload is either dropped
// by it or not added at all.
func (c *tokenCache) put(h [sha256.Size]byte, v *verifiedToken, nowUnix int64, published func(kid string) bool) bool {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !published(v.signingKeyID) {
		return false
	}
	if len(s.entries) >= s.max {
		s.evict(nowUnix)
	}
	s.entries[h] = v
	return true
}

// dropSigningKeys removes the entries of tokens signed by the keys in kids, and returns
// how many it removed. Call it after those keys have left the keyring. It locks one shard
// at a time, so cached verifications wait at most for one shard's walk.
func (c *tokenCache) dropSigningKeys(kids map[string]bool) int {
	dropped := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for h, v := range s.entries {
			if kids[v.signingKeyID] {
				delete(s.entries, h)
				dropped++
			}
		}
		s.mu.Unlock()
	}
	return dropped
}

func (s *cacheShard) evict(nowUnix int64) {
	for h, v := range s.entries {
		if v.claims.Expiry <= nowUnix {
			delete(s.entries, h)
		}
	}
	drop := len(s.entries) - s.max*9/10
	for h := range s.entries {
		if drop <= 0 {
			break
		}
		delete(s.entries, h)
		drop--
	}
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
