package auth

import (
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/iogate/iogate"
)

// keyView is the in-memory view of every key, read on every request without touching the
// store. It is laid out for a million keys: the main map holds a small pointer-free value
// per key, keyed by the 16 bytes of the client ID, so that the garbage collector never
// scans it. What few keys have (an IP allowlist, a previous secret in its grace period,
// revoked tokens) sits in a side map, and each account's ID is stored once.
type keyView struct {
	mu      sync.RWMutex
	keys    map[keyID]keyState
	extras  map[keyID]*keyExtra
	odd     map[string]oddKey
	account accountTable
	// deleted holds the accounts and secret hashes of keys that left the view because
	// they were deleted.
	deleted deletedKeys
	lastSeq int64
	// mark changes with every reload; see keyState.mark.
	mark uint8
}

// keyID is a client ID in binary form: the 16 bytes of its UUID.
type keyID [16]byte

// keyState is the state of one key that the hot path reads, apart from the rare parts
// that keyExtra holds.
type keyState struct {
	current iogate.SecretHash
	// currentG is the generation of the current secret.
	currentG int64
	// expiresAt is the key's expiry in Unix nanoseconds, or 0 when it does not expire.
	expiresAt int64
	// account indexes the view's accountTable.
	account uint32
	// scopes are the key's scopes, unless hasExtra is set and the extra's scopes are not
	// nil.
	scopes   scopeSet
	hasExtra bool
	// mark is the view's mark when the state was stored; a reload removes the keys that
	// it did not store under its own mark.
	mark uint8
}

// keyExtra holds the rare parts of a key's state. It is immutable once built: a change
// replaces it.
type keyExtra struct {
	allowed []netip.Prefix
	// previous holds the Hash, Generation and ExpiresAt of the secret that the last
	// rotation replaced, or is nil.
	previous *iogate.PreviousSecret
	// revoked holds the IDs of the key's revoked tokens that had not expired when the
	// state was built.
	revoked map[string]bool
	// scopes is set instead of keyState.scopes when the stored scopes are not a sorted
	// list of known scopes, so that they are kept exactly as stored.
	scopes []string
}

// oddKey is the state of a key whose client ID is not a UUID in canonical form. Keys
// created by iogate never have one, but the store does not forbid it.
type oddKey struct {
	state keyState
	extra *keyExtra
}

// accountTable stores each account's ID once and whether it is suspended.
type accountTable struct {
	ids       []string
	suspended []bool
	index     map[string]uint32
}

// key is one key's state as the view held it when read. It is a copy, so it stays
// consistent while the view changes.
type key struct {
	clientID  string
	accountID string
	// suspended is true while the key's account is suspended: its tokens are refused.
	suspended bool
	state     keyState
	extra     *keyExtra
}

func newKeyView() *keyView {
	return &keyView{keys: make(map[keyID]keyState), extras: make(map[keyID]*keyExtra)}
}

// get returns the state of the key with clientID.
func (v *keyView) get(clientID string) (key, bool) {
	id, canonical := parseKeyID(clientID)
	return v.getParsed(clientID, id, canonical)
}

// getParsed is get for a client ID that parseKeyID already parsed into id and canonical.
func (v *keyView) getParsed(clientID string, id keyID, canonical bool) (key, bool) {
	k := key{clientID: clientID}
	v.mu.RLock()
	defer v.mu.RUnlock()
	var ok bool
	if canonical {
		if k.state, ok = v.keys[id]; ok && k.state.hasExtra {
			k.extra = v.extras[id]
		}
	} else {
		var odd oddKey
		odd, ok = v.odd[clientID]
		k.state, k.extra = odd.state, odd.extra
	}
	if !ok {
		return key{}, false
	}
	k.accountID = v.account.ids[k.state.account]
	k.suspended = v.account.suspended[k.state.account]
	return k, true
}

// put replaces a key's state with a as stored, revoked, its account's revoked tokens, and
// whether its account is suspended.
func (v *keyView) put(a *iogate.APIKeyAuth, revoked []*iogate.RevokedToken, suspended bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	account := v.account.intern(a.AccountID)
	v.account.suspended[account] = suspended
	st, extra := newKeyState(a, account, revokedSet(revoked))
	v.set(a.ClientID, st, extra)
}

// putKeepingRevoked replaces a key's state but keeps the revoked token IDs and the account
// suspension the view already holds for it, for a write whose revocation list and account
// the caller has not read.
func (v *keyView) putKeepingRevoked(a *iogate.APIKeyAuth) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var revoked map[string]bool
	if _, extra, ok := v.lookup(a.ClientID); ok && extra != nil {
		revoked = extra.revoked
	}
	st, extra := newKeyState(a, v.account.intern(a.AccountID), revoked)
	v.set(a.ClientID, st, extra)
}

// setSuspended records whether the account accountID is suspended, for a status change that
// this process has stored, so that its tokens are refused before Sync reads it back.
func (v *keyView) setSuspended(accountID string, suspended bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.account.suspended[v.account.intern(accountID)] = suspended
}

