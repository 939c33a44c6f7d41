package iogate

import "time"

// Vault statuses.
const (
	VaultActive = "active"
)

// MaxVaultThreshold bounds a vault's signing threshold.
const MaxVaultThreshold = 100

// MaxIdempotencyKeyLength is the maximum length, in bytes, of the idempotency key of a
// vault creation.
const MaxIdempotencyKeyLength = 255

// ValidateIdempotencyKey returns CodeInvalid unless key can be the idempotency key of a
// vault creation: 1 to MaxIdempotencyKeyLength printable ASCII characters (0x20 to 0x7E,
// space included). The message names the key by label, such as "idempotency key", and
// quotes it with QuoteInput. Keys are compared byte for byte, so letter case matters.
func ValidateIdempotencyKey(label, key string) error {
	valid := key != "" && len(key) <= MaxIdempotencyKeyLength
	for i := 0; valid && i < len(key); i++ {
		valid = key[i] >= 0x20 && key[i] <= 0x7e
	}
	if !valid {
		return Errorf(CodeInvalid, "invalid %s %s: expected 1 to %d printable ASCII characters", label, QuoteInput(key), MaxIdempotencyKeyLength)
	}
	return nil
}

// Vault is an MPC wallet of an account. Threshold is how many signers must take part in
// a signature.
type Vault struct {
	ID        string    `json:"id"`
	AccountID string    `json:"-"`
	Name      string    `json:"name"`
	Threshold int       `json:"threshold"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Validate checks the fields a caller supplies.
func (v *Vault) Validate() error {
	if err := validateName("vault name", v.Name); err != nil {
		return err
	}
	if v.Threshold < 1 || v.Threshold > MaxVaultThreshold {
		return Errorf(CodeInvalid, "invalid threshold %d: expected a number of signers from 1 to %d", v.Threshold, MaxVaultThreshold)
	}
	return nil
}

// NewVaultCreatedRecord returns the AuditVaultCreated record of v by actor, at v's
// creation time, for Store.CreateVault. A client actor is the record's ClientID too.
func (c *AuditChain) NewVaultCreatedRecord(v *Vault, actor Actor) (*AuditRecord, error) {
	r, err := c.NewRecord(v.AccountID, AuditVaultCreated, actor, v.CreatedAt, map[string]any{"vaultId": v.ID, "name": v.Name, "threshold": v.Threshold})
	if err != nil {
		return nil, err
	}
	if actor.Type == ActorClient {
		r.ClientID = actor.ID
	}
	return r, nil
}
