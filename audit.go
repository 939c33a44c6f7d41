package iogate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"
)

// Actor is who made a change or a request that the audit log records: an operator at the
// CLI, a dashboard user, or a client authenticating with its key.
type Actor struct {
	// Type is one of the Actor* constants.
	Type string `json:"type"`
	// ID names the actor within its type: the operator's OS user name, the user ID, or the
	// client ID.
	ID string `json:"id"`
	// IP is the address the actor's request came from; empty for the CLI.
	IP string `json:"ip,omitempty"`
}

// Actor types.
const (
	ActorOperator = "operator"
	ActorUser     = "user"
	ActorClient   = "client"
	ActorSystem   = "system"
)

type actorContextKey struct{}

// WithActor returns a context that carries a, for the audit records of the changes made
// with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorContextKey{}, a)
}

// ActorFrom returns the actor that WithActor stored in ctx, or an actor of type
// ActorSystem when there is none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorContextKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: ActorSystem}
}

// Audit events.
const (
	AuditKeyCreated  = "key.created"
	AuditKeyUpdated  = "key.updated"
	AuditKeyRotated  = "key.rotated"
	AuditKeyDeleted  = "key.deleted"
	AuditTokenIssued = "token.issued"
	AuditTokenDenied = "token.denied"
	// AuditTokenRevoked records that a client revoked one of its access tokens (RFC 7009).
	// Only the first revocation of a token is recorded.
	AuditTokenRevoked = "token.revoked"
	// AuditKeyExposed records that a valid credential of the key arrived over plain HTTP.
	AuditKeyExposed = "key.exposed"
	// AuditAddressBlocked records that an address that had sent wrong secrets for the
	// account's key was blocked after repeated failed authentication.
	AuditAddressBlocked = "address.blocked"
	// AuditAddressUnblocked records that an operator lifted, with "iogate address unblock",
	// a block that an address.blocked record of the account announced.
	AuditAddressUnblocked = "address.unblocked"
	// AuditVaultCreated records a new vault, with its ID, name and threshold in the details.
	AuditVaultCreated = "vault.created"
	// AuditAccessDenied records an API request refused although its access token verified,
	// because it came from an address outside the key's allowlist: the sign of a token used
	// from where its key may not be. The reason is DenyIPNotAllowed.
	AuditAccessDenied = "access.denied"
)

// AuditEvents lists every event that iogate writes to the audit log, for the filters of
// the CLI and the dashboard.
var AuditEvents = []string{
	AuditKeyCreated, AuditKeyUpdated, AuditKeyRotated, AuditKeyDeleted, AuditKeyExposed,
	AuditTokenIssued, AuditTokenDenied, AuditTokenRevoked, AuditAccessDenied, AuditAddressBlocked,
	AuditAddressUnblocked, AuditVaultCreated,
	AuditUserSignedIn, AuditUserSignInFailed, AuditUserSignedOut,
	AuditUserInvited, AuditUserInvitationCancelled, AuditUserCreated, AuditUserRoleChanged, AuditUserRemoved,
	AuditUserPasswordReset, AuditUserResetLinkCreated,
	AuditUserTOTPEnabled, AuditUserTOTPDisabled, AuditUserRecoveryCodesReplaced,
	AuditAccountCreated, AuditAccountPolicyChanged, AuditAccountSuspended, AuditAccountResumed,
	AuditLogExported,
}

// Reasons of AuditTokenDenied records.
const (
	DenyInvalidSecret = "invalid_secret"
	// DenySecretRetired is the reason of a request with a secret that a rotation replaced
	// and whose grace period has ended. The response is the one for a wrong secret.
	DenySecretRetired   = "secret_retired"
	DenyKeyExpired      = "key_expired"
	DenyIPNotAllowed    = "ip_not_allowed"
	DenyScopeNotAllowed = "scope_not_allowed"
	// DenyKeyDeleted is the reason of a request for a key that was deleted. The response
	// is the one for an unknown client ID.
	DenyKeyDeleted = "key_deleted"
)

// CheckChangeRecord returns a CodeInternal error unless rec is a record of event for
// accountID's log. Stores call it before they insert a change whose record commits with
// it, so that no change is written without its record or with the record of another
// account.
func CheckChangeRecord(rec *AuditRecord, accountID, event string) error {
	switch {
	case rec == nil:
		return Errorf(CodeInternal, "missing %s audit record", event)
	case rec.AccountID != accountID:
		return Errorf(CodeInternal, "%s audit record of account %q given for account %q", rec.Event, rec.AccountID, accountID)
	case rec.Event != event:
		return Errorf(CodeInternal, "%s audit record given where %s is expected", rec.Event, event)
	}
	return nil
}

// CheckRevocationRecord returns a CodeInternal error unless rec is the token.revoked record
// of t: the same client ID and token ID. The account is left to the store, which checks
// that t's key belongs to rec's account when it revokes the token.
func CheckRevocationRecord(rec *AuditRecord, t *RevokedToken) error {
	switch {
	case rec == nil:
		return Errorf(CodeInternal, "missing %s audit record", AuditTokenRevoked)
	case rec.Event != AuditTokenRevoked:
		return Errorf(CodeInternal, "%s audit record given where %s is expected", rec.Event, AuditTokenRevoked)
	case rec.ClientID != t.ClientID || rec.TokenID != t.TokenID:
		return Errorf(CodeInternal, "%s audit record of client %q and token %q given for client %q and token %q",
			rec.Event, rec.ClientID, rec.TokenID, t.ClientID, t.TokenID)
	}
	return nil
}

