package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	iohttp "github.com/iogate/iogate/http"
)

// baselineReadyMsg is the log message of a baseline server that accepts connections.
const baselineReadyMsg = "baseline listening"

// runBaselineServer serves "iogate-bench baseline-server": the limit that iogate's
// throughput is compared with. It responds to every request with the headers of
// --header-file and the bytes of --body-file, and does nothing else. It uses the TLS
// settings and server timeouts of "iogate serve", so the difference between the two is what
// iogate does per request.
func runBaselineServer(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address of the HTTPS listener")
	bodyFile := fs.String("body-file", "", "file whose bytes every response carries (required)")
	headerFile := fs.String("header-file", "", "JSON object of the header fields every response carries, name to list of values (required)")
	certDir := fs.String("cert-dir", "", "directory of the self-signed certificate, created if missing (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bodyFile == "" || *headerFile == "" || *certDir == "" {
		return errors.New("baseline-server needs --body-file, --header-file and --cert-dir")
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	header, err := readHeaderFile(*headerFile)
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
			h := w.Header()
			for _, f := range header {
				h[f.name] = f.values
			}
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

// headerField is one field of the baseline's responses. Its values are shared by every
// response: net/http only reads them.
type headerField struct {
	name   string
	values []string
}

// readHeaderFile reads the header fields of the baseline's responses. Date, Content-Length
// and the fields of the connection are left to net/http, which writes them as it does for
// iogate.
func readHeaderFile(name string) ([]headerField, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var h http.Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("invalid header file %s: %w", name, err)
	}
	var fields []headerField
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if !mirroredHeader(name) {
			continue
		}
		fields = append(fields, headerField{http.CanonicalHeaderKey(name), h[name]})
	}
	return fields, nil
}

// mirroredHeader reports whether the baseline copies a header field of iogate's response.
// The others describe the connection or the moment, and net/http writes them itself.
func mirroredHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Date", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding":
		return false
	}
	return true
}
