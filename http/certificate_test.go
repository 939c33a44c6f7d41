package http

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
	"github.com/iogate/iogate/metrics"
)

// TestFormatSerialMatchesOpenSSL checks serial numbers against the output of
// "openssl x509 -serial" (OpenSSL 3.0) for certificates made with those serials.
func TestFormatSerialMatchesOpenSSL(t *testing.T) {
	huge, _ := new(big.Int).SetString("7a412161ac1924d564c3e59e116f8ccda4c5fd6f", 16)
	cases := []struct {
		serial *big.Int
		want   string
	}{
		{big.NewInt(0), "00"},
		{big.NewInt(77), "4D"},
		{big.NewInt(0x80), "80"},
		{big.NewInt(0xabc), "0ABC"},
		{huge, "7A412161AC1924D564C3E59E116F8CCDA4C5FD6F"},
	}
	for _, c := range cases {
		if got := formatSerial(c.serial); got != c.want {
			t.Errorf("formatSerial(%s) = %q, want %q", c.serial, got, c.want)
		}
	}
}

// TestCertReloadLogsHexSerial checks that the reload log line names the certificate file
// and prints the new certificate's serial as openssl does.
func TestCertReloadLogsHexSerial(t *testing.T) {
	certPath, keyPath, _ := writeSelfSigned(t, t.TempDir())
	nextCert, nextKey, next := writeSelfSigned(t, t.TempDir())
	var logs logBuffer
	reloader, err := NewCertReloader(certPath, keyPath, slog.New(slog.NewJSONHandler(&logs, nil)), CertReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, nextCert, certPath)
	copyFile(t, nextKey, keyPath)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	now := make(chan os.Signal, 1)
	go func() {
		defer close(done)
		reloader.Watch(ctx, time.Hour, now)
	}()
	now <- os.Interrupt
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "TLS certificate reloaded") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done

	line := logs.String()
	want := `"serial":"` + strings.ToUpper(hex.EncodeToString(next.Leaf.SerialNumber.Bytes())) + `"`
	if !strings.Contains(line, want) {
		t.Errorf("reload log %q, want it to contain %s", line, want)
	}
	if !strings.Contains(line, `"cert_file":"`+certPath+`"`) {
		t.Errorf("reload log %q, want it to name %s", line, certPath)
	}
}

// scrapeMetric returns the value of series in m's /metrics output, and fails the test
// when it is absent.
func scrapeMetric(t *testing.T, m *metrics.Metrics, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return testenv.MetricValue(t, rec.Body.String(), series)
}

// TestCertReloadMetrics checks that the expiry gauge follows the loaded certificate and
// that each failed reload is counted, while the certificate in use stays.
func TestCertReloadMetrics(t *testing.T) {
	certPath, keyPath, first := writeSelfSigned(t, t.TempDir())
	nextDir := t.TempDir()
	nextCert, nextKey := filepath.Join(nextDir, "cert.pem"), filepath.Join(nextDir, "key.pem")
	// A later creation time gives the second certificate another expiry than the first.
	second, err := EnsureSelfSignedCert(nextCert, nextKey, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	reloader, err := NewCertReloader(certPath, keyPath, slog.New(slog.DiscardHandler), CertReloaderOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	const expiry, failures = "iogate_tls_certificate_expiry_timestamp_seconds", "iogate_tls_reload_failures_total"
	if got, want := scrapeMetric(t, m, expiry), float64(first.Leaf.NotAfter.Unix()); got != want {
		t.Errorf("%s after start = %v, want %v", expiry, got, want)
	}
	if got := scrapeMetric(t, m, failures); got != 0 {
		t.Errorf("%s after start = %v, want 0", failures, got)
	}

	// A certificate without its key fails at every check until the key arrives.
	copyFile(t, nextCert, certPath)
	for range 2 {
		if _, err := reloader.Reload(); err == nil {
			t.Fatal("Reload with a mismatched key succeeded")
		}
	}
	if got := scrapeMetric(t, m, failures); got != 2 {
		t.Errorf("%s after two failed reloads = %v, want 2", failures, got)
	}
	if got, want := scrapeMetric(t, m, expiry), float64(first.Leaf.NotAfter.Unix()); got != want {
		t.Errorf("%s after failed reloads = %v, want the first certificate's %v", expiry, got, want)
	}

	copyFile(t, nextKey, keyPath)
	if changed, err := reloader.Reload(); !changed || err != nil {
		t.Fatalf("Reload after replacing both files = %t, %v; want true, nil", changed, err)
	}
	if got, want := scrapeMetric(t, m, expiry), float64(second.Leaf.NotAfter.Unix()); got != want {
		t.Errorf("%s after the reload = %v, want %v", expiry, got, want)
	}
}

// TestCertWatchLogsFailureOnce checks that the periodic check logs a missing key file
// once, not at every interval, and logs it again after the file came back and went again.
func TestCertWatchLogsFailureOnce(t *testing.T) {
	certPath, keyPath, _ := writeSelfSigned(t, t.TempDir())
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	reloader, err := NewCertReloader(certPath, keyPath, slog.New(slog.NewJSONHandler(&logs, nil)), CertReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloader.Watch(ctx, 10*time.Millisecond, nil)
	}()
	defer func() {
		cancel()
		<-done
	}()
	failures := func() int { return strings.Count(logs.String(), "TLS certificate reload failed") }

	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	// 30 intervals: a failure logged at every check would show as many lines.
	time.Sleep(300 * time.Millisecond)
	if got := failures(); got != 1 {
		t.Errorf("missing key file for 30 intervals: %d failure lines, want 1", got)
	}

	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := failures(); got != 2 {
		t.Errorf("key file removed, restored and removed again: %d failure lines, want 2", got)
	}
}