// AuditHash is the chain hash of an audit record. The first record of an account links to
// the zero hash.
type AuditHash [sha256.Size]byte

// String returns the hash in lower-case hex.
func (h AuditHash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as lower-case hex.
func (h AuditHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a hash from hex.
func (h *AuditHash) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil || len(b) != len(h) {
		return fmt.Errorf("invalid audit hash %s: expected %d hex digits", QuoteInput(string(text)), 2*len(h))
	}
	copy(h[:], b)
	return nil
}

// AuditRecord is one entry of an account's audit log. Records of an account form a chain:
// each carries the hash of the one before it, and its own hash covers every field and that
// link, so a record edited, inserted or removed in the middle breaks the chain. Records
// never hold a secret or an access token; a token appears only by its ID.
type AuditRecord struct {
	AccountID string `json:"accountId"`
	// Seq numbers the account's records from 1 without gaps; the store assigns it.
	Seq   int64     `json:"seq"`
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	Actor Actor     `json:"actor"`
	// ClientID is the API key the event concerns, if any.
	ClientID string `json:"clientId,omitempty"`
	// TokenID is the "jti" of the access token the event concerns, if any.
	TokenID string `json:"tokenId,omitempty"`
	// Reason is the cause of a denial, one of the Deny* constants.
	Reason string `json:"reason,omitempty"`
	// Details is a JSON object with the event's particulars, such as the scopes granted or
	// the fields changed. It is hashed byte for byte as stored.
	Details  json.RawMessage `json:"details,omitempty"`
	PrevHash AuditHash       `json:"prevHash"`
	Hash     AuditHash       `json:"hash"`

	chain *AuditChain
}

// AuditFilter selects the audit records of one account; the other fields, when set,
// narrow the selection to records with that value.
type AuditFilter struct {
	AccountID string
	ClientID  string
	// ActorType, when set, selects the records of the actor of that type whose ID is
	// ActorID. The ID must then match even when it is empty, as ActorSystem's is. Without
	// ActorType, ActorID matches an actor of any type.
	ActorType string
	ActorID   string
	Event     string
}

// AuditCondition is one equality that an AuditFilter requires of the records it selects:
// a column of the audit_records table, which both stores name alike, and its value.
type AuditCondition struct {
	Column string
	Value  string
}

// Conditions returns the equalities that f requires besides the account, for the queries
// of the stores.
func (f AuditFilter) Conditions() []AuditCondition {
	var out []AuditCondition
	add := func(column, value string, set bool) {
		if set {
			out = append(out, AuditCondition{Column: column, Value: value})
		}
	}
	add("client_id", f.ClientID, f.ClientID != "")
	add("actor_type", f.ActorType, f.ActorType != "")
	// With an actor type, the ID is compared even when empty, as ActorSystem's is.
	add("actor_id", f.ActorID, f.ActorID != "" || f.ActorType != "")
	add("event", f.Event, f.Event != "")
	return out
}

// Matches reports whether f selects r, as ListAuditRecords does. Exports use it to filter
// the records that AuditRecords reads.
func (f AuditFilter) Matches(r *AuditRecord) bool {
	switch {
	case r.AccountID != f.AccountID:
		return false
	case f.ClientID != "" && r.ClientID != f.ClientID:
		return false
	case f.ActorType != "" && (r.Actor.Type != f.ActorType || r.Actor.ID != f.ActorID):
		return false
	case f.ActorID != "" && r.Actor.ID != f.ActorID:
		return false
	case f.Event != "" && r.Event != f.Event:
		return false
	}
	return true
}

// AuditChain computes and checks the chain hashes of audit records. The hash is an
// HMAC-SHA-256 under a server key sealed by the master key. Someone who can write to the
// database but does not hold the master key can therefore not recompute the chain after
// an edit.
type AuditChain struct {
	key []byte
	// macs holds HMAC states keyed with key, for reuse.
	macs sync.Pool
}

// NewAuditChain returns a chain that hashes under key, which must be 32 bytes.
func NewAuditChain(key []byte) (*AuditChain, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("audit chain key has %d bytes, want 32", len(key))
	}
	c := &AuditChain{key: key}
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c, nil
}

// NewRecord returns a record of event for accountID at time at, with a new ID, ready to be
// appended by a store. Details, when not nil, is encoded as the record's JSON details.
func (c *AuditChain) NewRecord(accountID, event string, actor Actor, at time.Time, details map[string]any) (*AuditRecord, error) {
	r := &AuditRecord{
		AccountID: accountID,
		ID:        NewID(),
		Time:      at.UTC().Truncate(time.Microsecond),
		Event:     event,
		Actor:     actor,
		chain:     c,
	}
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return nil, fmt.Errorf("encode audit details: %w", err)
		}
		r.Details = b
	}
	return r, nil
}

