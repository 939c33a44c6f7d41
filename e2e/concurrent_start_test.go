package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConcurrentFirstStart starts four servers at once on one new data directory. They race
// to create the master key and the self-signed certificate, and every one of them must
// start: the losers use the key and the certificate that the winner wrote.
func TestConcurrentFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const servers = 4
	type outcome struct {
		listening bool
		// errorLine is the first line of standard error that reports a failure. Lines with
		// the setup link never are one, so no link reaches the test's output.
		errorLine string
	}
	outcomes := make(chan outcome, servers)
	for range servers {
		sent := false
		var failure string
		_, exited := startServe(t, dir, func(line string) {
			switch {
			case !sent && strings.Contains(line, `"msg":"iogate listening"`):
				sent = true
				outcomes <- outcome{listening: true}
			case failure == "" && !strings.Contains(line, "/dashboard/setup?token=") &&
				(strings.Contains(line, `"level":"ERROR"`) || strings.HasPrefix(line, "iogate: ")):
				failure = line
			}
		})
		go func() {
			<-exited
			if !sent {
				outcomes <- outcome{errorLine: failure}
			}
		}()
	}
	for range servers {
		select {
		case o := <-outcomes:
			if !o.listening {
				t.Errorf("a server exited before it listened: %q", o.errorLine)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("a server neither listened nor exited within 60s")
		}
	}
}