// addRevoked adds tokenID to the revoked tokens of the key with clientID, for a revocation
// that this process has stored, so that the token is refused before Sync reads the change
// back. A key that the view does not hold is left out, because its tokens fail anyway.
func (v *keyView) addRevoked(clientID, tokenID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st, extra, ok := v.lookup(clientID)
	if !ok {
		return
	}
	// A keyExtra is immutable once built, so the key gets a changed copy.
	next := &keyExtra{}
	if extra != nil {
		*next = *extra
	}
	next.revoked = make(map[string]bool, len(next.revoked)+1)
	if extra != nil {
		for id := range extra.revoked {
			next.revoked[id] = true
		}
	}
	next.revoked[tokenID] = true
	st.hasExtra = true
	v.set(clientID, st, next)
}

// lookup returns a key's state and extra. The caller holds mu.
func (v *keyView) lookup(clientID string) (keyState, *keyExtra, bool) {
	if id, canonical := parseKeyID(clientID); canonical {
		st, ok := v.keys[id]
		return st, v.extras[id], ok
	}
	odd, ok := v.odd[clientID]
	return odd.state, odd.extra, ok
}

// set stores a key's state, marked as current. The caller holds mu.
func (v *keyView) set(clientID string, st keyState, extra *keyExtra) {
	st.mark = v.mark
	id, canonical := parseKeyID(clientID)
	if !canonical {
		if v.odd == nil {
			v.odd = make(map[string]oddKey)
		}
		v.odd[clientID] = oddKey{state: st, extra: extra}
		return
	}
	v.keys[id] = st
	if extra != nil {
		v.extras[id] = extra
	} else {
		delete(v.extras, id)
	}
}

// remove drops a deleted key from the view and remembers its account and secret hashes in
// v.deleted. A key that the view does not hold leaves v.deleted as it is.
func (v *keyView) remove(clientID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if id, canonical := parseKeyID(clientID); canonical {
		if st, ok := v.keys[id]; ok {
			v.deleted.add(id, st, v.extras[id])
		}
		delete(v.keys, id)
		delete(v.extras, id)
		return
	}
	if odd, ok := v.odd[clientID]; ok {
		v.deleted.addOdd(clientID, odd.state, odd.extra)
	}
	delete(v.odd, clientID)
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
	return len(v.keys) + len(v.odd)
}

// viewReload brings a keyView up to date with a full load of the store, in place: it
// stores every key it is given, marked as seen, and at the end removes the keys it was not
// given. Building a second view and swapping it in would hold two views of a million keys
// at once, twice the memory.
type viewReload struct {
	view    *keyView
	revoked map[string][]*iogate.RevokedToken
	pending []reloadedKey
	added   int
}

// reloadedKey is a key read by a reload, waiting to be stored with the next batch.
type reloadedKey struct {
	clientID, accountID string
	state               keyState
	extra               *keyExtra
}

// reloadBatch is how many keys a reload stores under one acquisition of the view's lock.
const reloadBatch = 1024

// collectEvery is how many keys a reload reads between garbage collections it starts
// itself. Reading a key from the store leaves about 200 bytes of garbage (the driver's
// strings and byte slices), and with the view of a million keys live the collector would
// let that garbage grow to the size of the view before collecting it. The view's map holds
// no pointers, so each collection is cheap.
const collectEvery = 200_000

// beginReload starts a reload with the accounts' suspensions and the revoked tokens as the
// store holds them now. Keys that this process writes during the reload count as seen.
func (v *keyView) beginReload(revoked map[string][]*iogate.RevokedToken, suspended map[string]bool) *viewReload {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.mark++
	for i, id := range v.account.ids {
		v.account.suspended[i] = suspended[id]
	}
	for id := range suspended {
		v.account.suspended[v.account.intern(id)] = true
	}
	return &viewReload{view: v, revoked: revoked, pending: make([]reloadedKey, 0, reloadBatch)}
}

// add stores the key a. It keeps nothing that a points to other than strings and slices.
func (r *viewReload) add(a *iogate.APIKeyAuth) {
	st, extra := newKeyState(a, 0, revokedSet(r.revoked[a.ClientID]))
	r.pending = append(r.pending, reloadedKey{clientID: a.ClientID, accountID: a.AccountID, state: st, extra: extra})
	if len(r.pending) == reloadBatch {
		r.flush()
	}
	r.added++
	if r.added%collectEvery == 0 {
		runtime.GC()
	}
}

func (r *viewReload) flush() {
	v := r.view
	v.mu.Lock()
	for _, k := range r.pending {
		k.state.account = v.account.intern(k.accountID)
		v.set(k.clientID, k.state, k.extra)
	}
	v.mu.Unlock()
	clear(r.pending)
	r.pending = r.pending[:0]
}

