package iogate

// SigningKeyLogID is the account ID of the audit log of the token-signing keys. Signing
// keys belong to no account, so their log is the chain of a reserved account that a
// migration creates. The stores hide that account: FindAccountByID and SetAccountStatus
// return CodeNotFound for it, and ListAccounts and CountAccounts leave it out. Keys,
// vaults and users therefore cannot be created in it. The ID is not a UUID, so no
// account created by iogate can have it.
const SigningKeyLogID = "signing-keys"

// Audit events of the signing-key log. Each record names the key it concerns in its
// details, with the key's KID, algorithm and schedule (activeAt and, once set, retiredAt).
const (
	// AuditSigningKeyCreated records a key that a server created because no key of its
	// configured algorithm could sign.
	AuditSigningKeyCreated = "signing_key.created"
	// AuditSigningKeyRotated records a key created by a rotation. Its details list the
	// keys that the rotation retires as "retired".
	AuditSigningKeyRotated = "signing_key.rotated"
	// AuditSigningKeyRetired records the retirement of one key, with its new retiredAt.
	AuditSigningKeyRetired = "signing_key.retired"
	// AuditSigningKeyRevoked records a revoked key with its schedule before the revocation
	// and, when a key took its place, that key as "replacement". The record's time is the
	// time of the revocation.
	AuditSigningKeyRevoked = "signing_key.revoked"
)

// SigningKeyAuditEvents lists the events of the signing-key log, for the filter of the
// CLI. An export of the log records AuditLogExported in it too.
var SigningKeyAuditEvents = []string{
	AuditSigningKeyCreated, AuditSigningKeyRotated, AuditSigningKeyRetired, AuditSigningKeyRevoked, AuditLogExported,
}

// SigningKeyChange is the outcome of one change of the signing keys, as the store finds it
// inside the change's transaction. A SigningKeyRecorder builds the change's audit records
// from it.
type SigningKeyChange struct {
	// Event is one of the AuditSigningKey* events.
	Event string
	// Key is the created, rotated-in or revoked key, or nil for a retirement.
	Key *SigningKey
	// Retired holds the keys that the change retires, with their new RetiredAt.
	Retired []*SigningKey
	// Replacement is the key that took a revoked key's place, or nil.
	Replacement *SigningKey
}

// SigningKeyRecorder returns the audit records of change. Stores call it inside the
// change's transaction and append what it returns in that transaction, so that no change
// commits without its records. It must not block, because the store holds its write lock.
type SigningKeyRecorder func(change SigningKeyChange) ([]*AuditRecord, error)

// RecordSigningKeyChange calls record for change and returns its records. It returns a
// CodeInternal error when record is nil, returns no record, or returns a record of another
// log or event, so that stores never commit a change without its records.
func RecordSigningKeyChange(record SigningKeyRecorder, change SigningKeyChange) ([]*AuditRecord, error) {
	if record == nil {
		return nil, Errorf(CodeInternal, "missing recorder of %s audit records", change.Event)
	}
	records, err := record(change)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, Errorf(CodeInternal, "missing %s audit record", change.Event)
	}
	for _, r := range records {
		if err := CheckChangeRecord(r, SigningKeyLogID, change.Event); err != nil {
			return nil, err
		}
	}
	return records, nil
}
