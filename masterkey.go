package iogate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// MasterKey encrypts, with AES-256-GCM, every secret that the store holds: token-signing
// private keys and the pepper of the secret hashes. It never leaves the process and is
// not itself stored in the database.
type MasterKey struct {
	aead cipher.AEAD
}

// NewMasterKey returns a MasterKey for the 32 raw bytes in key.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead}, nil
}

// ParseMasterKey decodes a base64 master key, as IOGATE_MASTER_KEY and the key file hold it.
func ParseMasterKey(text string) (*MasterKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("master key is not valid base64")
	}
	return NewMasterKey(raw)
}

// LoadOrCreateMasterKeyFile reads the base64 master key in path, or, when the file does not
// exist and create is true, writes a new random one there with mode 0600.
func LoadOrCreateMasterKeyFile(path string, create bool) (*MasterKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseMasterKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("read master key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	raw := make([]byte, MasterKeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it between our read and our create: use theirs.
		return LoadOrCreateMasterKeyFile(path, false)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	return NewMasterKey(raw)
}

// Seal encrypts plaintext. The name binds the ciphertext to its purpose, so a sealed value
// cannot be moved to another slot.
func (m *MasterKey) Seal(name string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return m.aead.Seal(nonce, nonce, plaintext, []byte(name)), nil
}

// ErrWrongMasterKey means a sealed value did not decrypt: the master key is not the one
// that sealed it, or the value was altered.
var ErrWrongMasterKey = errors.New("stored secrets do not decrypt with this master key; use the store's current master key: " +
	"the one it was created with, or the new key of the last \"iogate master-key rotate\"")

// Open decrypts a value sealed under the same name.
func (m *MasterKey) Open(name string, sealed []byte) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrWrongMasterKey
	}
	out, err := m.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return nil, ErrWrongMasterKey
	}
	return out, nil
}
