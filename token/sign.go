package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// compactSigner writes JWS compact serializations (RFC 7515 section 7.1) for one key. The
// protected header is the same for every token a key signs, so it is encoded once, when the
// keyring loads, and each token costs only the payload's encoding and the signature. The
// output is byte for byte what go-jose's signer produces for the same key and payload.
type compactSigner struct {
	alg string
	key crypto.Signer
	// header is the base64url-encoded protected header followed by a dot.
	header string
}

// protectedHeader is the JOSE header of access tokens. Its fields are in the order go-jose
// writes them, which sorts them by name.
type protectedHeader struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid"`
	Type      string `json:"typ"`
}

func newCompactSigner(alg, kid string, key any) (*compactSigner, error) {
	var signer crypto.Signer
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if alg == EdDSA {
			signer = k
		}
	case *ecdsa.PrivateKey:
		if alg == ES256 && k.Curve.Params().BitSize == 256 {
			signer = k
		}
	case *rsa.PrivateKey:
		if alg == RS256 {
			signer = k
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("a %T cannot sign %s tokens", key, alg)
	}
	h, err := json.Marshal(protectedHeader{Algorithm: alg, KeyID: kid, Type: Type})
	if err != nil {
		return nil, err
	}
	return &compactSigner{alg: alg, key: signer, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// sign returns header.payload.signature with payload base64url-encoded.
func (s *compactSigner) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	sigLen := s.signatureLength()
	n := len(s.header) + enc.EncodedLen(len(payload))
	out := make([]byte, n, n+1+enc.EncodedLen(sigLen))
	copy(out, s.header)
	enc.Encode(out[len(s.header):], payload)

	sig, err := s.signInput(out)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

func (s *compactSigner) signatureLength() int {
	switch k := s.key.(type) {
	case ed25519.PrivateKey:
		return ed25519.SignatureSize
	case *rsa.PrivateKey:
		return k.Size()
	}
	return 64
}

// signInput signs the JWS signing input with the algorithm's hash and signature encoding:
// Ed25519 over the input itself, RSASSA-PKCS1-v1_5 over its SHA-256, and ECDSA P-256 over
// its SHA-256 with r and s as two 32-byte big-endian numbers (RFC 7518 section 3.4).
func (s *compactSigner) signInput(input []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		r, sv, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		sv.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("unsupported signing key %T", s.key)
}
