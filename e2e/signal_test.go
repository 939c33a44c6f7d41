package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestSIGHUPDuringStartKeepsServer checks that a SIGHUP never ends the server, also when it
// arrives while the server is starting, before it has set up the certificate reload. An operator's reload right after a restart,
// or a log rotation that signals every process, would otherwise stop it without a line in
// its log.
func TestSIGHUPDuringStartKeepsServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	listening := make(chan bool, 1)
	found := false
	cmd, exited := startServe(t, dir, func(line string) {
		if !found && strings.Contains(line, `"msg":"iogate listening"`) {
			found = true
			listening <- true
		}
	})

	// serve creates the data directory after main has started to catch SIGHUP. A SIGHUP
	// that arrives earlier, before the Go runtime and package initialisation (a few
	// milliseconds) have finished, still ends the process with the default action.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("iogate serve did not create its data directory within 30s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-listening:
	case <-exited:
		t.Fatalf("iogate serve exited (%v) after a SIGHUP sent while it started, before it listened", cmd.ProcessState)
	case <-time.After(60 * time.Second):
		t.Fatal("iogate serve neither listened nor exited within 60s of a SIGHUP sent while it started")
	}
}

// startServe starts "iogate serve" on dataDir, on a loopback port without the other
// listeners and outside testenv, and calls onLine with each line of its standard error from
// one goroutine. The channel closes once the process has exited. When the test ends, the
// process gets SIGTERM, and SIGKILL 20 seconds later.
func startServe(t *testing.T, dataDir string, onLine func(string)) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--http-listen", "", "--admin-listen", "")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			onLine(sc.Text())
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, exited
}
