package iogate

import (
	"context"
	"net/netip"
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

// KeyChange announces a change on the change feed. Its Kind names what changed:
//   - ChangeAPIKey: the key with ClientID was created, changed or deleted (its revoked
//     tokens included);
//   - ChangeSigningKeys: the signing keys changed;
//   - ChangeVaults: the vaults of AccountID changed;
//   - ChangeAddressUnblock: an operator lifted the blocks of the addresses in Address.
//
// Seq increases with every change; a reader that has applied changes up to Seq requests
// the ones after it.
type KeyChange struct {
	Seq      int64
	ClientID string
	Kind     string
	// AccountID is the account whose vaults changed, for ChangeVaults; empty otherwise.
	AccountID string
	// Address is the CIDR prefix, in canonical form, whose addresses an operator
	// unblocked, for ChangeAddressUnblock; empty otherwise.
	Address string
	// Operator is the operating-system user who ran "iogate address unblock", for
	// ChangeAddressUnblock; empty otherwise.
	Operator string
}

// Kinds of KeyChange.
const (
	// ChangeAPIKey is a change of the API key named by ClientID.
	ChangeAPIKey = "api_key"
	// ChangeSigningKeys is a change of the token-signing keys; ClientID is empty.
	ChangeSigningKeys = "signing_keys"
	// ChangeVaults is a change of the vaults of the account named by AccountID; ClientID
	// is empty. Servers that keep vaults in memory drop that account's copy.
	ChangeVaults = "vaults"
	// ChangeAddressUnblock is an operator's request to lift the block, the slowdown and the
	// failure count of the addresses in Address; ClientID is empty. Blocks live in each
	// server's memory, so each server applies it to its own.
	ChangeAddressUnblock = "address_unblock"
)

// RevokedToken is an access token revoked before its expiry. Tokens carry no row of their
// own, so a revocation is the only record of one; it can be dropped once ExpiresAt has
// passed, because the token fails its expiry check from then on.
type RevokedToken struct {
	TokenID   string
	ClientID  string
	ExpiresAt time.Time
	RevokedAt time.Time
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
	// RetiredAt is when the key stops signing, or zero while no successor is scheduled.
	// A retired key stays published until tokens it signed have expired.
	RetiredAt time.Time
}

// MaySign reports whether the key may sign tokens at now: from ActiveAt until RetiredAt.
func (k *SigningKey) MaySign(now time.Time) bool {
	return !now.Before(k.ActiveAt) && (k.RetiredAt.IsZero() || now.Before(k.RetiredAt))
}

// SelectSigningKeysToRetire returns the keys of alg that could still sign at or after at
// (signing or scheduled keys, and keys retired later than at), each with RetiredAt set to
// at, as the stores retire them. Servers configured with alg create a signing key of their
// own once none of alg signs, and no verifier has seen that key in the JWKS. So it returns
// CodeInvalid unless another algorithm takes over: its keys must sign at at and at every
// moment after it, without a gap between one key's retirement and the next key's
// activation. It returns CodeNotFound when no key of alg could sign at or after at.
func SelectSigningKeysToRetire(keys []*SigningKey, alg string, at time.Time) ([]*SigningKey, error) {
	retiring := RetiringSigningKeys(keys, alg, at)
	others := map[string][]*SigningKey{}
	for _, k := range keys {
		if k.Algorithm != alg {
			others[k.Algorithm] = append(others[k.Algorithm], k)
		}
	}
	if len(retiring) == 0 {
		return nil, Errorf(CodeNotFound, "no %s signing key signs or is scheduled at %s; nothing to retire", alg, at.Format(time.RFC3339))
	}
	for _, other := range others {
		if signsFrom(other, at) {
			return retiring, nil
		}
	}
	return nil, Errorf(CodeInvalid, "cannot retire the %s signing keys at %s: no other algorithm has keys that sign then and at every moment after, "+
		"so servers would create %s keys that verifiers have not seen; first run iogate signing-key rotate --algorithm with another algorithm",
		alg, at.Format(time.RFC3339), alg)
}

// RetiringSigningKeys returns the keys that a retirement or a rotation of alg at at
// retires. These are the keys of alg that could still sign at or after at (not retired, or
// retired later than at), copied with RetiredAt set to at.
func RetiringSigningKeys(keys []*SigningKey, alg string, at time.Time) []*SigningKey {
	var retiring []*SigningKey
	for _, k := range keys {
		if k.Algorithm == alg && (k.RetiredAt.IsZero() || k.RetiredAt.After(at)) {
			retired := *k
			retired.RetiredAt = at
			retiring = append(retiring, &retired)
		}
	}
	return retiring
}

// signsFrom reports whether some key of keys signs at every moment from at onward. It
// follows the signing periods from at: while a key that signs at the current moment has
// a retirement, it moves to the latest such retirement, and it succeeds on reaching a key
// that is not retired.
func signsFrom(keys []*SigningKey, at time.Time) bool {
	return signsBetween(keys, at, time.Time{})
}

// signsBetween reports whether some key of keys signs at every moment from start until end,
// or from start onward when end is zero, following the signing periods as signsFrom does.
func signsBetween(keys []*SigningKey, start, end time.Time) bool {
	// Each step moves t strictly later to one key's RetiredAt, so len(keys)+1 steps suffice.
	t := start
	for range len(keys) + 1 {
		if !end.IsZero() && !t.Before(end) {
			return true
		}
		var next time.Time
		for _, k := range keys {
			if !k.MaySign(t) {
				continue
			}
			if k.RetiredAt.IsZero() {
				return true
			}
			if k.RetiredAt.After(next) {
				next = k.RetiredAt
			}
		}
		if next.IsZero() {
			return false
		}
		t = next
	}
	return false
}

// CheckRotationGap returns CodeInvalid when keys of alg sign at now but stop signing before
// activeAt, the activation of a new key of alg. Servers configured with alg would then
// create a key of their own that no verifier has seen. An algorithm with no key that signs
// at now has no servers that depend on it, so its first key may start at any time.
func CheckRotationGap(keys []*SigningKey, alg string, now, activeAt time.Time) error {
	var same []*SigningKey
	signsNow := false
	for _, k := range keys {
		if k.Algorithm == alg {
			same = append(same, k)
			signsNow = signsNow || k.MaySign(now)
		}
	}
	if !signsNow || signsBetween(same, now, activeAt) {
		return nil
	}
	return Errorf(CodeInvalid, "the %s signing keys stop signing before the new key activates at %s, so servers configured with %s would create keys "+
		"that verifiers have not seen; choose a shorter --activate-in, one that ends before their retirement", alg, activeAt.Format(time.RFC3339), alg)
}

// PlanSigningKeyRevocation returns the key with kid among keys, which the stores delete to
// revoke it at at, and the key to insert in its place. The inserted key is replacement
// with the revoked key's schedule, or nil when the revoked key could no longer sign at or
// after at. It signs from at, or from the revoked key's activation if that is later. It
// stops when the revoked key would have stopped, so a rotation scheduled before still
// takes over as planned, and servers configured with the revoked key's algorithm always
// have a key to sign with. It returns CodeNotFound when no key has kid, CodeConflict when
// the key could sign but replacement is nil, and CodeInvalid when replacement has another
// algorithm.
func PlanSigningKeyRevocation(keys []*SigningKey, kid string, at time.Time, replacement *SigningKey) (revoked, insert *SigningKey, err error) {
	for _, k := range keys {
		if k.KID == kid {
			revoked = k
			break
		}
	}
	if revoked == nil {
		return nil, nil, Errorf(CodeNotFound, "signing key %s not found; iogate signing-key list shows the KIDs", QuoteInput(kid))
	}
	if !revoked.SignsAtOrAfter(at) {
		return revoked, nil, nil
	}
	switch {
	case replacement == nil:
		return nil, nil, Errorf(CodeConflict, "signing key %s changed while it was being revoked; run the command again", kid)
	case replacement.Algorithm != revoked.Algorithm:
		return nil, nil, Errorf(CodeInvalid, "invalid replacement for signing key %s: algorithm %s, want %s", kid, replacement.Algorithm, revoked.Algorithm)
	}
	r := *replacement
	r.ActiveAt = at
	if revoked.ActiveAt.After(at) {
		r.ActiveAt = revoked.ActiveAt
	}
	r.RetiredAt = revoked.RetiredAt
	return revoked, &r, nil
}

// SignsAtOrAfter reports whether the key may sign at some time from at onward: it signs or
// is scheduled, and is not retired before it would start.
func (k *SigningKey) SignsAtOrAfter(at time.Time) bool {
	start := at
	if k.ActiveAt.After(start) {
		start = k.ActiveAt
	}
	return k.MaySign(start)
}

// Store persists iogate's state. Implementations map driver conditions to domain error
// codes: a missing row is CodeNotFound, a unique violation CodeConflict, an unreachable
// database CodeUnavailable. Every method is safe for concurrent use.
type Store interface {
	// CreateAccount inserts a new account and appends rec, its AuditAccountCreated record,
	// to the new account's audit log in the same transaction. It returns CodeConflict when
	// the ID is taken, and CodeInternal when rec is nil or not its record.
	CreateAccount(ctx context.Context, a *Account, rec *AuditRecord) error
	// FindAccountByID returns the account, or CodeNotFound, also for SigningKeyLogID.
	FindAccountByID(ctx context.Context, id string) (*Account, error)
	// ListAccounts returns one page of accounts, oldest first, and the cursor of the next
	// page. It leaves out the reserved account SigningKeyLogID.
	ListAccounts(ctx context.Context, page Page) ([]*Account, string, error)
	// CountAccounts returns how many accounts exist, not counting SigningKeyLogID.
	CountAccounts(ctx context.Context) (int, error)

	// CreateAPIKey inserts a new key, records a key change and appends the audit record
	// rec, all in one transaction. When ctx carries a form token's use (WithFormTokenUse),
	// the transaction records it too, and fails with ErrFormTokenUsed, writing nothing,
	// when it was already recorded. It fails with ErrDeletedClientID, writing nothing,
	// when DeleteAPIKey has deleted a key with k.ClientID from k.AccountID. That check
	// runs in the same transaction as the insert, so no concurrent deletion slips between
	// them. Another account may reuse the client ID.
	CreateAPIKey(ctx context.Context, k *APIKey, rec *AuditRecord) error
	// FindAPIKey returns the key, or CodeNotFound.
	FindAPIKey(ctx context.Context, clientID string) (*APIKey, error)
	// ListAPIKeys returns one page of an account's keys, oldest first, and the cursor of
	// the next page ("" on the last page).
	ListAPIKeys(ctx context.Context, accountID string, page Page) ([]*APIKey, string, error)
	// AllAPIKeys calls fn for every key in the store.
	AllAPIKeys(ctx context.Context, fn func(*APIKey) error) error
	// AllAPIKeyAuth calls fn for every key in the store with the fields that
	// authentication reads, in no particular order, for loading the in-memory view of a
	// server. It reads only those columns, in the order the rows are stored, so that a
	// million keys load in seconds. fn must not keep the *APIKeyAuth after it returns,
	// because the next call may reuse it.
	AllAPIKeyAuth(ctx context.Context, fn func(*APIKeyAuth) error) error
	// UpdateAPIKey reads the key, lets update change it and writes it back, recording a
	// key change and appending the audit record that update returns, all in one
	// transaction, so concurrent updates cannot lose each other's changes. When update
	// returns a nil record nothing is written. It returns the key as stored afterwards, or
	// CodeNotFound, or update's error. update must not block: it runs while the store
	// holds its write lock. A form token's use in ctx is recorded as CreateAPIKey does,
	// only when a record is written.
	UpdateAPIKey(ctx context.Context, clientID string, update func(k *APIKey) (*AuditRecord, error)) (*APIKey, error)
	// DeleteAPIKey deletes the key of rec.AccountID, records a key change and appends rec,
	// all in one transaction, or returns CodeNotFound. The same transaction stores a
	// tombstone of the client ID for the account, with rec.Time as the deletion time and
	// the key's SecretHash and previous secret's Hash, so that CreateAPIKey rejects the
	// client ID in that account from then on. Tombstones are kept forever, independent of
	// the audit retention.
	DeleteAPIKey(ctx context.Context, clientID string, rec *AuditRecord) error
	// DeletedAPIKeys calls fn with every key that has a tombstone (see DeleteAPIKey), with
	// the secret hashes that its tombstone stores, and with every other key whose
	// AuditKeyDeleted record the audit log still holds, without hashes. It calls fn in the
	// order of the deletion times, so a client ID deleted twice comes last with its latest
	// account. The engine calls it once at start. Stores look the records up per account
	// and event, through the index on those columns, rather than reading the whole log.
	DeletedAPIKeys(ctx context.Context, fn func(k DeletedAPIKey) error) error
	// RecordKeyUse stores when and from where keys last authenticated, for keys that
	// still exist. It is called in batches, off the request path.
	RecordKeyUse(ctx context.Context, uses []KeyUse) error

	// RevokeToken records a revoked token and a key change of its client, so that every
	// process learns of it through the change feed, and appends rec, its AuditTokenRevoked
	// record, all in one transaction. Revoking a token already revoked is not an error and
	// appends neither a key change nor rec. It returns CodeNotFound when rec's account has
	// no key t.ClientID, and CodeInternal when rec is not t's record
	// (CheckRevocationRecord). It deletes no other revocation, so that it locks no rows of
	// other keys. DeleteExpiredRevocations deletes the revocations of expired tokens.
	RevokeToken(ctx context.Context, t *RevokedToken, rec *AuditRecord) error
	// DeleteExpiredRevocations deletes at most limit revocations of tokens whose expiry is
	// at or before the given time, in one transaction, and returns how many it deleted.
	DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error)
	// ListRevokedTokens returns the revocations of clientID's tokens that expire after
	// the given time.
	ListRevokedTokens(ctx context.Context, clientID string, after time.Time) ([]*RevokedToken, error)
	// AllRevokedTokens calls fn for every revocation of a token that expires after the
	// given time, for loading the in-memory view.
	AllRevokedTokens(ctx context.Context, after time.Time, fn func(*RevokedToken) error) error

	// KeyChangesSince returns the changes with a sequence number above seq, in order.
	KeyChangesSince(ctx context.Context, seq int64) ([]KeyChange, error)
	// LatestKeyChange returns the highest change sequence number, or 0.
	LatestKeyChange(ctx context.Context) (int64, error)
	// RecordAddressUnblock records a ChangeAddressUnblock change of prefix by operator, so
	// that every running server lifts the blocks of the addresses in prefix when it reads
	// the change. It returns CodeInvalid when prefix is invalid or has host bits set.
	RecordAddressUnblock(ctx context.Context, prefix netip.Prefix, operator string) error
	// DeleteKeyChangesBefore deletes at most limit key changes in one transaction and
	// returns how many it deleted. It takes the oldest in sequence order and stops at the
	// first change recorded after the given time, so the changes that remain always follow
	// the deleted ones. Later changes never reuse a deleted change's sequence number.
	DeleteKeyChangesBefore(ctx context.Context, before time.Time, limit int) (int, error)

	// AppendAuditRecords appends records to their accounts' chains in one transaction,
	// sealing each with AuditRecord.Seal, so that many records cost one commit.
	AppendAuditRecords(ctx context.Context, records []*AuditRecord) error
	// ListAuditRecords returns one page of the records that filter selects, newest first,
	// and the cursor of the next page ("" on the last page).
	ListAuditRecords(ctx context.Context, filter AuditFilter, page Page) ([]*AuditRecord, string, error)
	// AuditRecords calls fn for every record of accountID, or of every account when
	// accountID is empty, ordered by account and then by sequence number.
	AuditRecords(ctx context.Context, accountID string, fn func(*AuditRecord) error) error
	// AuditRecordsAfter returns at most limit records of accountID whose sequence number is
	// above after, oldest first. Unlike AuditRecords it holds no connection between calls,
	// so a reader that pages through a log at the pace of a slow client ties up none.
	AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*AuditRecord, error)
	// AuditCheckpoints returns the retention checkpoint of accountID, or of every account
	// when accountID is empty; an account whose records were never pruned has none.
	AuditCheckpoints(ctx context.Context, accountID string) ([]*AuditCheckpoint, error)
	// PruneAuditRecords deletes the records of cp.AccountID up to and including cp.Seq
	// and stores cp in place of the account's earlier checkpoint, in one transaction, and
	// returns how many records it deleted. It rejects with CodeInvalid a checkpoint that
	// would delete the account's newest record (appending continues from that record) or
	// whose Hash differs from that of the record at cp.Seq, and with CodeConflict one that
	// is not above the stored checkpoint.
	PruneAuditRecords(ctx context.Context, cp *AuditCheckpoint) (int64, error)

	// CreateVault inserts a new vault, records a ChangeVaults change of its account and
	// appends rec, its AuditVaultCreated record, to the account's audit log, all in one
	// transaction. It returns CodeNotFound for an unknown account, CodeConflict when the ID
	// is taken, and CodeInternal when rec is nil or not its record.
	CreateVault(ctx context.Context, v *Vault, rec *AuditRecord) error
	// CreateVaultOnce creates v as CreateVault does and stores idempotencyKey with it in
	// the same transaction, unless the account already has a vault created with that key.
	// Then it writes nothing and returns that vault and false, whatever its name and
	// threshold. It returns v and true when it created v. Keys are scoped to the account
	// and kept as long as their vault. An empty key stores none, so such a call always
	// creates v. Concurrent calls with one key create one vault, and each returns it. It
	// returns CodeInvalid for a non-empty key that ValidateIdempotencyKey rejects, and the
	// errors of CreateVault.
	CreateVaultOnce(ctx context.Context, v *Vault, idempotencyKey string, rec *AuditRecord) (*Vault, bool, error)
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
	// SigningKeyLogCreatedAt returns the creation time of the reserved account of the
	// SigningKeyLogID log, which the migration that added the log set. Signing keys created
	// before it have no records. It returns CodeNotFound when the account row is missing.
	SigningKeyLogCreatedAt(ctx context.Context) (time.Time, error)

	// The four changes of the signing keys below each call record once inside their
	// transaction, through RecordSigningKeyChange, and append the records it returns to
	// the SigningKeyLogID log in that transaction. They fail, writing nothing, when record
	// fails.
	//
	// CreateSigningKey inserts a new signing key and records a signing-keys change and an
	// AuditSigningKeyCreated change of k.
	CreateSigningKey(ctx context.Context, k *SigningKey, record SigningKeyRecorder) error
	// RotateSigningKey inserts k and, in the same transaction, retires at k.ActiveAt every
	// key of k's algorithm that could still sign then, and records a signing-keys change
	// and an AuditSigningKeyRotated change of k with the keys it retired.
	// Keys of other algorithms keep signing, because each server signs only with keys of
	// its configured algorithm. It fails as CheckRotationGap does for k.CreatedAt and
	// k.ActiveAt, checked against the keys inside the transaction, so that a retirement
	// committed after the caller read the keys cannot open a gap.
	RotateSigningKey(ctx context.Context, k *SigningKey, record SigningKeyRecorder) error
	// RetireSigningKeys retires at at every key of alg that could still sign then (signing
	// or scheduled keys, and keys retired later than at) and returns the retired keys. The
	// same transaction records a signing-keys change and an AuditSigningKeyRetired change
	// of the retired keys. It fails as SelectSigningKeysToRetire does, checked against the
	// keys inside the transaction.
	RetireSigningKeys(ctx context.Context, alg string, at time.Time, record SigningKeyRecorder) ([]*SigningKey, error)
	// RevokeSigningKey deletes the signing key kid and inserts the replacement that
	// PlanSigningKeyRevocation returns for it. It returns the deleted key and the inserted
	// one (nil when none was needed). The same transaction records a signing-keys change
	// and an AuditSigningKeyRevoked change of both keys. The deleted row takes the sealed
	// private key with it. It fails as PlanSigningKeyRevocation does, checked against the
	// keys inside the transaction.
	RevokeSigningKey(ctx context.Context, kid string, at time.Time, replacement *SigningKey, record SigningKeyRecorder) (revoked, inserted *SigningKey, err error)

	// ResealSecrets replaces, in one transaction, every value the store holds encrypted
	// under the master key (sealed secrets, signing keys' private keys and TOTP seeds)
	// with what reseal returns for it, and returns how many it replaced. When reseal or a
	// write fails, nothing is changed.
	ResealSecrets(ctx context.Context, reseal func(SealedValue) ([]byte, error)) (int, error)

	// RecordPublicURL stores url, with the time at, as the base URL of the links that the
	// server prints and shows, in place of the one stored before. "iogate serve" calls it
	// at start, so that CLI commands that print links use it, and with several nodes the
	// last one to start wins.
	RecordPublicURL(ctx context.Context, url string, at time.Time) error
	// PublicURL returns the URL that RecordPublicURL stored last and its time, or
	// CodeNotFound when none was stored.
	PublicURL(ctx context.Context) (string, time.Time, error)

	// Ping checks that the store is reachable, for readiness checks. An unreachable database is
	// CodeUnavailable.
	Ping(ctx context.Context) error

	// UserStore holds dashboard users, sessions, single-use links and recovery codes.
	UserStore

	// Close releases the store's connections.
	Close() error
}

// Kinds of SealedValue.
const (
	SealedKindSecret     = "secret"
	SealedKindSigningKey = "signing_key"
	// SealedKindTOTPSeed is a dashboard user's TOTP seed; its Name is the user ID.
	SealedKindTOTPSeed = "totp_seed"
)

// SealedValue is one value that the store holds encrypted under the master key.
type SealedValue struct {
	// Kind is SealedKindSecret for a sealed secret and SealedKindSigningKey for a signing
	// key's private key.
	Kind string
	// Name is the sealed secret's name, the signing key's KID or the user ID of a TOTP seed.
	Name   string
	Sealed []byte
}

// KeyUse is one successful authentication of a key, for its last-used fields.
type KeyUse struct {
	ClientID   string
	Generation int
	At         time.Time
	IP         string
}