// finish stores the last keys, removes every key that the reload was not given (the store
// no longer has it, so it was deleted) and records that the view is current as of change
// seq. Until finish, a key deleted from the store stays in the view, as it would have
// without the reload.
func (r *viewReload) finish(seq int64) {
	r.flush()
	v := r.view
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, st := range v.keys {
		if st.mark != v.mark {
			v.deleted.add(id, st, v.extras[id])
			delete(v.keys, id)
		}
	}
	for id := range v.extras {
		if _, ok := v.keys[id]; !ok {
			delete(v.extras, id)
		}
	}
	for id, k := range v.odd {
		if k.state.mark != v.mark {
			v.deleted.addOdd(id, k.state, k.extra)
			delete(v.odd, id)
		}
	}
	v.lastSeq = seq
}

// newKeyState returns the state of the key a, in account, with the revoked token IDs
// given, and its extra when it needs one.
func newKeyState(a *iogate.APIKeyAuth, account uint32, revoked map[string]bool) (keyState, *keyExtra) {
	st := keyState{current: a.SecretHash, currentG: int64(a.SecretGeneration), account: account}
	if !a.ExpiresAt.IsZero() {
		st.expiresAt = a.ExpiresAt.UnixNano()
	}
	set, scopesOK := newScopeSet(a.Scopes)
	st.scopes = set
	if scopesOK && len(a.AllowedIPs) == 0 && a.Previous == nil && revoked == nil {
		return st, nil
	}

	// Only the few keys with something more get a keyExtra, so that loading a million
	// plain keys allocates nothing per key here.
	extra := &keyExtra{revoked: revoked}
	if len(a.AllowedIPs) > 0 {
		extra.allowed = slices.Clone(a.AllowedIPs)
	}
	if p := a.Previous; p != nil {
		extra.previous = &iogate.PreviousSecret{Hash: p.Hash, Generation: p.Generation, ExpiresAt: p.ExpiresAt}
	}
	if !scopesOK {
		extra.scopes = slices.Clone(a.Scopes)
	}
	st.hasExtra = true
	return st, extra
}

func revokedSet(revoked []*iogate.RevokedToken) map[string]bool {
	if len(revoked) == 0 {
		return nil
	}
	set := make(map[string]bool, len(revoked))
	for _, t := range revoked {
		set[t.TokenID] = true
	}
	return set
}

// intern returns the index of accountID, adding it when it is new.
func (t *accountTable) intern(accountID string) uint32 {
	i, _ := t.internNew(accountID)
	return i
}

// internNew returns the index of accountID and whether it was added now.
func (t *accountTable) internNew(accountID string) (uint32, bool) {
	if i, ok := t.index[accountID]; ok {
		return i, false
	}
	if t.index == nil {
		t.index = make(map[string]uint32)
	}
	i := uint32(len(t.ids))
	t.ids = append(t.ids, accountID)
	t.suspended = append(t.suspended, false)
	t.index[accountID] = i
	return i, true
}

// parseKeyID parses a client ID in the canonical form that iogate.ValidClientID accepts:
// 36 characters, lower-case hexadecimal digits with hyphens after the 8th, 12th, 16th and
// 20th digit. It returns false for anything else.
func parseKeyID(s string) (keyID, bool) {
	var id keyID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, lo := hexDigits[s[i]], hexDigits[s[i+1]]
		if hi > 15 || lo > 15 {
			return id, false
		}
		id[j] = hi<<4 | lo
		j++
	}
	return id, true
}

// hexDigits maps the lower-case hexadecimal digits to their values and every other byte
// to 0xff.
var hexDigits = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

func (k *key) expired(now time.Time) bool {
	return k.state.expiresAt != 0 && now.UnixNano() >= k.state.expiresAt
}

// expiresAt returns the key's expiry, or the zero time when it does not expire.
func (k *key) expiresAt() time.Time {
	if k.state.expiresAt == 0 {
		return time.Time{}
	}
	return time.Unix(0, k.state.expiresAt)
}

// generationValid reports whether tokens minted with secret generation g may be used at
// now: the current secret's always, the previous secret's only until its grace ends.
func (k *key) generationValid(g int, now time.Time) bool {
	if int64(g) == k.state.currentG {
		return true
	}
	p := k.previous()
	return p != nil && g == p.Generation && now.Before(p.ExpiresAt)
}

func (k *key) previous() *iogate.PreviousSecret {
	if k.extra == nil {
		return nil
	}
	return k.extra.previous
}

// allowed returns the key's IP allowlist; empty means every address.
func (k *key) allowed() []netip.Prefix {
	if k.extra == nil {
		return nil
	}
	return k.extra.allowed
}

func (k *key) revoked(tokenID string) bool {
	return k.extra != nil && k.extra.revoked[tokenID]
}

// scopes returns the key's scopes. The slice may be shared: do not modify it.
func (k *key) scopes() []string {
	if k.extra != nil && k.extra.scopes != nil {
		return k.extra.scopes
	}
	return k.state.scopes.list()
}

// allowsScopes reports whether every scope of a token, given as the set and list that
// tokenScopes returns, is one of the key's.
func (k *key) allowsScopes(set scopeSet, known bool, list []string) bool {
	if k.extra != nil && k.extra.scopes != nil || !known {
		return iogate.ScopeSubset(list, k.scopes())
	}
	return set&^k.state.scopes == 0
}
