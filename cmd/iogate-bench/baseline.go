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
	"strconv"
	"strings"
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
	// iogate sets Content-Length itself. net/http would add it only to a body that fits
	// its 2,048-byte buffer and send a longer one chunked.
	contentLength := []string{strconv.Itoa(len(body))}
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
			h["Content-Length"] = contentLength
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

// readHeaderFile reads the header fields of the baseline's responses. Date and the fields
// of the connection are left to net/http, which writes them as it does for iogate, and the
// server sets Content-Length from the body.
func readHeaderFile(path string) ([]headerField, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h http.Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("invalid header file %s: %w", path, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("invalid header file %s: no header fields; write a JSON object of field names to lists of values", path)
	}
	var fields []headerField
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if err := checkHeaderField(name, h[name]); err != nil {
			return nil, fmt.Errorf("invalid header file %s: %w", path, err)
		}
		if mirroredHeader(name) {
			fields = append(fields, headerField{http.CanonicalHeaderKey(name), h[name]})
		}
	}
	return fields, nil
}

// checkHeaderField returns an error for a field that net/http would drop or rewrite: a name
// that is not an RFC 9110 token, or a value with a control character other than tab. The
// baseline would then send other bytes than the file contains.
func checkHeaderField(name string, values []string) error {
	if name == "" || strings.IndexFunc(name, func(c rune) bool { return !isTokenChar(c) }) >= 0 {
		return fmt.Errorf("invalid field name %q: use only the characters of an RFC 9110 token", name)
	}
	for _, v := range values {
		if strings.IndexFunc(v, func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }) >= 0 {
			return fmt.Errorf("invalid value of %s: it contains a control character other than tab", name)
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

// mirroredHeader reports whether the baseline copies a header field of iogate's response.
// The others describe the connection, the moment or the body, and the server writes them
// itself.
func mirroredHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Date", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding":
		return false
	}
	return true
}
