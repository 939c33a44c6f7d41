package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// readyzStatus returns the status code and the status field of the server's /readyz.
func readyzStatus(t *testing.T, srv *testenv.Server) (int, string) {
	t.Helper()
	resp, err := srv.Client.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /readyz: body is not JSON: %v", err)
	}
	return resp.StatusCode, body.Status
}

// waitDraining polls /readyz for up to two seconds until it reports the drain.
func waitDraining(t *testing.T, srv *testenv.Server) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, status := readyzStatus(t, srv)
		if code == http.StatusServiceUnavailable && status == "draining" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz after SIGTERM: %d %q, want 503 \"draining\"", code, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits up to 20 seconds for the server's process to end.
func waitExit(t *testing.T, srv *testenv.Server, after string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !srv.Exited() {
		if time.Now().After(deadline) {
			t.Fatalf("the server still runs 20s after %s", after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShutdownDrain checks that with --shutdown-drain a SIGTERM first turns /readyz to 503
// "draining" while token requests are still served, each response closing its connection,
// and that the server then exits on its own.
func TestShutdownDrain(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--shutdown-drain", "3s"}})
	if code, status := readyzStatus(t, f.srv); code != http.StatusOK || status != "ready" {
		t.Fatalf("GET /readyz before SIGTERM: %d %q, want 200 \"ready\"", code, status)
	}

	// An HTTP/1.1 client: HTTP/2 has no Connection header and ends with GOAWAY instead.
	http1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.srv.RootCAs}}}
	defer http1.CloseIdleConnections()

	f.srv.Signal(t, syscall.SIGTERM)
	waitDraining(t, f.srv)
	resp, err := http1.Post(f.srv.URL+"/v1/auth/accessToken", "application/json",
		strings.NewReader(credentialsJSON(f.clientID, f.clientSecret)))
	if err != nil {
		t.Fatalf("token request while draining: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("token request while draining: status %d, want 200", resp.StatusCode)
	}
	if !resp.Close {
		t.Error("token response while draining keeps the connection open, want Connection: close")
	}

	waitExit(t, f.srv, "the drain began")
	logs := f.srv.Logs()
	for _, msg := range []string{"draining before shutdown", `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, msg) {
			t.Errorf("the server did not log %q", msg)
		}
	}
}

// TestShutdownDrainSecondSignal checks that a second SIGTERM ends a long drain early.
func TestShutdownDrainSecondSignal(t *testing.T) {
	f := newFixture(t, testenv.Options{Args: []string{"--shutdown-drain", "5m"}})
	f.srv.Signal(t, syscall.SIGTERM)
	waitDraining(t, f.srv)
	f.srv.Signal(t, syscall.SIGTERM)
	waitExit(t, f.srv, "a second SIGTERM")
	if !strings.Contains(f.srv.Logs(), "drain ended early by a second signal") {
		t.Error("the server did not log the early end of the drain")
	}
}
