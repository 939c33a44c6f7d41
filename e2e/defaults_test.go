package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestServeWithNoFlags runs "iogate serve" exactly as the README's first command does, in an
// empty working directory, and checks the documented defaults.
func TestServeWithNoFlags(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8443", "127.0.0.1:8080", "127.0.0.1:9090"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("default port %s is busy in CI: %v", addr, err)
			}
			t.Skipf("default port %s is busy on this machine: %v", addr, err)
		}
		ln.Close()
	}
	wd := t.TempDir()
	cmd := exec.Command(testenv.Binary(t), "serve")
	cmd.Dir = wd
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	records := make(chan map[string]any, 256)
	setupLine := make(chan string, 1)
	var leaked atomic.Bool
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if strings.HasPrefix(sc.Text(), "iogate: no account exists yet.") {
				setupLine <- sc.Text()
			} else if strings.Contains(sc.Text(), "token=") {
				leaked.Store(true)
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				select {
				case records <- rec:
				default:
				}
			}
		}
		close(records)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})

	var listening, hint map[string]any
	deadline := time.After(30 * time.Second)
	for listening == nil || hint == nil {
		select {
		case rec, ok := <-records:
			if !ok {
				t.Fatal("iogate serve exited before logging its addresses")
			}
			switch rec["msg"] {
			case "iogate listening":
				listening = rec
			case "no account exists yet; open the single-use setup link printed to standard error":
				hint = rec
			}
		case <-deadline:
			t.Fatal("iogate serve did not log its addresses and first-run hint within 30s")
		}
	}
	if listening["https_addr"] != "127.0.0.1:8443" || listening["http_addr"] != "127.0.0.1:8080" {
		t.Errorf("listening on %v and %v, want 127.0.0.1:8443 and 127.0.0.1:8080", listening["https_addr"], listening["http_addr"])
	}
	select {
	case line := <-setupLine:
		if !strings.Contains(line, " https://localhost:8443/dashboard/setup?token=") {
			t.Errorf("setup line %q does not hold a link under https://localhost:8443", redactLink(line))
		}
	case <-time.After(5 * time.Second):
		t.Error("iogate serve printed no setup link line on standard error")
	}
	if leaked.Load() {
		t.Error("a JSON log line holds the setup link's token")
	}
	if listening["issuer"] != "https://localhost:8443" {
		t.Errorf("issuer = %v, want https://localhost:8443, the URL of the README's examples", listening["issuer"])
	}
	for _, p := range []string{"iogate-data/iogate.db", "iogate-data/master.key", "iogate-data/tls/cert.pem", "iogate-data/tls/key.pem"} {
		if _, err := os.Stat(filepath.Join(wd, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	info, err := os.Stat(filepath.Join(wd, "iogate-data"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("iogate-data mode = %o, want 700", info.Mode().Perm())
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("iogate serve exited with %v after SIGINT, want a clean exit", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("iogate serve did not stop within 20s of SIGINT")
	}
}
