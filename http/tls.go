package http

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSConfig returns the server TLS settings: TLS 1.2 at least, and for TLS 1.2 only ECDHE
// key exchange with AEAD ciphers (TLS 1.3 suites are all AEAD and not configurable).
func TLSConfig(cert tls.Certificate) *tls.Config {
	c := baseTLSConfig()
	c.Certificates = []tls.Certificate{cert}
	return c
}

// TLSConfigReloading returns the TLSConfig settings with the certificate taken from
// reloader at each handshake, so that a replaced certificate applies to new connections
// while established ones continue.
func TLSConfigReloading(reloader *CertReloader) *tls.Config {
	c := baseTLSConfig()
	c.GetCertificate = reloader.GetCertificate
	return c
}

func baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// EnsureSelfSignedCert returns the certificate in certPath and keyPath, first writing a new
// self-signed one for localhost, 127.0.0.1 and ::1 when either file is missing or the
// certificate expires within a week. Clients trust it by passing certPath as their CA.
// Processes that start together on a new data directory take turns, so the files always
// hold one pair.
func EnsureSelfSignedCert(certPath, keyPath string, now time.Time) (tls.Certificate, error) {
	if cert, ok, err := loadCurrentSelfSigned(certPath, keyPath, now); ok || err != nil {
		return cert, err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return tls.Certificate{}, err
	}
	unlock, err := lockFile(certPath + ".lock")
	if err != nil {
		return tls.Certificate{}, err
	}
	defer unlock()
	// Another process may have written the pair while this one waited for the lock.
	if cert, ok, err := loadCurrentSelfSigned(certPath, keyPath, now); ok || err != nil {
		return cert, err
	}
	return writeSelfSignedCert(certPath, keyPath, now)
}

// loadCurrentSelfSigned returns the pair in certPath and keyPath and true when it loads and
// stays valid for more than a week. Missing files or an expiring certificate give false
// and no error.
func loadCurrentSelfSigned(certPath, keyPath string, now time.Time) (tls.Certificate, bool, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil && cert.Leaf != nil && now.Add(7*24*time.Hour).Before(cert.Leaf.NotAfter) {
		return cert, true, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, false, fmt.Errorf("load TLS certificate %s: %w", certPath, err)
	}
	return tls.Certificate{}, false, nil
}

// lockTimeout bounds the wait for another process's lock file, and a lock file older than
// it is taken to be left by a process that died while it held it.
const lockTimeout = 30 * time.Second

// lockFile creates path with O_EXCL, which works on every platform, unlike flock, and returns
// a function that removes it. It waits up to lockTimeout for another process's file to go.
// NOTE: two processes that find the same stale file at once can both take the lock.
func lockFile(path string) (unlock func(), err error) {
	deadline := time.Now().Add(lockTimeout)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create lock file: %w", err)
		}
		if info, statErr := os.Stat(path); statErr == nil && time.Since(info.ModTime()) > lockTimeout {
			// Without this check, a stale path that cannot be removed (a directory with
			// files in it, or one in a read-only directory) would be retried without end.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove stale lock file (delete it if no iogate process runs): %w", err)
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock file %s timed out: another process has held it for %s; if no iogate process runs, delete the file", path, lockTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeSelfSignedCert writes a new self-signed pair to certPath and keyPath and returns it.
// The caller holds the lock of certPath.
func writeSelfSignedCert(certPath, keyPath string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"iogate self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		// Not a CA: clients that trust this file as a root (curl --cacert) trust this one
		// certificate, and its key cannot sign certificates for other hosts.
		IsCA:        false,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(keyPath, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// writePEM writes der to path with mode through a temporary file and a rename, so readers
// see the old file or the new one. The temporary file gets a new random name (os.CreateTemp
// opens it with O_EXCL), so a file or symbolic link left at a fixed name can neither
// receive the private key nor give it a wider mode.
func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
