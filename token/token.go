// Package token signs and verifies iogate's access tokens: JWTs in the RFC 9068 profile
// ("typ": "at+jwt"), signed with Ed25519 by default, ES256 or RS256 when configured. It uses
// go-jose for the JOSE parts. Whether a token's key still allows it is not decided here but
// by the auth package, against its live view of the keys.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4"
	"github.com/iogate/iogate"
)

// Type is the JOSE "typ" header of access tokens, from RFC 9068 section 2.1.
const Type = "at+jwt"

// Supported signing algorithms.
const (
	EdDSA = string(jose.EdDSA)
	ES256 = string(jose.ES256)
	RS256 = string(jose.RS256)
)

// Algorithms lists the supported signing algorithms, default first.
var Algorithms = []string{EdDSA, ES256, RS256}

var joseAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256}

// Claims are the claims of an access token. Times are seconds since the Unix epoch.
type Claims struct {
	Issuer     string `json:"iss"`
	Subject    string `json:"sub"`
	Audience   string `json:"aud"`
	ClientID   string `json:"client_id"`
	AccountID  string `json:"acct"`
	Scope      string `json:"scope"`
	IssuedAt   int64  `json:"iat"`
	NotBefore  int64  `json:"nbf"`
	Expiry     int64  `json:"exp"`
	ID         string `json:"jti"`
	Generation int    `json:"gen"`
}

// Scopes returns the space-separated scope claim as a list.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// ExpiresAt returns the expiry as a time.
func (c *Claims) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0) }

// KeyIDOf returns the KID that a public JWK must have: the base64url RFC 7638 thumbprint
// of its key, computed with SHA-256, as GenerateSigningKey names its keys.
func KeyIDOf(publicJWK []byte) (string, error) {
	var pub jose.JSONWebKey
	if err := pub.UnmarshalJSON(publicJWK); err != nil {
		return "", fmt.Errorf("parse public JWK: %w", err)
	}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(thumb), nil
}

// privateKeyName binds a sealed private key to its slot under the master key.
func privateKeyName(kid string) string { return "signing-key/" + kid }

// GenerateSigningKey creates a key pair for alg, seals the private key under master and
// returns it ready to store. The key ID is the RFC 7638 thumbprint of the public key.
func GenerateSigningKey(alg string, master *iogate.MasterKey, now time.Time) (*iogate.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q; supported: %s", alg, strings.Join(Algorithms, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return nil, err
	}
	privJWK := jose.JSONWebKey{Key: priv, KeyID: pub.KeyID, Algorithm: alg, Use: "sig"}
	privJSON, err := privJWK.MarshalJSON()
	if err != nil {
		return nil, err
	}
	sealed, err := master.Seal(privateKeyName(pub.KeyID), privJSON)
	if err != nil {
		return nil, err
	}
	return &iogate.SigningKey{
		KID:                 pub.KeyID,
		Algorithm:           alg,
		PrivateKeyEncrypted: sealed,
		PublicJWK:           pubJSON,
		CreatedAt:           now,
		ActiveAt:            now,
	}, nil
}

// Keyring holds the signing keys: the one that signs new tokens and every published key that
// verifies them. It is safe for concurrent use and can be replaced in place with Load.
type Keyring struct {
	mu      sync.RWMutex
	signer  *compactSigner
	active  string
	public  map[string]publishedKey
	jwks    []byte
	allowed []jose.SignatureAlgorithm
	// unpublished holds the public keys of retired signing keys that have left the JWKS.
	// A token they signed is rejected with ErrUnpublished rather than ErrMalformed.
	unpublished map[string]publishedKey
}

// publishedKey is a public key of the keyring with its KID, which Verify hands out so that
// callers can keep it without a copy of their own.
type publishedKey struct {
	kid string
	jwk jose.JSONWebKey
}

// NewKeyring returns an empty keyring. Load fills it.
func NewKeyring() *Keyring { return &Keyring{} }

// Load replaces the keyring's keys. The signing key is the newest key for alg that is
// active at now and not yet retired at now; every key in keys verifies and is published.
// It fails when no such key exists or when a private key does not decrypt under master.
func (r *Keyring) Load(keys []*iogate.SigningKey, alg string, master *iogate.MasterKey, now time.Time) error {
	var chosen *iogate.SigningKey
	public := make(map[string]publishedKey, len(keys))
	for _, k := range keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
			return fmt.Errorf("signing key %s: invalid public key: %w", k.KID, err)
		}
		public[k.KID] = publishedKey{kid: k.KID, jwk: jwk}
		if k.Algorithm == alg && k.MaySign(now) {
			if chosen == nil || !k.ActiveAt.Before(chosen.ActiveAt) {
				chosen = k
			}
		}
	}
	if chosen == nil {
		return fmt.Errorf("no active %s signing key", alg)
	}
	privJSON, err := master.Open(privateKeyName(chosen.KID), chosen.PrivateKeyEncrypted)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", chosen.KID, err)
	}
	var priv jose.JSONWebKey
	if err := priv.UnmarshalJSON(privJSON); err != nil {
		return fmt.Errorf("signing key %s: invalid private key: %w", chosen.KID, err)
	}
	signer, err := newCompactSigner(alg, priv.KeyID, priv.Key)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", chosen.KID, err)
	}
	jwks, err := marshalJWKS(keys, public)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signer, r.active, r.public, r.jwks = signer, chosen.KID, public, jwks
	r.allowed = joseAlgorithms
	return nil
}

func marshalJWKS(keys []*iogate.SigningKey, public map[string]publishedKey) ([]byte, error) {
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, public[k.KID].jwk)
	}
	return json.Marshal(set)
}

// ActiveKeyID returns the key ID that signs new tokens.
func (r *Keyring) ActiveKeyID() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.active
}

