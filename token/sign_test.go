package token

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/iogate/iogate"
)

// loadTestKeyring returns a keyring with one fresh key for alg, and that key's private JWK.
func loadTestKeyring(t testing.TB, alg string) (*Keyring, jose.JSONWebKey) {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	master, err := iogate.NewMasterKey(raw)
	if err != nil {
		t.Fatalf("NewMasterKey: %v", err)
	}
	now := time.Now()
	k, err := GenerateSigningKey(alg, master, now)
	if err != nil {
		t.Fatalf("GenerateSigningKey(%s): %v", alg, err)
	}
	r := NewKeyring()
	if err := r.Load([]*iogate.SigningKey{k}, alg, master, now); err != nil {
		t.Fatalf("Load: %v", err)
	}
	privJSON, err := master.Open(privateKeyName(k.KID), k.PrivateKeyEncrypted)
	if err != nil {
		t.Fatalf("open private key: %v", err)
	}
	var priv jose.JSONWebKey
	if err := priv.UnmarshalJSON(privJSON); err != nil {
		t.Fatalf("parse private key: %v", err)
	}
	return r, priv
}

// TestSignMatchesGoJose checks the keyring's signer against go-jose's: the same header and
// payload encoding, and for the deterministic algorithms the same signature.
func TestSignMatchesGoJose(t *testing.T) {
	tests := []struct {
		alg           string
		deterministic bool
	}{
		{EdDSA, true},
		{RS256, true},
		{ES256, false},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			r, priv := loadTestKeyring(t, tt.alg)
			now := time.Now().Unix()
			claims := &Claims{
				Issuer: "https://127.0.0.1:8443", Subject: "c", Audience: "https://127.0.0.1:8443", ClientID: "c",
				AccountID: "a", Scope: "vaults:read", IssuedAt: now, NotBefore: now, Expiry: now + 3600, ID: "j", Generation: 1,
			}
			got, err := r.Sign(claims)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}

			payload, err := json.Marshal(claims)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(tt.alg), Key: priv}, (&jose.SignerOptions{}).WithType(Type))
			if err != nil {
				t.Fatalf("jose.NewSigner: %v", err)
			}
			jws, err := ref.Sign(payload)
			if err != nil {
				t.Fatalf("go-jose Sign: %v", err)
			}
			want, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}

			if tt.deterministic && got != want {
				t.Errorf("Sign = %q\nwant go-jose's %q", got, want)
			}
			gotInput := got[:strings.LastIndexByte(got, '.')]
			wantInput := want[:strings.LastIndexByte(want, '.')]
			if gotInput != wantInput {
				t.Errorf("signing input = %q\nwant go-jose's %q", gotInput, wantInput)
			}
			verified, err := r.Verify(got)
			if err != nil {
				t.Fatalf("Verify of a token Sign returned: %v", err)
			}
			if *verified != *claims {
				t.Errorf("Verify returned %+v, want %+v", verified, claims)
			}
		})
	}
}

func TestSignedTokenTamperedFailsVerify(t *testing.T) {
	r, _ := loadTestKeyring(t, EdDSA)
	now := time.Now().Unix()
	tok, err := r.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "s", Scope: "vaults:read", Expiry: now + 60, ID: "j"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	parts := strings.Split(tok, ".")
	other, err := r.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "s", Scope: "vaults:read vaults:write", Expiry: now + 60, ID: "j"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	// The payload of one token under the signature of another must not verify.
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	if _, err := r.Verify(forged); err == nil {
		t.Fatal("Verify accepted a payload under another token's signature")
	}
}

// TestNonCanonicalEncodingFailsVerify checks that a token whose signature is written with
// other unused low bits in its last base64url character does not verify. Go's decoder reads
// such a signature as the same bytes, so it would otherwise verify as a second string for
// the same token.
func TestNonCanonicalEncodingFailsVerify(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			r, _ := loadTestKeyring(t, alg)
			tok, err := r.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "s", Scope: "vaults:read", Expiry: time.Now().Unix() + 60, ID: "j"})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if _, err := r.Verify(tok); err != nil {
				t.Fatalf("Verify of the token Sign returned: %v", err)
			}
			last := strings.IndexByte(base64URLAlphabet, tok[len(tok)-1])
			variants := 0
			for i := range len(base64URLAlphabet) {
				// Keep the bits that encode data and change only the unused low bits. Every
				// signature here is 1 modulo 3 bytes long, which leaves 4 unused bits.
				if i == last || i>>4 != last>>4 {
					continue
				}
				variants++
				variant := tok[:len(tok)-1] + base64URLAlphabet[i:i+1]
				if _, err := r.Verify(variant); err == nil {
					t.Errorf("Verify accepted the token with its last character %q changed to %q", tok[len(tok)-1], base64URLAlphabet[i])
				}
			}
			if variants != 15 {
				t.Errorf("checked %d variants, want 15: the signature length leaves other unused bits", variants)
			}
		})
	}
}

