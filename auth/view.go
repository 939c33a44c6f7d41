package auth

import (
	"net/netip"
	"sync"
	"time"

	"github.com/iogate/iogate"
)

// keyState is what the hot path needs to know about one key. It is immutable once built: a
// change replaces the whole state, so readers never see half an update.
type keyState struct {
	clientID  string
	accountID string
	scopes    []string
	allowed   []netip.Prefix
	expiresAt time.Time

	current  iogate.SecretHash
	currentG int
	previous *iogate.PreviousSecret

	// revoked holds the IDs of the key's revoked tokens that had not expired when the
	// state was built.
	revoked map[string]bool
	// suspended is true while the key's account is suspended: its tokens are refused.
	suspended bool
}

func newKeyState(k *iogate.APIKey, revoked []*iogate.RevokedToken) *keyState {
	st := &keyState{
		clientID:  k.ClientID,
		accountID: k.AccountID,
		scopes:    k.Scopes,
		allowed:   k.AllowedIPs,
		expiresAt: k.ExpiresAt,
		current:   k.SecretHash,
		currentG:  k.SecretGeneration,
		previous:  k.Previous,
	}
	if len(revoked) > 0 {
		st.revoked = make(map[string]bool, len(revoked))
		for _, t := range revoked {
			st.revoked[t.TokenID] = true
		}
	}
	return st
}

// usable reports whether the key may authenticate at now: it has not expired and its
// account is not suspended.
func (k *keyState) usable(now time.Time) bool {
	return !k.suspended && !k.expired(now)
}

func (k *keyState) expired(now time.Time) bool {
	return !k.expiresAt.IsZero() && !now.Before(k.expiresAt)
}

// generationValid reports whether tokens minted with secret generation g may be used at
// now: the current secret's always, the previous secret's only until its grace ends.
func (k *keyState) generationValid(g int, now time.Time) bool {
	if g == k.currentG {
		return true
	}
	p := k.previous
	return p != nil && g == p.Generation && now.Before(p.ExpiresAt)
}

// keyView is the in-memory view of every key, read on every request without touching the
// store.
type keyView struct {
	mu      sync.RWMutex
	keys    map[string]*keyState
	lastSeq int64
}

func newKeyView() *keyView { return &keyView{keys: make(map[string]*keyState)} }

func (v *keyView) get(clientID string) *keyState {
	v.mu.RLock()
	k := v.keys[clientID]
	v.mu.RUnlock()
	return k
}

func (v *keyView) put(k *iogate.APIKey, revoked []*iogate.RevokedToken, suspended bool) {
	st := newKeyState(k, revoked)
	st.suspended = suspended
	v.mu.Lock()
	v.keys[k.ClientID] = st
	v.mu.Unlock()
}

// putKeepingRevoked replaces a key's state but keeps the revoked token IDs and the account
// suspension the view already holds for it, for a write whose revocation list and account
// the caller has not read.
func (v *keyView) putKeepingRevoked(k *iogate.APIKey) {
	st := newKeyState(k, nil)
	v.mu.Lock()
	if old := v.keys[k.ClientID]; old != nil {
		st.revoked = old.revoked
		st.suspended = old.suspended
	}
	v.keys[k.ClientID] = st
	v.mu.Unlock()
}

func (v *keyView) remove(clientID string) {
	v.mu.Lock()
	delete(v.keys, clientID)
	v.mu.Unlock()
}

func (v *keyView) replace(keys map[string]*keyState, seq int64) {
	v.mu.Lock()
	v.keys, v.lastSeq = keys, seq
	v.mu.Unlock()
}

func (v *keyView) seq() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.lastSeq
}

func (v *keyView) setSeq(seq int64) {
	v.mu.Lock()
	if seq > v.lastSeq {
		v.lastSeq = seq
	}
	v.mu.Unlock()
}

func (v *keyView) size() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.keys)
}