// JWKS returns the JSON Web Key Set of every published public key.
func (r *Keyring) JWKS() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.jwks
}

// Sign returns a compact JWT of claims signed by the active key.
func (r *Keyring) Sign(c *Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	r.mu.RLock()
	signer := r.signer
	r.mu.RUnlock()
	if signer == nil {
		return "", errors.New("keyring has no signing key")
	}
	return signer.sign(payload)
}

// MaxLength bounds the tokens Verify parses. An RS256 token of iogate is well under 1 KiB.
const MaxLength = 4096

// ErrMalformed is returned for every token that does not verify: bad encoding, unknown key,
// wrong type, bad signature or unparsable claims. Callers map it to one invalid_token error.
var ErrMalformed = errors.New("token does not verify")

// ErrUnpublished is returned for a token whose signature verifies with a key that
// LoadUnpublished loaded: a key that signed tokens once but no longer verifies them.
var ErrUnpublished = errors.New("token signed by a signing key that is no longer published")

// ErrUnknownKey and ErrBadSignature are the errors of VerifyKey for a token whose header
// names a signing key that the keyring does not hold, and for one whose signature or
// algorithm does not match the key that it names. errors.Is matches both to ErrMalformed,
// so that callers that need no reason treat them as any other token that does not verify.
var (
	ErrUnknownKey   error = &malformedError{"token signed by an unknown signing key"}
	ErrBadSignature error = &malformedError{"token signature does not verify"}
)

// malformedError is an error that errors.Is matches to ErrMalformed.
type malformedError struct{ msg string }

func (e *malformedError) Error() string        { return e.msg }
func (e *malformedError) Is(target error) bool { return target == ErrMalformed }

// Verify checks the token's signature against a published key and its "typ" header, and
// returns its claims. It does not check expiry or whether the key still allows the token.
func (r *Keyring) Verify(token string) (*Claims, error) {
	c, _, err := r.VerifyKey(token)
	return c, err
}

// VerifyKey is Verify that also returns the ID of the published key that verified the
// token. The ID is the keyring's own string, so keeping it costs no allocation. For a token
// that an unpublished key verifies, it returns the claims and that key's ID together with
// ErrUnpublished. Every other error comes with nil claims.
func (r *Keyring) VerifyKey(token string) (*Claims, string, error) {
	if len(token) > MaxLength || strings.Count(token, ".") != 2 || !canonicalSegments(token) {
		return nil, "", ErrMalformed
	}
	r.mu.RLock()
	public, unpublished, allowed := r.public, r.unpublished, r.allowed
	r.mu.RUnlock()
	jws, err := jose.ParseSignedCompact(token, allowed)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", ErrMalformed
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, "", ErrMalformed
	}
	key, published := public[h.KeyID]
	ok := published
	if !published {
		key, ok = unpublished[h.KeyID]
	}
	if !ok {
		return nil, "", ErrUnknownKey
	}
	if key.jwk.Algorithm != h.Algorithm {
		return nil, "", ErrBadSignature
	}
	payload, err := jws.Verify(key.jwk.Key)
	if err != nil {
		return nil, "", ErrBadSignature
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", ErrMalformed
	}
	if !published {
		return &c, key.kid, ErrUnpublished
	}
	return &c, key.kid, nil
}

// canonicalSegments reports whether every dot-separated part of a compact JWS is unpadded
// base64url in its one canonical form: the unused low bits of the last character are zero.
// go-jose's decoder ignores those bits, so without this check up to 16 strings would verify
// as the same token. Whatever is keyed on the token string, such as the verification cache
// or a gateway's list of leaked tokens, would take them for different tokens.
func canonicalSegments(token string) bool {
	for part := range strings.SplitSeq(token, ".") {
		var unused byte
		switch len(part) % 4 {
		case 0:
			continue
		case 1:
			return false
		case 2:
			unused = 0x0f
		case 3:
			unused = 0x03
		}
		i := strings.IndexByte(base64URLAlphabet, part[len(part)-1])
		if i < 0 || byte(i)&unused != 0 {
			return false
		}
	}
	return true
}

// base64URLAlphabet is the alphabet of RFC 4648 section 5, in the order of the values its
// characters encode.
const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// LoadUnpublished replaces the retired keys that have left the JWKS but still distinguish
// their tokens from forged ones: VerifyKey returns ErrUnpublished for tokens they verify.
// Keys whose public key does not parse are left out, and the error names the first.
func (r *Keyring) LoadUnpublished(keys []*iogate.SigningKey) error {
	var firstErr error
	unpublished := make(map[string]publishedKey, len(keys))
	for _, k := range keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("signing key %s: invalid public key: %w", k.KID, err)
			}
			continue
		}
		unpublished[k.KID] = publishedKey{kid: k.KID, jwk: jwk}
	}
	r.mu.Lock()
	r.unpublished = unpublished
	r.mu.Unlock()
	return firstErr
}

// Published reports whether the key kid is in the keyring, so that tokens it signed verify.
func (r *Keyring) Published(kid string) bool {
	r.mu.RLock()
	_, ok := r.public[kid]
	r.mu.RUnlock()
	return ok
}

// KeyIDs returns the IDs of every key in the keyring, in no particular order.
func (r *Keyring) KeyIDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	kids := make([]string, 0, len(r.public))
	for kid := range r.public {
		kids = append(kids, kid)
	}
	return kids
}

// Hash returns a SHA-256 digest of a token, the key of caches and revocation lists, so that
// tokens themselves are not kept longer than needed.
func Hash(token string) [sha256.Size]byte {
	// Hash runs on every authenticated request. sha256.Sum256 neither keeps nor modifies
	// its argument, so it reads the string's bytes in place instead of a copy of them,
	// which would cost an allocation the size of the token.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
