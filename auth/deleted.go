package auth

import "github.com/iogate/iogate"

// deletedKeys remembers the keys deleted from the store. It stores the account of each, so
// that a token request for a deleted key can be recorded in that account's audit log
// although the key has left the view. It also stores the hashes of the key's secrets at
// its deletion, so that a client still sending the key's former secret is distinguished
// from someone who has only the client ID. It is keyed like the view: canonical client IDs by
// their 16 bytes, and others by their text.
type deletedKeys struct {
	ids deletedSet[keyID]
	odd deletedSet[string]
}

// deletedSet holds the deleted keys of one kind of client ID.
type deletedSet[K comparable] struct {
	keys map[K]deletedKey
	// previous holds the hash of the secret that the last rotation replaced, for the keys
	// in keys that had one when deleted. Most keys have none, so a second map costs less
	// memory than a second hash in every deletedKey.
	previous map[K]iogate.SecretHash
}

// deletedKey is the state of one deleted key.
type deletedKey struct {
	// account indexes the view's accountTable.
	account uint32
	// current is the hash of the key's current secret when it was deleted. It is zero for
	// a deletion that the view loaded from a store that kept no hashes of it: deletions
	// older than the tombstones' hash columns.
	current iogate.SecretHash
}

// formerSecrets holds the hashes of the secrets that a deleted key had when it was deleted.
// A zero hash means no secret. No secret hashes to zero in practice, because HMAC-SHA-256
// returns all zero bytes with probability 2^-256.
type formerSecrets struct {
	current, previous iogate.SecretHash
}

// maxDeletedKeys bounds how many deleted keys each deletedSet of deletedKeys holds. For
// canonical client IDs that is 118 MB of heap when no key had a previous secret, and
// 235 MB when every key had one, as BenchmarkDeletedKeysHeap measured with Go 1.26 on
// amd64.
// Beyond it, remembering one more drops an arbitrary other, whose token requests then go
// unrecorded and count as failed authentications, as those of an unknown client ID do.
const maxDeletedKeys = 1 << 20

// add remembers the deleted key id with its state st and extra.
func (d *deletedKeys) add(id keyID, st keyState, extra *keyExtra) {
	d.ids.remember(id, st, extra)
}

// addOdd remembers the deleted key clientID, which is not in canonical form, with its
// state st and extra.
func (d *deletedKeys) addOdd(clientID string, st keyState, extra *keyExtra) {
	d.odd.remember(clientID, st, extra)
}

// remember stores the deletion of the key with state st and extra under key, creating the
// maps on first use.
func (s *deletedSet[K]) remember(key K, st keyState, extra *keyExtra) {
	secrets := formerSecrets{current: st.current}
	if extra != nil && extra.previous != nil {
		secrets.previous = extra.previous.Hash
	}
	s.rememberSecrets(key, st.account, secrets)
}

// rememberLoaded stores the deletion of key from account, with the secret hashes that the
// store returned. A deletion that the store returned without hashes does not replace an
// entry for the same account, which keeps its hashes, because this process may have
// stored them when it saw the deletion itself.
func (s *deletedSet[K]) rememberLoaded(key K, account uint32, secrets formerSecrets) {
	if d, ok := s.keys[key]; ok && d.account == account && secrets == (formerSecrets{}) {
		return
	}
	s.rememberSecrets(key, account, secrets)
}

// rememberSecrets stores the deletion of key from account with the hashes of its former
// secrets, keeping a previous secret's hash in the side map only when there is one.
func (s *deletedSet[K]) rememberSecrets(key K, account uint32, secrets formerSecrets) {
	s.store(key, deletedKey{account: account, current: secrets.current})
	if secrets.previous != (iogate.SecretHash{}) {
		if s.previous == nil {
			s.previous = make(map[K]iogate.SecretHash)
		}
		s.previous[key] = secrets.previous
	}
}

// store replaces the entry of key with d and deletes key's previous secret. When the set
// holds maxDeletedKeys entries and key is new, it first deletes whichever entry the map's
// iteration yields first.
func (s *deletedSet[K]) store(key K, d deletedKey) {
	if s.keys == nil {
		s.keys = make(map[K]deletedKey)
	}
	if _, ok := s.keys[key]; !ok && len(s.keys) >= maxDeletedKeys {
		for k := range s.keys {
			delete(s.keys, k)
			delete(s.previous, k)
			break
		}
	}
	s.keys[key] = d
	delete(s.previous, key)
}

// get returns the deletion of key and the hashes of its secrets.
func (s *deletedSet[K]) get(key K) (uint32, formerSecrets, bool) {
	d, ok := s.keys[key]
	if !ok {
		return 0, formerSecrets{}, false
	}
	return d.account, formerSecrets{current: d.current, previous: s.previous[key]}, true
}

// addDeleted remembers the deleted key k with the hashes of its former secrets that the
// store returned, for the keys that were deleted before this process loaded the view.
func (v *keyView) addDeleted(k iogate.DeletedAPIKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	account := v.account.intern(k.AccountID)
	secrets := formerSecrets{current: k.SecretHash, previous: k.PreviousHash}
	if id, canonical := parseKeyID(k.ClientID); canonical {
		v.deleted.ids.rememberLoaded(id, account, secrets)
		return
	}
	v.deleted.odd.rememberLoaded(k.ClientID, account, secrets)
}

// lookupDeleted returns the account and the former secrets of the deleted key clientID,
// or false when the view holds no such deletion. A client ID that names a key in the
// view may still have an entry from an earlier deletion, so callers ask only after get
// found no key.
func (v *keyView) lookupDeleted(clientID string) (string, formerSecrets, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var account uint32
	var secrets formerSecrets
	var ok bool
	if id, canonical := parseKeyID(clientID); canonical {
		account, secrets, ok = v.deleted.ids.get(id)
	} else {
		account, secrets, ok = v.deleted.odd.get(clientID)
	}
	if !ok {
		return "", formerSecrets{}, false
	}
	return v.account.ids[account], secrets, true
}

// deletedAccount returns the account of the deleted key clientID, or false when the view
// holds no such deletion. Like lookupDeleted, callers ask only after get found no key.
func (v *keyView) deletedAccount(clientID string) (string, bool) {
	account, _, ok := v.lookupDeleted(clientID)
	return account, ok
}
