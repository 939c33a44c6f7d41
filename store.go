package iogate

import (
	"context"
	"time"
)

// Page selects one page of a list: at most Limit items after the opaque Cursor.
type Page struct {
	Limit  int
	Cursor string
}

// Default and maximum list page sizes of the API.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// KeyChange announces that the key with ClientID was created, changed or deleted. Seq
// increases with every change; a reader that has applied changes up to Seq asks for the
// ones after it.
type KeyChange struct {
	Seq      int64
	ClientID string
}

// SigningKey is a token-signing key pair. The private key is stored encrypted under the
// master key; PublicJWK is the public half as a JSON Web Key, published at the JWKS
// endpoint.
type SigningKey struct {
	KID                 string
	Algorithm           string
	PrivateKeyEncrypted []byte
	PublicJWK           []byte
	CreatedAt           time.Time
	// ActiveAt is when the key starts signing; it is published before then so that
	// verifiers know it before they see tokens it signed.
	ActiveAt time.Time
	// RetiredAt is zero while the key may sign. A retired key stays published until
	// tokens it signed have expired.
	RetiredAt time.Time
}

// Store persists iogate's state. Implementations map driver conditions to domain error
// codes: a missing row is CodeNotFound, a unique violation CodeConflict, an unreachable
// database CodeUnavailable. Every method is safe for concurrent use.
type Store interface {
	// CreateAccount inserts a new account.
	CreateAccount(ctx context.Context, a *Account) error
	// FindAccountByID returns the account, or CodeNotFound.
	FindAccountByID(ctx context.Context, id string) (*Account, error)
	// CountAccounts returns how many accounts exist.
	CountAccounts(ctx context.Context) (int, error)

	// CreateAPIKey inserts a new key and records a key change.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKey returns the key, or CodeNotFound.
	FindAPIKey(ctx context.Context, clientID string) (*APIKey, error)
	// ListAPIKeys returns one page of an account's keys, oldest first, and the cursor of
	// the next page ("" on the last page).
	ListAPIKeys(ctx context.Context, accountID string, page Page) ([]*APIKey, string, error)
	// AllAPIKeys calls fn for every key in the store, for loading the in-memory view.
	AllAPIKeys(ctx context.Context, fn func(*APIKey) error) error
	// DeleteAPIKey deletes the key and records a key change, or returns CodeNotFound.
	DeleteAPIKey(ctx context.Context, clientID string) error
	// MarkAPIKeyExposed records that a valid credential of the key arrived in clear text,
	// and records a key change, or returns CodeNotFound. Marking a key that is already
	// exposed keeps the time of the first exposure.
	MarkAPIKeyExposed(ctx context.Context, clientID string) error
	// RecordKeyUse stores when and from where keys last authenticated, for keys that
	// still exist. It is called in batches, off the request path.
	RecordKeyUse(ctx context.Context, uses []KeyUse) error

	// KeyChangesSince returns the changes with a sequence number above seq, in order.
	KeyChangesSince(ctx context.Context, seq int64) ([]KeyChange, error)
	// LatestKeyChange returns the highest change sequence number, or 0.
	LatestKeyChange(ctx context.Context) (int64, error)

	// CreateVault inserts a new vault.
	CreateVault(ctx context.Context, v *Vault) error
	// FindVault returns the account's vault, or CodeNotFound, also when the vault belongs
	// to another account.
	FindVault(ctx context.Context, accountID, id string) (*Vault, error)
	// ListVaults returns one page of an account's vaults, oldest first, and the cursor of
	// the next page.
	ListVaults(ctx context.Context, accountID string, page Page) ([]*Vault, string, error)

	// SealedSecret returns a server secret encrypted under the master key, or CodeNotFound.
	SealedSecret(ctx context.Context, name string) ([]byte, error)
	// PutSealedSecretIfAbsent stores a server secret unless one with that name exists, and
	// returns the value that is stored afterwards, so that concurrent starts agree.
	PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error)

	// SigningKeys returns every signing key, oldest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// CreateSigningKey inserts a new signing key.
	CreateSigningKey(ctx context.Context, k *SigningKey) error

	// Close releases the store's connections.
	Close() error
}

// KeyUse is one successful authentication of a key, for its last-used fields.
type KeyUse struct {
	ClientID   string
	Generation int
	At         time.Time
	IP         string
}