// twoKeyring is a keyring loaded with the older of two EdDSA keys, and a token it signed.
type twoKeyring struct {
	ring      *Keyring
	master    *iogate.MasterKey
	now       time.Time
	old, next *iogate.SigningKey
	token     string
}

// newTwoKeyring generates two EdDSA keys, created an hour apart, and loads the older.
func newTwoKeyring(t *testing.T) *twoKeyring {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	master, err := iogate.NewMasterKey(raw)
	if err != nil {
		t.Fatalf("NewMasterKey: %v", err)
	}
	now := time.Now()
	old, err := GenerateSigningKey(EdDSA, master, now.Add(-time.Hour))
	if err != nil {
		t.Fatalf("GenerateSigningKey: %v", err)
	}
	next, err := GenerateSigningKey(EdDSA, master, now)
	if err != nil {
		t.Fatalf("GenerateSigningKey: %v", err)
	}
	r := NewKeyring()
	if err := r.Load([]*iogate.SigningKey{old}, EdDSA, master, now); err != nil {
		t.Fatalf("Load: %v", err)
	}
	tok, err := r.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "s", Scope: "vaults:read", Expiry: now.Unix() + 60, ID: "j"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return &twoKeyring{ring: r, master: master, now: now, old: old, next: next, token: tok}
}

// TestKeyringDropsRemovedKey checks that a key left out of the next Load no longer
// verifies its tokens, and that VerifyKey and Published name the keys that remain.
func TestKeyringDropsRemovedKey(t *testing.T) {
	ks := newTwoKeyring(t)
	r, master, now, revoked, replacement, tok := ks.ring, ks.master, ks.now, ks.old, ks.next, ks.token
	if _, kid, err := r.VerifyKey(tok); err != nil || kid != revoked.KID {
		t.Fatalf("VerifyKey before the removal = kid %q, error %v; want kid %s", kid, err, revoked.KID)
	}

	if err := r.Load([]*iogate.SigningKey{replacement}, EdDSA, master, now); err != nil {
		t.Fatalf("Load without the revoked key: %v", err)
	}
	_, _, err := r.VerifyKey(tok)
	if err != ErrUnknownKey {
		t.Errorf("VerifyKey of a token of the removed key = %v, want ErrUnknownKey", err)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("errors.Is(%v, ErrMalformed) = false, want true", err)
	}
	if r.Published(revoked.KID) {
		t.Errorf("Published(%s) = true after the key was left out of Load", revoked.KID)
	}
	if !r.Published(replacement.KID) {
		t.Errorf("Published(%s) = false for a loaded key", replacement.KID)
	}
	if kids := r.KeyIDs(); len(kids) != 1 || kids[0] != replacement.KID {
		t.Errorf("KeyIDs = %v, want [%s]", kids, replacement.KID)
	}
}

// TestKeyringUnpublishedKey checks that a key moved from Load to LoadUnpublished verifies
// its tokens with ErrUnpublished and the claims, that it is neither published nor in the
// JWKS, and that a forged signature under its KID is ErrBadSignature.
func TestKeyringUnpublishedKey(t *testing.T) {
	ks := newTwoKeyring(t)
	r, master, now, retired, current, tok := ks.ring, ks.master, ks.now, ks.old, ks.next, ks.token

	if err := r.LoadUnpublished([]*iogate.SigningKey{retired}); err != nil {
		t.Fatalf("LoadUnpublished: %v", err)
	}
	if err := r.Load([]*iogate.SigningKey{current}, EdDSA, master, now); err != nil {
		t.Fatalf("Load without the retired key: %v", err)
	}
	c, kid, err := r.VerifyKey(tok)
	if err != ErrUnpublished {
		t.Fatalf("VerifyKey of a token of the unpublished key = %v, want ErrUnpublished", err)
	}
	if c == nil || c.ID != "j" || kid != retired.KID {
		t.Errorf("VerifyKey of a token of the unpublished key = claims %+v, kid %q; want jti j and kid %s", c, kid, retired.KID)
	}
	if r.Published(retired.KID) || strings.Contains(string(r.JWKS()), retired.KID) {
		t.Errorf("unpublished key %s is published or in the JWKS", retired.KID)
	}

	// A token with the retired key's KID and another token's signature is a forgery.
	parts := strings.Split(tok, ".")
	other, err := r.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "s", Expiry: now.Unix() + 60, ID: "k"})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	forged := parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2]
	if c, _, err := r.VerifyKey(forged); err != ErrBadSignature || c != nil {
		t.Errorf("VerifyKey of a forged token under the unpublished key = claims %+v, error %v; want ErrBadSignature", c, err)
	}

	bad := &iogate.SigningKey{KID: "bad", PublicJWK: []byte("{")}
	if err := r.LoadUnpublished([]*iogate.SigningKey{bad, retired}); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("LoadUnpublished with an invalid public key = %v, want an error naming it", err)
	}
	if _, _, err := r.VerifyKey(tok); err != ErrUnpublished {
		t.Errorf("VerifyKey after a LoadUnpublished that skipped an invalid key = %v, want ErrUnpublished for the valid one", err)
	}
}
