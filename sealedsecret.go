package iogate

import (
	"context"
	"crypto/rand"
	"fmt"
)

// LoadOrCreateSealedSecret returns the server secret stored sealed under name, first
// storing a new random one of size bytes when there is none. When several processes start
// at once, all of them end up with the value that the store kept. It fails with
// ErrWrongMasterKey when master does not open the stored value.
func LoadOrCreateSealedSecret(ctx context.Context, store Store, master *MasterKey, name string, size int) ([]byte, error) {
	sealed, err := store.SealedSecret(ctx, name)
	if ErrorCodeOf(err) == CodeNotFound {
		fresh := make([]byte, size)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		newSealed, err := master.Seal(name, fresh)
		if err != nil {
			return nil, err
		}
		sealed, err = store.PutSealedSecretIfAbsent(ctx, name, newSealed)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return master.Open(name, sealed)
}
