package http

import (
	"strconv"
	"sync"

	"github.com/iogate/iogate"
)

// maxVaultCacheBytes bounds the encoded responses that the vault cache holds. A list page
// holds at most MaxPageLimit vaults of about 200 bytes each, so the bound keeps at least
// several hundred full pages.
const maxVaultCacheBytes = 32 << 20

// vaultCache holds encoded GET /v1/vaults and GET /v1/vaults/{id} response bodies per
// account, so that reading vaults costs neither a query nor JSON encoding. Vault writes
// announce a change of their account's vaults on the store's change feed, and the engine
// passes it to drop: in this process at once, in other processes when their feed delivers
// it (SQLite polls every 25 ms). Only successful responses are cached.
//
// A body read from the store is kept only if its account was not dropped while it was
// read: otherwise a read that began before a write could put back what the write made
// stale.
type vaultCache struct {
	mu       sync.Mutex
	accounts map[string]map[string][]byte
	bytes    int
	maxBytes int

	// epoch counts drops. droppedAt is the epoch of each account's last drop, and
	// allDroppedAt that of the last drop of every account.
	epoch        uint64
	droppedAt    map[string]uint64
	allDroppedAt uint64
}

// maxDropRecords bounds droppedAt. Past it, a drop of one account drops every account,
// which is correct, only slower to refill.
const maxDropRecords = 100_000

func newVaultCache(maxBytes int) *vaultCache {
	return &vaultCache{accounts: make(map[string]map[string][]byte), droppedAt: make(map[string]uint64), maxBytes: maxBytes}
}

// body returns the cached body of key for the account, or calls load, caches what it
// returns and returns that.
func (c *vaultCache) body(accountID, key string, load func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if b, ok := c.accounts[accountID][key]; ok {
		c.mu.Unlock()
		return b, nil
	}
	start := c.epoch
	c.mu.Unlock()

	b, err := load()
	if err != nil {
		return nil, err
	}
	c.put(accountID, key, b, start)
	return b, nil
}

// put stores b unless the account was dropped after epoch start.
func (c *vaultCache) put(accountID, key string, b []byte, start uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.allDroppedAt > start || c.droppedAt[accountID] > start || len(b) > c.maxBytes/4 {
		return
	}
	for c.bytes+len(b) > c.maxBytes && len(c.accounts) > 0 {
		c.evictLocked()
	}
	bodies := c.accounts[accountID]
	if bodies == nil {
		bodies = make(map[string][]byte)
		c.accounts[accountID] = bodies
	}
	if old, ok := bodies[key]; ok {
		c.bytes -= len(old)
	}
	bodies[key] = b
	c.bytes += len(b)
}

// evictLocked drops the bodies of an arbitrary account.
func (c *vaultCache) evictLocked() {
	for id, bodies := range c.accounts {
		c.removeLocked(id, bodies)
		return
	}
}

func (c *vaultCache) removeLocked(accountID string, bodies map[string][]byte) {
	for _, b := range bodies {
		c.bytes -= len(b)
	}
	delete(c.accounts, accountID)
}

// drop removes what the change names: the bodies of change.AccountID, or of every
// account when it is empty. It is the engine's listener for iogate.ChangeVaults.
func (c *vaultCache) drop(change iogate.KeyChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if change.AccountID == "" || len(c.droppedAt) >= maxDropRecords {
		c.accounts = make(map[string]map[string][]byte)
		c.bytes = 0
		c.droppedAt = make(map[string]uint64)
		c.allDroppedAt = c.epoch
		return
	}
	c.droppedAt[change.AccountID] = c.epoch
	if bodies, ok := c.accounts[change.AccountID]; ok {
		c.removeLocked(change.AccountID, bodies)
	}
}

// vaultListKey is the cache key of one page of GET /v1/vaults.
func vaultListKey(page iogate.Page) string {
	return "list/" + strconv.Itoa(page.Limit) + "/" + page.Cursor
}

// vaultKey is the cache key of GET /v1/vaults/{id}.
func vaultKey(id string) string { return "vault/" + id }
