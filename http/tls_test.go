package http

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTLSServer serves a tiny handler over TLS with cfg on a loopback port.
func startTLSServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second,
		// The refused handshakes are the point of some tests, not noise for the output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func writeSelfSigned(t *testing.T, dir string) (certPath, keyPath string, cert tls.Certificate) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert, err := EnsureSelfSignedCert(certPath, keyPath, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, cert
}

func TestTLSVersionsAndSuites(t *testing.T) {
	_, _, cert := writeSelfSigned(t, t.TempDir())
	addr := startTLSServer(t, TLSConfig(cert))

	cases := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 with ECDHE and AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 with ECDHE and ChaCha20-Poly1305", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.2 with CBC only", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.client.InsecureSkipVerify = true
			conn, err := tls.Dial("tcp", addr, c.client)
			if err == nil {
				conn.Close()
			}
			if c.ok && err != nil {
				t.Errorf("handshake failed: %v; want it to succeed", err)
			}
			if !c.ok && err == nil {
				t.Error("handshake succeeded; want it refused")
			}
		})
	}
}

// TestTLSSuitesWithRSACertificate checks the suites that only an RSA certificate can
// use: RSA key exchange, which lacks forward secrecy, must be refused even with AES-GCM.
func TestTLSSuitesWithRSACertificate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	addr := startTLSServer(t, TLSConfig(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}))

	cases := []struct {
		name  string
		suite uint16
		ok    bool
	}{
		{"ECDHE-RSA with AES-GCM", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
		{"ECDHE-RSA with ChaCha20-Poly1305", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{"RSA key exchange with AES-GCM", tls.TLS_RSA_WITH_AES_128_GCM_SHA256, false},
		{"ECDHE-RSA with AES-CBC", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{c.suite}})
			if err == nil {
				conn.Close()
			}
			if c.ok != (err == nil) {
				t.Errorf("handshake error = %v; want success %t", err, c.ok)
			}
		})
	}
}

// keepAliveConn is one TLS connection that sends HTTP/1.1 requests one after another.
type keepAliveConn struct {
	conn *tls.Conn
	rd   *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string, roots *x509.CertPool) *keepAliveConn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &keepAliveConn{conn: conn, rd: bufio.NewReader(conn)}
}

func (c *keepAliveConn) get(t *testing.T) {
	t.Helper()
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(c.rd, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
}

func (c *keepAliveConn) serial() string {
	return c.conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestCertReloadKeepsConnections(t *testing.T) {
	live := t.TempDir()
	certPath, keyPath, first := writeSelfSigned(t, live)
	nextCert, nextKey, second := writeSelfSigned(t, t.TempDir())
	reloader, err := NewCertReloader(certPath, keyPath, slog.New(slog.DiscardHandler), CertReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := startTLSServer(t, TLSConfigReloading(reloader))
	roots := x509.NewCertPool()
	roots.AddCert(first.Leaf)
	roots.AddCert(second.Leaf)

	old := dialKeepAlive(t, addr, roots)
	old.get(t)
	if old.serial() != first.Leaf.SerialNumber.String() {
		t.Fatal("first connection does not see the first certificate")
	}
	if changed, err := reloader.Reload(); changed || err != nil {
		t.Fatalf("Reload with unchanged files = %t, %v; want false, nil", changed, err)
	}

	// A key that does not match the certificate, as seen halfway through replacing both
	// files, is refused and the current certificate stays.
	copyFile(t, nextCert, certPath)
	if changed, err := reloader.Reload(); changed || err == nil {
		t.Fatalf("Reload with a mismatched key = %t, %v; want false and an error", changed, err)
	}
	if s := dialKeepAlive(t, addr, roots).serial(); s != first.Leaf.SerialNumber.String() {
		t.Error("a mismatched pair replaced the certificate")
	}

	copyFile(t, nextKey, keyPath)
	if changed, err := reloader.Reload(); !changed || err != nil {
		t.Fatalf("Reload after replacing both files = %t, %v; want true, nil", changed, err)
	}
	fresh := dialKeepAlive(t, addr, roots)
	fresh.get(t)
	if fresh.serial() != second.Leaf.SerialNumber.String() {
		t.Error("a new connection after the reload does not see the new certificate")
	}
	old.get(t)
	if old.serial() != first.Leaf.SerialNumber.String() {
		t.Error("the established connection changed certificate")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewCertReloaderNamesBadFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := NewCertReloader(missing, missing, slog.New(slog.DiscardHandler), CertReloaderOptions{}); err == nil {
		t.Error("NewCertReloader with missing files succeeded")
	}
}

// TestEnsureSelfSignedCertConcurrent checks that servers starting together on a new data
// directory end with one certificate and its key: each call returns the pair on disk.
func TestEnsureSelfSignedCertConcurrent(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		certPath, keyPath := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
		const callers = 6
		certs := make([]tls.Certificate, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				certs[i], errs[i] = EnsureSelfSignedCert(certPath, keyPath, time.Now())
			}()
		}
		wg.Wait()
		onDisk, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			t.Fatalf("round %d: the files on disk are not a pair: %v", round, err)
		}
		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(certs[i].Certificate[0], onDisk.Certificate[0]) {
				t.Fatalf("round %d, caller %d: returned a certificate other than the one on disk", round, i)
			}
		}
	}
}

// TestLockFileStaleUnremovable checks that a stale lock path that cannot be removed, here a
// directory with a file in it, fails the call with an error naming the path instead of
// retrying the removal without end.
func TestLockFileStaleUnremovable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cert.pem.lock")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * lockTimeout)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		unlock, err := lockFile(path)
		if err == nil {
			unlock()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("lockFile on a stale directory with contents succeeded, want an error")
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("lockFile error %q does not name %s", err, path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lockFile on a stale directory with contents still runs after 5s, want an error at once")
	}
}

// TestEnsureSelfSignedCertTempLink checks that a symbolic link left at the name of the key's
// temporary file does not receive the private key, and that key.pem ends up a regular file
// with mode 0600.
func TestEnsureSelfSignedCertTempLink(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("unchanged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, keyPath+".tmp"); err != nil {
		t.Fatal(err)
	}

	if _, err := EnsureSelfSignedCert(certPath, keyPath, time.Now()); err != nil {
		t.Fatalf("EnsureSelfSignedCert: %v", err)
	}
	data, err := os.ReadFile(outside)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "unchanged" {
		t.Errorf("the target of %s.tmp was overwritten with %d bytes, want it unchanged", keyPath, len(data))
	}
	info, err := os.Lstat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Mode().IsRegular() {
		t.Errorf("key.pem has mode %s, want a regular file", info.Mode())
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key.pem has permissions %04o, want 0600", info.Mode().Perm())
	}
}
