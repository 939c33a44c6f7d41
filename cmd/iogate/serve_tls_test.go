package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	iohttp "github.com/iogate/iogate/http"
)

// TestServeBadTLSPairLeavesNoDataDir checks that a first start whose --tls-cert cannot be
// loaded fails before it creates the data directory, so that no master key, database or
// signing key is left behind for a later start to trip over.
func TestServeBadTLSPairLeavesNoDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, stderr, err := runCLI(t, dir, nil, "serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "",
		"--tls-cert", missing, "--tls-key", missing)
	if err == nil {
		t.Fatal("serve with a missing --tls-cert succeeded")
	}
	if !strings.Contains(stderr, missing) {
		t.Errorf("serve with a missing --tls-cert: stderr %q, want it to name %s", stderr, missing)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve with a missing --tls-cert: stat of the data directory = %v, want it not to exist", err)
	}
}

// writeCertPair writes a new self-signed certificate and key to certPath and keyPath and
// sets the key file's mode.
func writeCertPair(t *testing.T, certPath, keyPath string, keyMode os.FileMode) {
	t.Helper()
	dir := t.TempDir()
	newCert, newKey := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := iohttp.EnsureSelfSignedCert(newCert, newKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{{newCert, certPath}, {newKey, keyPath}} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(keyPath, keyMode); err != nil {
		t.Fatal(err)
	}
}

// TestTLSKeyModeWarning checks that loading a private key file that other users can read
// logs a warning naming the file and the chmod to run, at start and at a reload, and that
// a mode-0600 key gets none.
func TestTLSKeyModeWarning(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCertPair(t, certPath, keyPath, 0o644)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))

	certs, err := loadCertificate(serveConfig{tlsCert: certPath, tlsKey: keyPath}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TLS private key file " + keyPath, "(mode 0644)", "chmod 600 " + keyPath} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start with a mode-0644 key: logs %q, want them to contain %q", logs.String(), want)
		}
	}

	logs.Reset()
	writeCertPair(t, certPath, keyPath, 0o640)
	if changed, err := certs.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a new pair = %t, %v; want true, nil", changed, err)
	}
	if !strings.Contains(logs.String(), "(mode 0640)") {
		t.Errorf("reload of a mode-0640 key: logs %q, want a warning with (mode 0640)", logs.String())
	}

	logs.Reset()
	writeCertPair(t, certPath, keyPath, 0o600)
	if changed, err := certs.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a new pair = %t, %v; want true, nil", changed, err)
	}
	if strings.Contains(logs.String(), "TLS private key file") {
		t.Errorf("reload of a mode-0600 key: logs %q, want no warning", logs.String())
	}
}

// TestServeHelpStatesRanges checks that the help of each serve flag whose value is
// checked against a range states the range that the check enforces.
func TestServeHelpStatesRanges(t *testing.T) {
	root, _ := newRootCommand(noEnv, noEnviron, io.Discard, io.Discard)
	serveCmd, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	rangeInError := regexp.MustCompile(`from (\S+) to (\S+?)(:|$| and)`)
	for _, c := range []struct{ flag, outOfRange string }{
		{"token-ttl", "30s"},
		{"max-staleness", "2h"},
		{"resync-interval", "1s"},
		{"store-timeout", "2m"},
		{"failure-log-interval", "1ms"},
		{"shutdown-drain", "10m"},
		{"max-header-bytes", "100"},
	} {
		_, _, err := runCLI(t, t.TempDir(), nil, "serve", "--"+c.flag, c.outOfRange)
		if err == nil {
			t.Errorf("serve --%s %s succeeded, want a range error", c.flag, c.outOfRange)
			continue
		}
		m := rangeInError.FindStringSubmatch(err.Error())
		if m == nil {
			t.Errorf("serve --%s %s: error %q names no range", c.flag, c.outOfRange, err)
			continue
		}
		want := m[1] + " to " + m[2]
		if usage := serveCmd.Flags().Lookup(c.flag).Usage; !strings.Contains(usage, want) {
			t.Errorf("help of --%s is %q, want it to state the range %s", c.flag, usage, want)
		}
	}
}