// Seal links r to the last record of its account, whose sequence number and hash are
// prevSeq and prevHash (0 and the zero hash when r is the first), and computes r's hash.
// Stores call it inside the transaction that appends r. It fails for a record that did not
// come from AuditChain.NewRecord, and for a record whose actor is a client other than the
// one ClientID names.
func (r *AuditRecord) Seal(prevSeq int64, prevHash AuditHash) error {
	if r.chain == nil {
		return fmt.Errorf("audit record %s was not created by an AuditChain", r.ID)
	}
	// A client acts only for itself, and the SQLite store finds a client's records by
	// client ID when asked for its records by actor.
	if r.Actor.Type == ActorClient && r.ClientID != r.Actor.ID {
		return fmt.Errorf("audit record %s: actor client %q differs from ClientID %q", r.ID, r.Actor.ID, r.ClientID)
	}
	r.Seq = prevSeq + 1
	r.PrevHash = prevHash
	r.Hash = r.chain.hash(r)
	return nil
}

// hash returns the HMAC of every field of r. Each field is written with its length in
// front, so no two different records encode to the same bytes.
func (c *AuditChain) hash(r *AuditRecord) AuditHash {
	// The fields are gathered in one buffer and hashed with one Write: token issuance
	// hashes a record for every token while it holds the store's writer, and a Write per
	// field cost an allocation per field.
	var seq, at [20]byte
	buf := make([]byte, 0, 512)
	for _, field := range [...]string{
		"iogate-audit-v1",
		r.AccountID,
		string(strconv.AppendInt(seq[:0], r.Seq, 10)),
		r.ID,
		string(strconv.AppendInt(at[:0], r.Time.UnixMicro(), 10)),
		r.Event,
		r.Actor.Type,
		r.Actor.ID,
		r.Actor.IP,
		r.ClientID,
		r.TokenID,
		r.Reason,
		string(r.Details),
		string(r.PrevHash[:]),
	} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(field)))
		buf = append(buf, field...)
	}
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(buf)
	var h AuditHash
	m.Sum(h[:0])
	c.macs.Put(m)
	return h
}

func writeField(m hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	m.Write(n[:])
	m.Write([]byte(s))
}

// AuditChainError names the first record at which an account's chain does not verify.
type AuditChainError struct {
	AccountID string
	Seq       int64
	ID        string
	Problem   string
}

// Error names the record at which the chain broke and the problem found there.
func (e *AuditChainError) Error() string {
	return fmt.Sprintf("audit chain of account %s is broken at record %d (id %s): %s", e.AccountID, e.Seq, e.ID, e.Problem)
}

// AuditHead is the last verified record of one account's chain. Writing the head hash down
// outside the database lets a later check detect records removed from the end of the
// chain, which the chain alone cannot show.
type AuditHead struct {
	AccountID string    `json:"accountId"`
	Records   int64     `json:"records"`
	Seq       int64     `json:"seq"`
	Hash      AuditHash `json:"hash"`
}

// AuditVerifier checks records one by one. Feed it each account's records in sequence
// order; records of different accounts may interleave.
type AuditVerifier struct {
	chain *AuditChain
	heads map[string]*AuditHead
	order []string
}

// NewVerifier returns a verifier of records hashed under this chain's key.
func (c *AuditChain) NewVerifier() *AuditVerifier {
	return &AuditVerifier{chain: c, heads: make(map[string]*AuditHead)}
}

// Add checks r against the record before it. It returns an *AuditChainError when the
// chain breaks at r, which happens in three ways: a sequence number that skips or repeats,
// a link that differs from the previous record's hash, or a hash that differs from the
// HMAC of the record's contents.
func (v *AuditVerifier) Add(r *AuditRecord) error {
	head := v.heads[r.AccountID]
	if head == nil {
		head = &AuditHead{AccountID: r.AccountID}
		v.heads[r.AccountID] = head
		v.order = append(v.order, r.AccountID)
	}
	broken := func(format string, args ...any) error {
		return &AuditChainError{AccountID: r.AccountID, Seq: r.Seq, ID: r.ID, Problem: fmt.Sprintf(format, args...)}
	}
	want := v.chain.hash(r)
	switch {
	case r.Seq != head.Seq+1 && head.Seq == 0:
		return broken("the chain starts at record %d instead of 1: earlier records were removed", r.Seq)
	case r.Seq != head.Seq+1:
		return broken("record %d follows record %d: records were removed or reordered", r.Seq, head.Seq)
	case r.PrevHash != head.Hash:
		return broken("its link does not match the hash of record %d: a record before it was replaced", head.Seq)
	case !hmac.Equal(r.Hash[:], want[:]):
		return broken("its contents do not match its hash: the record was edited")
	}
	head.Seq, head.Hash = r.Seq, r.Hash
	head.Records++
	return nil
}

// Heads returns the last record of every account seen, in the order first seen.
func (v *AuditVerifier) Heads() []AuditHead {
	out := make([]AuditHead, 0, len(v.order))
	for _, id := range v.order {
		out = append(out, *v.heads[id])
	}
	return out
}
