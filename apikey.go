package iogate

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// APIKey is a client credential: a client ID and a secret, stored only as a keyed hash.
// A key has at most two valid secrets: the current one and, during a rotation's grace
// period, the previous one. Each secret has a generation number that access tokens carry,
// so that tokens minted with a retired secret stop working when it retires.
type APIKey struct {
	ClientID    string
	AccountID   string
	Name        string
	Description string
	Scopes      []string
	AllowedIPs  []netip.Prefix
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time

	SecretHash       SecretHash
	SecretGeneration int
	SecretCreatedAt  time.Time

	// Previous is the secret replaced by the last rotation, or nil when the key was never
	// rotated. It stays after its grace period has ended, until the next rotation, so that
	// a client still sending it is distinguished from a guess.
	Previous *PreviousSecret

	LastUsedAt time.Time
	LastUsedIP string
	// Exposed is set when a valid secret or token of the key arrived over plain HTTP, at
	// ExposedAt. ExposedGeneration is the newest secret generation exposed that way (a
	// token counts for the generation that minted it). An exposure that arrives after
	// the exposed secret retired starts a new record with its own time. The fields stay
	// after the exposed secret retires: ExposedSecretValid reports whether it still works.
	Exposed           bool
	ExposedAt         time.Time
	ExposedGeneration int
}

// PreviousSecret is a secret that a rotation replaced and that stays valid until ExpiresAt,
// which equals RotatedAt for a rotation without grace period.
type PreviousSecret struct {
	Hash       SecretHash
	Generation int
	RotatedAt  time.Time
	// ExpiresAt is the end of the rotation's grace period. It is zero after a rotation
	// without one, whose secret is kept only to recognise it and never authenticates.
	ExpiresAt time.Time
	// LastUsedAt is when the previous secret last authenticated after the rotation, or zero.
	LastUsedAt time.Time
}

// APIKeyAuth is the part of an API key that authentication reads: what
// Store.AllAPIKeyAuth passes when a server loads every key into memory.
type APIKeyAuth struct {
	ClientID  string
	AccountID string
	// Scopes may be shared between keys: do not modify it.
	Scopes     []string
	AllowedIPs []netip.Prefix
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt        time.Time
	SecretHash       SecretHash
	SecretGeneration int
	// Previous holds the Hash, Generation and ExpiresAt of the previous secret, or is nil.
	Previous *PreviousSecret
}

// Auth returns the part of k that authentication reads.
func (k *APIKey) Auth() *APIKeyAuth {
	a := &APIKeyAuth{
		ClientID:         k.ClientID,
		AccountID:        k.AccountID,
		Scopes:           k.Scopes,
		AllowedIPs:       k.AllowedIPs,
		ExpiresAt:        k.ExpiresAt,
		SecretHash:       k.SecretHash,
		SecretGeneration: k.SecretGeneration,
	}
	if p := k.Previous; p != nil {
		a.Previous = &PreviousSecret{Hash: p.Hash, Generation: p.Generation, ExpiresAt: p.ExpiresAt}
	}
	return a
}

// DeletedAPIKey is a deleted key as Store.DeletedAPIKeys returns it: its client ID and
// account, when it was deleted, and the keyed hashes of the secrets that it had then.
type DeletedAPIKey struct {
	ClientID  string
	AccountID string
	// DeletedAt is the time of the deletion's key.deleted record.
	DeletedAt time.Time
	// SecretHash is the hash of the key's current secret. It is zero when the store holds
	// no hashes of the deletion, as for deletions stored before the store kept them.
	SecretHash SecretHash
	// PreviousHash is the hash of the secret that the key's last rotation replaced, or zero
	// when the key was never rotated or the store holds no hashes of the deletion.
	PreviousHash SecretHash
}

// SetSecretHashes sets k.SecretHash and k.PreviousHash from the stored bytes current and
// previous. A nil or empty value leaves its hash zero. It returns an error when a value
// has another length than a SecretHash.
func (k *DeletedAPIKey) SetSecretHashes(current, previous []byte) error {
	for _, h := range []struct {
		dst  *SecretHash
		src  []byte
		name string
	}{{&k.SecretHash, current, "secret hash"}, {&k.PreviousHash, previous, "previous secret hash"}} {
		switch len(h.src) {
		case 0:
			*h.dst = SecretHash{}
		case len(h.dst):
			copy(h.dst[:], h.src)
		default:
			return fmt.Errorf("deleted key %s: stored %s has %d bytes, want %d", k.ClientID, h.name, len(h.src), len(h.dst))
		}
	}
	return nil
}

// ErrDeletedClientID is the error of Store.CreateAPIKey for a client ID that belonged to a
// deleted key of the same account. Access tokens carry the client ID, the account and the
// secret generation, which starts at 1 again, so the deleted key's unexpired tokens, revoked
// ones included, would pass verification against the new key.
var ErrDeletedClientID = Errorf(CodeConflict, "the client ID belonged to a deleted key of this account: use a new client ID")

// NewClientID returns a random UUID for a new key.
func NewClientID() string { return uuid.NewString() }

// NewID returns a time-ordered UUID (version 7) for accounts, vaults and other records, so
// that ordering by ID is ordering by creation.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidClientID reports whether id has the shape of a client ID: a UUID in its canonical
// lower-case 36-character form.
func ValidClientID(id string) bool {
	return validUUID(id)
}

func validUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// ValidateKeyName checks a new or changed key name. An update that keeps the stored name
// does not check it again, so that a name stored before a character was disallowed does
// not block other changes to its key.
func ValidateKeyName(name string) error {
	return validateName("key name", name)
}

