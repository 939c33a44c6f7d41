package http

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// splitFixture serves the two listeners of SplitPlainHTTP on loopback: TLS connections
// get "tls" and plain ones "plain" as their response body.
type splitFixture struct {
	addr   string
	pool   *x509.CertPool
	tlsLn  net.Listener
	plain  net.Listener
	served chan error
}

func newSplitFixture(t *testing.T, firstByteTimeout time.Duration) *splitFixture {
	t.Helper()
	dir := t.TempDir()
	cert, err := EnsureSelfSignedCert(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, plainLn := SplitPlainHTTP(ln, TLSConfig(cert), firstByteTimeout)
	f := &splitFixture{addr: ln.Addr().String(), pool: pool, tlsLn: tlsLn, plain: plainLn, served: make(chan error, 2)}
	body := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) })
	}
	tlsSrv := &http.Server{Handler: body("tls"), ReadHeaderTimeout: 5 * time.Second}
	plainSrv := &http.Server{Handler: body("plain"), ReadHeaderTimeout: 5 * time.Second}
	go func() { f.served <- tlsSrv.Serve(tlsLn) }()
	go func() { f.served <- plainSrv.Serve(plainLn) }()
	t.Cleanup(func() {
		tlsSrv.Close()
		plainSrv.Close()
	})
	return f
}

func (f *splitFixture) get(t *testing.T, scheme string) string {
	t.Helper()
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool, ServerName: "localhost"}},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(scheme + "://" + f.addr + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", scheme, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSplitPlainHTTPSortsConnections checks that TLS and plain HTTP clients of one port
// reach the listener of their protocol.
func TestSplitPlainHTTPSortsConnections(t *testing.T) {
	f := newSplitFixture(t, 5*time.Second)
	for range 3 {
		if got := f.get(t, "https"); got != "tls" {
			t.Errorf("HTTPS request reached the %q server, want tls", got)
		}
		if got := f.get(t, "http"); got != "plain" {
			t.Errorf("plain HTTP request reached the %q server, want plain", got)
		}
	}
}

// TestSplitPlainHTTPSilentClient checks that a connection that sends nothing is closed
// after the first-byte timeout and does not delay other clients.
func TestSplitPlainHTTPSilentClient(t *testing.T) {
	f := newSplitFixture(t, 300*time.Millisecond)
	silent, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got := f.get(t, "https"); got != "tls" {
		t.Errorf("HTTPS request beside a silent client reached the %q server, want tls", got)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = silent.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("silent connection still open after the first-byte timeout: read error %v", err)
	}
}

// TestSplitPlainHTTPNotHTTP checks that bytes that are neither TLS nor HTTP reach the
// plain server, which rejects them with 400.
func TestSplitPlainHTTPNotHTTP(t *testing.T) {
	f := newSplitFixture(t, 5*time.Second)
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("\x00\x01 not a request\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read the response: %v", err)
	}
	if !strings.Contains(line, " 400 ") {
		t.Errorf("response to bytes that are not HTTP: %q, want a 400 status line", line)
	}
}

// TestSplitPlainHTTPClose checks that closing one listener ends both servers' Serve.
func TestSplitPlainHTTPClose(t *testing.T) {
	f := newSplitFixture(t, 5*time.Second)
	if err := f.tlsLn.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-f.served:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after the listener closed")
		}
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("the port still accepts connections after Close")
	}
}
