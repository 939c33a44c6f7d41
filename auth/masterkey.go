package auth

import (
	"context"
	"fmt"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// RotateMasterKey re-encrypts under next every value that the store holds encrypted under
// current: the sealed secrets, such as the pepper of the client secret hashes, the
// signing keys' private keys and the dashboard users' TOTP seeds. It works in one store transaction, so it changes nothing when
// any value fails to decrypt (iogate.ErrWrongMasterKey) or a write fails. It returns how
// many values it re-encrypted.
//
// Running servers keep the values they decrypted at start, so they go on working; each
// must be restarted with next before it needs a value again, such as a new signing key.
func RotateMasterKey(ctx context.Context, store iogate.Store, current, next *iogate.MasterKey) (int, error) {
	return store.ResealSecrets(ctx, func(v iogate.SealedValue) ([]byte, error) {
		var name string
		switch v.Kind {
		case iogate.SealedKindSecret:
			name = v.Name
		case iogate.SealedKindSigningKey:
			name = token.SealedName(v.Name)
		case iogate.SealedKindTOTPSeed:
			name = iogate.TOTPSealName(v.Name)
		default:
			return nil, fmt.Errorf("sealed value %s of unknown kind %q", v.Name, v.Kind)
		}
		plain, err := current.Open(name, v.Sealed)
		if err != nil {
			return nil, err
		}
		return next.Seal(name, plain)
	})
}

// HoldsSealedSecrets reports whether store holds the pepper of the client secret hashes,
// which New seals under the master key before anything else. A store that holds it was
// set up under a master key, and a new random key would not decrypt it.
func HoldsSealedSecrets(ctx context.Context, store iogate.Store) (bool, error) {
	_, err := store.SealedSecret(ctx, pepperName)
	switch {
	case err == nil:
		return true, nil
	case iogate.ErrorCodeOf(err) == iogate.CodeNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("look up %s: %w", pepperName, err)
	}
}