// ValidateKeyDescription checks a new or changed key description, as ValidateKeyName
// checks names.
func ValidateKeyDescription(description string) error {
	return validateText("key description", description, MaxDescriptionLength)
}

// Validate checks the fields a caller supplies.
func (k *APIKey) Validate() error {
	if err := ValidateKeyName(k.Name); err != nil {
		return err
	}
	if err := ValidateKeyDescription(k.Description); err != nil {
		return err
	}
	scopes, err := ValidateScopes(k.Scopes)
	if err != nil {
		return err
	}
	k.Scopes = scopes
	if len(k.AllowedIPs) > MaxAllowedIPs {
		return Errorf(CodeInvalid, "too many allowed IPs: %d given, at most %d", len(k.AllowedIPs), MaxAllowedIPs)
	}
	return nil
}

// ExposedSecretValid reports whether the secret recorded as exposed still authenticates at
// now: as the current secret, or as the previous one until the rotation's grace period
// ends. Generations retire oldest first, so older exposed secrets have retired by the time
// ExposedGeneration does. An exposure without a generation, written by an iogate older
// than the field, counts as one of the current secret. The key's own expiry does not end
// an exposure, because a later update may extend it.
func (k *APIKey) ExposedSecretValid(now time.Time) bool {
	if !k.Exposed {
		return false
	}
	g := k.ExposedGeneration
	if g == 0 || g == k.SecretGeneration {
		return true
	}
	p := k.Previous
	return p != nil && g == p.Generation && now.Before(p.ExpiresAt)
}

// Expired reports whether the key has an expiry time at or before now.
func (k *APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// APIKeyView is the JSON form of a key for the CLI and the API. It never holds a secret.
type APIKeyView struct {
	ClientID         string     `json:"clientId"`
	AccountID        string     `json:"accountId"`
	Name             string     `json:"name"`
	Description      string     `json:"description"`
	Scopes           []string   `json:"scopes"`
	AllowedIPs       []string   `json:"allowedIps"`
	CreatedAt        time.Time  `json:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt"`
	ExpiresAt        *time.Time `json:"expiresAt,omitempty"`
	SecretCreatedAt  time.Time  `json:"secretCreatedAt"`
	SecretGeneration int        `json:"secretGeneration"`
	LastUsedAt       *time.Time `json:"lastUsedAt,omitempty"`
	LastUsedIP       string     `json:"lastUsedIp,omitempty"`
	// Exposed is set while a secret of the key that arrived over plain HTTP, or whose
	// token did, still authenticates. ExposedAt is when it first arrived, and
	// ExposedGeneration is its secret generation. ExposedUntil is set when that secret is
	// the previous one of a rotation: it stops working at the end of the grace period.
	Exposed           bool          `json:"exposed"`
	ExposedAt         *time.Time    `json:"exposedAt,omitempty"`
	ExposedGeneration int           `json:"exposedGeneration,omitempty"`
	ExposedUntil      *time.Time    `json:"exposedUntil,omitempty"`
	Rotation          *RotationView `json:"rotation,omitempty"`
}

// RotationView describes the previous secret while its grace period lasts.
type RotationView struct {
	RotatedAt                 time.Time  `json:"rotatedAt"`
	PreviousExpiresAt         time.Time  `json:"previousExpiresAt"`
	PreviousUsedSinceRotation bool       `json:"previousUsedSinceRotation"`
	PreviousLastUsedAt        *time.Time `json:"previousLastUsedAt,omitempty"`
}

// View returns the key's JSON form as of now. A previous secret whose grace has ended is
// not shown.
func (k *APIKey) View(now time.Time) APIKeyView {
	v := APIKeyView{
		ClientID:         k.ClientID,
		AccountID:        k.AccountID,
		Name:             k.Name,
		Description:      k.Description,
		Scopes:           k.Scopes,
		AllowedIPs:       FormatAllowedIPs(k.AllowedIPs),
		CreatedAt:        k.CreatedAt,
		UpdatedAt:        k.UpdatedAt,
		SecretCreatedAt:  k.SecretCreatedAt,
		SecretGeneration: k.SecretGeneration,
		LastUsedIP:       k.LastUsedIP,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	v.ExpiresAt = timePtr(k.ExpiresAt)
	v.LastUsedAt = timePtr(k.LastUsedAt)
	k.viewExposure(&v, now)
	if p := k.Previous; p != nil && now.Before(p.ExpiresAt) {
		v.Rotation = &RotationView{
			RotatedAt:         p.RotatedAt,
			PreviousExpiresAt: p.ExpiresAt,
		}
		if !p.LastUsedAt.IsZero() && !p.LastUsedAt.Before(p.RotatedAt) {
			v.Rotation.PreviousUsedSinceRotation = true
			v.Rotation.PreviousLastUsedAt = timePtr(p.LastUsedAt)
		}
	}
	return v
}

// viewExposure fills in the exposure fields of v while the exposed secret still
// authenticates at now, and leaves them empty once it has retired.
func (k *APIKey) viewExposure(v *APIKeyView, now time.Time) {
	if !k.ExposedSecretValid(now) {
		return
	}
	v.Exposed = true
	v.ExposedAt = timePtr(k.ExposedAt)
	v.ExposedGeneration = k.ExposedGeneration
	if p := k.Previous; p != nil && k.ExposedGeneration == p.Generation {
		v.ExposedUntil = timePtr(p.ExpiresAt)
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
