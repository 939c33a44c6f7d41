package auth

// deletedKeys remembers the account of each key deleted from the store, so that a token
// request for a deleted key can be recorded in that account's audit log although the key
// has left the view. It is keyed like the view: canonical client IDs by their 16 bytes, and
// others by their text. The values index the view's accountTable.
type deletedKeys struct {
	ids map[keyID]uint32
	odd map[string]uint32
}

// maxDeletedKeys bounds how many deleted keys each map of deletedKeys holds. For canonical
// client IDs that is 45 MB of heap, as measured with Go 1.26 on amd64.
// Beyond it, remembering one more drops an arbitrary other, whose token requests then go
// unrecorded, as those of an unknown client ID do.
const maxDeletedKeys = 1 << 20

func (d *deletedKeys) add(id keyID, account uint32) { remember(&d.ids, id, account) }

func (d *deletedKeys) addOdd(clientID string, account uint32) { remember(&d.odd, clientID, account) }

// remember stores account under key in *m, creating the map on first use. When the map
// holds maxDeletedKeys entries and key is new, it first deletes whichever entry the map's
// iteration yields first.
func remember[K comparable](m *map[K]uint32, key K, account uint32) {
	if *m == nil {
		*m = make(map[K]uint32)
	}
	if _, ok := (*m)[key]; !ok && len(*m) >= maxDeletedKeys {
		for k := range *m {
			delete(*m, k)
			break
		}
	}
	(*m)[key] = account
}

// markDeleted remembers that the key clientID of the account at index account was
// deleted. The caller holds mu.
func (v *keyView) markDeleted(clientID string, account uint32) {
	if id, canonical := parseKeyID(clientID); canonical {
		v.deleted.add(id, account)
		return
	}
	v.deleted.addOdd(clientID, account)
}

// addDeleted remembers that the key clientID of accountID was deleted, for the keys that
// were deleted before this process loaded the view.
func (v *keyView) addDeleted(clientID, accountID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.markDeleted(clientID, v.account.intern(accountID))
}

// deletedAccount returns the account of the deleted key clientID, or false when the view
// holds no such deletion. A client ID that names a key in the view may still have an
// entry from an earlier deletion, so callers ask only after get found no key.
func (v *keyView) deletedAccount(clientID string) (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var account uint32
	var ok bool
	if id, canonical := parseKeyID(clientID); canonical {
		account, ok = v.deleted.ids[id]
	} else {
		account, ok = v.deleted.odd[clientID]
	}
	if !ok {
		return "", false
	}
	return v.account.ids[account], true
}
