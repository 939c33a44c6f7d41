package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/internal/testenv"
)

// closedWithin reports whether the server closes conn within d: a read returns EOF or a
// reset, rather than timing out on the test's own deadline.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

func TestSlowClientsAreCutOff(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--read-header-timeout", "1s", "--read-timeout", "2s"}})
	tlsConfig := &tls.Config{RootCAs: f.srv.RootCAs, NextProtos: []string{"http/1.1"}}

	t.Run("connection that never starts TLS", func(t *testing.T) {
		conn, err := net.Dial("tcp", f.srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !closedWithin(conn, 5*time.Second) {
			t.Error("the server kept a silent connection open for 5s; want it cut off after the 1s header timeout")
		}
	})

	t.Run("half a request header", func(t *testing.T) {
		conn, err := tls.Dial("tcp", f.srv.Addr, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /v1/auth/accessToken HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
		if !closedWithin(conn, 5*time.Second) {
			t.Error("the server waited 5s for the rest of the header; want it cut off after 1s")
		}
	})

	t.Run("half a request body", func(t *testing.T) {
		conn, err := tls.Dial("tcp", f.srv.Addr, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /v1/auth/accessToken HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"clientId\":")
		conn.SetReadDeadline(time.Now().Add(6 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("incomplete body: status %d, want 400 after the read timeout", resp.StatusCode)
			}
			if !closedWithin(conn, 5*time.Second) {
				t.Error("connection left open after the body read timed out")
			}
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("no answer within 6s to a body that stopped halfway; want it cut off after the 2s read timeout")
		}
	})

	t.Run("oversized header", func(t *testing.T) {
		// Go's HTTP/2 client refuses to send a header list larger than the server
		// advertises, so this uses HTTP/1.1, where the server itself must refuse it.
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: f.srv.RootCAs, NextProtos: []string{"http/1.1"}},
			TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		}
		r := do(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "GET", f.srv.URL+"/v1/vaults",
			map[string]string{"X-Padding": strings.Repeat("a", 80<<10)}, "")
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("80 KiB header: status %d, want 431", r.status)
		}
	})

	t.Run("the server still serves", func(t *testing.T) {
		accessToken(t, f.srv, f.clientID, f.clientSecret)
	})
}

func TestCertificateReload(t *testing.T) {
	certDir := t.TempDir()
	certPath, keyPath := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	// An earlier creation time gives the first certificate another expiry than the
	// second, so that the expiry gauge shows which one is served.
	first, err := iohttp.EnsureSelfSignedCert(certPath, keyPath, time.Now().Add(-30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	srv, dial, nextDir, second := startWithTwoCerts(t, certPath, keyPath, first, "100ms")
	healthz := func(c *tls.Conn, rd *bufio.Reader) {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("request on the established connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /healthz: status %d", resp.StatusCode)
		}
	}

	old := dial()
	defer old.Close()
	oldReader := bufio.NewReader(old)
	healthz(old, oldReader)
	if servedSerial(old) != first.Leaf.SerialNumber.String() {
		t.Fatal("the server does not serve the --tls-cert certificate")
	}
	listening := logLine(t, srv.SyncedLogs(t), "iogate listening")
	for _, want := range []string{`"cert_file":"` + certPath + `"`, `"serial":"` + opensslSerial(first.Leaf.SerialNumber) + `"`,
		`"not_after":"` + first.Leaf.NotAfter.UTC().Format(time.RFC3339) + `"`} {
		if !strings.Contains(listening, want) {
			t.Errorf("listening line %s, want it to contain %s", listening, want)
		}
	}

	const expiry, failures = "iogate_tls_certificate_expiry_timestamp_seconds", "iogate_tls_reload_failures_total"
	if got, want := metricValue(t, srv, expiry), float64(first.Leaf.NotAfter.Unix()); got != want {
		t.Errorf("%s at start = %v, want %v", expiry, got, want)
	}
	if got := metricValue(t, srv, failures); got != 0 {
		t.Errorf("%s at start = %v, want 0", failures, got)
	}

	// The new certificate without its key fails to load at every check until the key
	// arrives, and each check counts.
	copyFile(t, filepath.Join(nextDir, "cert.pem"), certPath)
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(t, srv, failures) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach 2 within 5s of a mismatched pair", failures)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(srv.SyncedLogs(t), "TLS certificate reload failed"); n != 1 {
		t.Errorf("a mismatched pair over several checks logged %d failures, want 1", n)
	}

	replaceCertFiles(t, nextDir, certDir)
	waitForSerial(t, dial, second.Leaf.SerialNumber.String(), "the files changed")
	healthz(old, oldReader)
	if got, want := metricValue(t, srv, expiry), float64(second.Leaf.NotAfter.Unix()); got != want {
		t.Errorf("%s after the reload = %v, want %v", expiry, got, want)
	}
	reloaded := logLine(t, srv.SyncedLogs(t), "TLS certificate reloaded")
	if want := `"serial":"` + opensslSerial(second.Leaf.SerialNumber) + `"`; !strings.Contains(reloaded, want) {
		t.Errorf("reload line %s, want it to contain %s", reloaded, want)
	}
}

