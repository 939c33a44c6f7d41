package http

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iogate/iogate/metrics"
)

// CertReloader serves a certificate and key from PEM files and reloads them when their
// contents change, so that a renewed certificate takes effect without a restart. It
// compares contents rather than modification times, which may not change on every
// filesystem or may change without new contents.
type CertReloader struct {
	certPath, keyPath string
	log               *slog.Logger
	options           CertReloaderOptions

	cert atomic.Pointer[tls.Certificate]

	mu sync.Mutex
	// loaded is the digest of the files that cert came from.
	loaded [sha256.Size]byte
	// failed identifies the last failure since the last load: the digest of files that
	// did not load, or the message of a read error. Each failure is logged once, not at
	// every poll, until the files change.
	failed string
}

// CertReloaderOptions are the optional settings of a CertReloader.
type CertReloaderOptions struct {
	// CheckKeyFile, when set, is called with the key file's path after each load of a new
	// pair, at start and at every reload, such as to warn about the file's mode.
	CheckKeyFile func(keyPath string)
	// Metrics receives the expiry of each certificate loaded and counts each failed
	// reload. nil records nothing.
	Metrics *metrics.Metrics
}

// NewCertReloader loads the certificate and key, or returns an error naming the files.
func NewCertReloader(certPath, keyPath string, log *slog.Logger, options CertReloaderOptions) (*CertReloader, error) {
	c := &CertReloader{certPath: certPath, keyPath: keyPath, log: log, options: options}
	certPEM, keyPEM, digest, err := c.read()
	if err != nil {
		return nil, err
	}
	if err := c.load(certPEM, keyPEM, digest); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate returns the current certificate, for tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// Reload reads both files and, when their contents changed since the last load, loads
// them. It reports whether a new certificate was loaded. On error the current certificate
// stays in use; files caught halfway through being replaced load on a later call.
func (c *CertReloader) Reload() (bool, error) {
	changed, err := c.reload()
	if err != nil {
		c.options.Metrics.TLSReloadFailed()
	}
	return changed, err
}

func (c *CertReloader) reload() (bool, error) {
	certPEM, keyPEM, digest, err := c.read()
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	same := digest == c.loaded
	if same {
		// The files are back to the pair in use, so a later failure is new and logged.
		c.failed = ""
	}
	c.mu.Unlock()
	if same {
		return false, nil
	}
	if err := c.load(certPEM, keyPEM, digest); err != nil {
		return false, err
	}
	return true, nil
}

// Watch calls Reload every interval, and at once whenever a value arrives on now, until
// ctx ends. It logs each new certificate, and each failure once until the files change:
// a pair that does not load, or a file that cannot be read. A reload requested through now
// is always logged, even when nothing changed or the same failure was logged before, so
// that the operator who sent the signal gets its result.
func (c *CertReloader) Watch(ctx context.Context, interval time.Duration, now <-chan os.Signal) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		requested := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
			requested = true
		}
		changed, err := c.Reload()
		switch {
		case err != nil:
			if c.firstFailure(err) || requested {
				c.log.Warn("TLS certificate reload failed; serving the previous certificate", "cert_file", c.certPath, "key_file", c.keyPath, "error", err)
			}
		case changed:
			c.log.Info("TLS certificate reloaded", c.LogAttrs()...)
		case requested:
			c.log.Info("TLS certificate files unchanged; nothing to reload", "cert_file", c.certPath)
		}
	}
}

// LogAttrs returns the log attributes of the current certificate: its file, its expiry
// and its serial number in the upper-case hexadecimal that "openssl x509 -serial" prints.
func (c *CertReloader) LogAttrs() []any {
	leaf := c.cert.Load().Leaf
	return []any{"cert_file", c.certPath, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "serial", formatSerial(leaf.SerialNumber)}
}

// formatSerial returns serial as "openssl x509 -serial" prints it: upper-case hexadecimal
// with an even number of digits, so 0 is "00" and 0xabc is "0ABC".
func formatSerial(serial *big.Int) string {
	digits := strings.ToUpper(new(big.Int).Abs(serial).Text(16))
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	if serial.Sign() < 0 {
		digits = "-" + digits
	}
	return digits
}

func (c *CertReloader) read() (certPEM, keyPEM []byte, digest [sha256.Size]byte, err error) {
	certPEM, err = os.ReadFile(c.certPath)
	if err != nil {
		return nil, nil, digest, fmt.Errorf("read TLS certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(c.keyPath)
	if err != nil {
		return nil, nil, digest, fmt.Errorf("read TLS key: %w", err)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	h.Sum(digest[:0])
	return certPEM, keyPEM, digest, nil
}

// loadErr is a pair of files that does not load; it carries their digest so that Watch
// logs each bad pair once.
type loadErr struct {
	digest [sha256.Size]byte
	err    error
}

func (e *loadErr) Error() string { return e.err.Error() }
func (e *loadErr) Unwrap() error { return e.err }

func (c *CertReloader) load(certPEM, keyPEM []byte, digest [sha256.Size]byte) error {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return &loadErr{digest: digest, err: fmt.Errorf("load TLS certificate %s and key %s: %w", c.certPath, c.keyPath, err)}
	}
	c.mu.Lock()
	c.loaded = digest
	c.failed = ""
	c.mu.Unlock()
	c.cert.Store(&cert)
	c.options.Metrics.TLSCertificateLoaded(cert.Leaf.NotAfter)
	if c.options.CheckKeyFile != nil {
		c.options.CheckKeyFile(c.keyPath)
	}
	return nil
}

// firstFailure reports whether err differs from the last failure: a pair of files with
// other contents, or a read error with another message, such as a missing file.
func (c *CertReloader) firstFailure(err error) bool {
	key := err.Error()
	var le *loadErr
	if errors.As(err, &le) {
		key = string(le.digest[:])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if key == c.failed {
		return false
	}
	c.failed = key
	return true
}
