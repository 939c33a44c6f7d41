package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	iohttp "github.com/iogate/iogate/http"
)

// baselineReadyMsg is the log message of a baseline server that accepts connections.
const baselineReadyMsg = "baseline listening"

// runBaselineServer serves "iogate-bench baseline-server": the limit that iogate's
// throughput is compared with. It responds to every request with the bytes of --body-file
// and does nothing else. It uses the TLS settings and server timeouts of "iogate serve", so
// the difference between the two is what iogate does per request.
func runBaselineServer(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address of the HTTPS listener")
	bodyFile := fs.String("body-file", "", "file whose bytes every response carries (required)")
	certDir := fs.String("cert-dir", "", "directory of the self-signed certificate, created if missing (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bodyFile == "" || *certDir == "" {
		return errors.New("baseline-server needs --body-file and --cert-dir")
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	cert, err := iohttp.EnsureSelfSignedCert(filepath.Join(*certDir, "cert.pem"), filepath.Join(*certDir, "key.pem"), time.Now())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer ln.Close()

	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// NOTE: the timeouts are copied from cmd/iogate/serve.go; keep the two in step.
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
		TLSConfig:         iohttp.TLSConfig(cert),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	log.Info(baselineReadyMsg, "https_addr", ln.Addr().String())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
