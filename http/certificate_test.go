package http

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
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