// logLine returns the first JSON log line in logs whose message is msg, and fails the test
// when there is none.
func logLine(t *testing.T, logs, msg string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"`+msg+`"`) {
			return line
		}
	}
	t.Fatalf("no %q line in the server's logs", msg)
	return ""
}

// opensslSerial returns serial as "openssl x509 -serial" prints it: the upper-case
// hexadecimal of its big-endian bytes.
func opensslSerial(serial *big.Int) string {
	return strings.ToUpper(hex.EncodeToString(serial.Bytes()))
}

// TestCertificateReloadOnSIGHUP checks that SIGHUP reloads the certificate at once, long
// before the next periodic check, and leaves the server running.
func TestCertificateReloadOnSIGHUP(t *testing.T) {
	certDir := t.TempDir()
	certPath, keyPath := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	first, err := iohttp.EnsureSelfSignedCert(certPath, keyPath, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, dial, nextDir, second := startWithTwoCerts(t, certPath, keyPath, first, "1h")

	// With unchanged files, SIGHUP logs that nothing changed, and the server keeps serving.
	srv.Signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.SyncedLogs(t), "TLS certificate files unchanged") {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP with unchanged files was not logged within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	replaceCertFiles(t, nextDir, certDir)
	srv.Signal(t, syscall.SIGHUP)
	waitForSerial(t, dial, second.Leaf.SerialNumber.String(), "SIGHUP")
	if srv.Exited() {
		t.Fatal("the server ended on SIGHUP")
	}
	if !strings.Contains(srv.SyncedLogs(t), "TLS certificate reloaded") {
		t.Error("the reload was not logged")
	}
}

// startWithTwoCerts starts a server on the certificate first, stored at certPath and keyPath,
// and makes a second certificate in another directory for the test to move into place. It
// returns the server, a dial function that trusts both certificates, the second pair's
// directory and the second certificate.
func startWithTwoCerts(t *testing.T, certPath, keyPath string, first tls.Certificate, reloadInterval string) (*testenv.Server, func() *tls.Conn, string, tls.Certificate) {
	t.Helper()
	nextDir := t.TempDir()
	second, err := iohttp.EnsureSelfSignedCert(filepath.Join(nextDir, "cert.pem"), filepath.Join(nextDir, "key.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := testenv.Start(t, filepath.Join(t.TempDir(), "data"), testenv.Options{
		Args: []string{"--tls-cert", certPath, "--tls-key", keyPath, "--tls-reload-interval", reloadInterval},
	})
	roots := x509.NewCertPool()
	roots.AddCert(first.Leaf)
	roots.AddCert(second.Leaf)
	dial := func() *tls.Conn {
		t.Helper()
		conn, err := tls.Dial("tcp", srv.Addr, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		return conn
	}
	return srv, dial, nextDir, second
}

// servedSerial returns the serial number of the certificate that c received.
func servedSerial(c *tls.Conn) string {
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// replaceCertFiles replaces cert.pem and key.pem in dir with those of from, the way
// certificate tools do: it writes new files beside them and renames them into place.
func replaceCertFiles(t *testing.T, from, dir string) {
	t.Helper()
	for _, name := range []string{"key.pem", "cert.pem"} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForSerial polls new connections until they get the certificate with serial number
// want, and fails the test after 5 seconds. after names the event that should have caused
// the change.
func waitForSerial(t *testing.T, dial func() *tls.Conn, want, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial()
		s := servedSerial(c)
		c.Close()
		if s == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get the old certificate 5s after %s", after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
