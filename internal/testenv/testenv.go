// Package testenv starts real iogate processes for end-to-end tests: it builds the iogate
// binary once per test process, runs "iogate serve" on loopback ports chosen by the kernel,
// and runs CLI commands against the same data directory.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of an iogate binary built from this module, building it on
// first use.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "iogate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "iogate")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/iogate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/iogate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveBinary deletes the binary that Binary built, if any. A package's TestMain calls it
// after the tests, so that test runs leave no binaries in the temporary directory.
func RemoveBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// RequireTool returns the path of an external program the test needs. Without it the test
// is skipped on a developer's machine, but fails when CI=true, where .ci/run installs it.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; .ci/run must install it", name)
	}
	t.Skipf("%s is not installed; install it to run this test", name)
	return ""
}

// Server is a running "iogate serve" process.
type Server struct {
	t       testing.TB
	DataDir string
	// URL is the HTTPS base URL, https://127.0.0.1:PORT.
	URL string
	// Issuer is the iss claim of the server's tokens, as its start-up log line names it.
	Issuer string
	// HTTPAddr is the plain HTTP listener's host:port, or "" when disabled.
	HTTPAddr string
	// Addr is the HTTPS listener's host:port.
	Addr string
	// AdminAddr is the admin listener's host:port (/metrics, /healthz, /readyz), or ""
	// when disabled.
	AdminAddr string
	// CACert is the path of the self-signed certificate clients must trust.
	CACert string
	// Client trusts CACert and checks every response against the server's /openapi.json,
	// reporting mismatches as test errors.
	Client *http.Client
	// RootCAs holds CACert, for clients other than Client.
	RootCAs *x509.CertPool
	// OpenAPI is the server's /openapi.json, for checking responses that did not pass
	// through Client, such as curl's.
	OpenAPI *OpenAPI

	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
	// setupLink receives the first-run setup link that serve prints to stderr.
	setupLink chan string
}

// setupLinkPattern matches the single-use setup link in serve's stderr.
var setupLinkPattern = regexp.MustCompile(`https://\S+/dashboard/setup\?token=[A-Za-z0-9_-]+`)

// SetupLink returns the single-use setup link that the server printed to standard error
// because its store had no account, waiting up to 10 seconds for it.
func (s *Server) SetupLink(t testing.TB) string {
	t.Helper()
	select {
	case link := <-s.setupLink:
		return link
	case <-time.After(10 * time.Second):
		t.Fatalf("iogate serve printed no setup link within 10s; its log:\n%s", s.Logs())
		return ""
	}
}

// Options changes how Start runs the server.
type Options struct {
	// Listen is the HTTPS address; default 127.0.0.1:0.
	Listen string
	// HTTPListen is the plain HTTP address; default 127.0.0.1:0. "-" disables it.
	HTTPListen string
	// AdminListen is the admin address; default 127.0.0.1:0. "-" disables it.
	AdminListen string
	// ProductionLimits keeps the server's default rate limits. Without it Start relaxes
	// them, so that tests which send bursts of requests or failures from one loopback
	// address are not throttled. Flags in Args override either.
	ProductionLimits bool
	// Args are extra arguments to "serve".
	Args []string
	// Env is extra environment, NAME=value.
	Env []string
}

// Start runs "iogate serve" on dataDir and waits until it listens. The process is stopped
// when the test ends.
func Start(t testing.TB, dataDir string, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	httpListen := opts.HTTPListen
	switch httpListen {
	case "":
		httpListen = "127.0.0.1:0"
	case "-":
		httpListen = ""
	}
	adminListen := opts.AdminListen
	switch adminListen {
	case "":
		adminListen = "127.0.0.1:0"
	case "-":
		adminListen = ""
	}
	args := []string{"serve", "--data-dir", dataDir, "--listen", opts.Listen, "--http-listen", httpListen, "--admin-listen", adminListen}
	if !opts.ProductionLimits {
		args = append(args, relaxedLimits...)
	}
	args = append(args, opts.Args...)
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, DataDir: dataDir, cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1), setupLink: make(chan string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start iogate serve: %v", err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if link := setupLinkPattern.Find(line); link != nil {
				// The setup link is a credential: keep it for SetupLink, out of Logs.
				s.setupLink <- string(link)
				line = setupLinkPattern.ReplaceAll(line, []byte("[setup link]"))
			}
			s.logs.Write(append(line, '\n'))
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "iogate listening" {
				ready <- rec
			}
		}
		s.done <- cmd.Wait()
		close(ready)
	}()
	t.Cleanup(func() { s.Stop() })

	select {
	case rec, ok := <-ready:
		if !ok {
			t.Fatalf("iogate serve exited before listening; its log:\n%s", s.Logs())
		}
		s.Addr, _ = rec["https_addr"].(string)
		s.HTTPAddr, _ = rec["http_addr"].(string)
		s.AdminAddr, _ = rec["admin_addr"].(string)
		s.Issuer, _ = rec["issuer"].(string)
	case <-time.After(60 * time.Second):
		t.Fatalf("iogate serve did not listen within 60s; its log:\n%s", s.Logs())
	}
	s.URL = "https://" + s.Addr
	s.CACert = filepath.Join(dataDir, "tls", "cert.pem")
	for i, a := range opts.Args {
		if a == "--tls-cert" && i+1 < len(opts.Args) {
			s.CACert = opts.Args[i+1]
		}
	}
	s.Client = NewClient(t, s.CACert)
	s.RootCAs = s.Client.Transport.(*http.Transport).TLSClientConfig.RootCAs
	s.OpenAPI = fetchOpenAPI(t, s.Client, s.URL)
	s.Client.Transport = s.OpenAPI.ValidatingTransport(t, s.Client.Transport)
	return s
}

// relaxedLimits are rate limits high enough that no functional test reaches them.
var relaxedLimits = []string{
	"--rate-limit-token-per-address", "100000", "--rate-limit-token-per-address-burst", "100000",
	"--rate-limit-token-per-client", "100000", "--rate-limit-token-per-client-burst", "100000",
	"--rate-limit-api-per-key", "100000", "--rate-limit-api-per-key-burst", "100000",
	"--auth-failures-before-slowdown", "0", "--auth-failures-before-block", "0",
}

// fetchOpenAPI loads the server's OpenAPI document, which must itself validate.
func fetchOpenAPI(t testing.TB, c *http.Client, baseURL string) *OpenAPI {
	t.Helper()
	resp, err := c.Get(baseURL + "/openapi.json")
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d, error %v", resp.StatusCode, err)
	}
	api, err := LoadOpenAPI(body)
	if err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/openapi.json", nil)
	if err := api.CheckResponse(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("OpenAPI check: %v", err)
	}
	return api
}

// NewClient returns an HTTP client that trusts the PEM certificate in caFile.
func NewClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
	}
}

// Logs returns everything the server wrote to stderr so far. Info lines, the access log
// among them, reach it in batches (--log-flush-interval), so a test that looks for a line,
// or makes sure a secret is absent, reads SyncedLogs instead.
func (s *Server) Logs() string { return s.logs.String() }

// SyncedLogs returns the server's log once it holds every line logged before the call. It
// sends a marker request, GET /healthz, and waits up to 10 seconds for that request's
// access-log line: the server writes lines in order, so everything before it is there too.
// It needs the server's log level to be info or debug.
func (s *Server) SyncedLogs(t testing.TB) string {
	t.Helper()
	url := s.URL + "/healthz"
	client := s.Client
	if s.AdminAddr != "" {
		url, client = "http://"+s.AdminAddr+"/healthz", http.DefaultClient
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("marker request for the server log: %v", err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("the marker request's response has no X-Request-Id")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := s.Logs()
		if strings.Contains(logs, `"request_id":"`+id+`"`) {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access-log line of request %s did not reach the server log within 10s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it after 20 seconds.
func (s *Server) Stop() error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
		return fmt.Errorf("server did not stop within 20s after SIGTERM")
	}
}

// Signal sends sig to the server's process.
func (s *Server) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to the server: %v", sig, err)
	}
}

// Exited reports whether the server's process has ended.
func (s *Server) Exited() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return true
	default:
		return false
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// CLIResult is the outcome of one CLI command.
type CLIResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunCLI runs the iogate binary with args and --data-dir dataDir, and returns its output and
// exit code without failing the test. --data-dir goes before a "--" in args, after which
// every argument is positional.
func RunCLI(t testing.TB, dataDir string, env []string, args ...string) CLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	at := slices.Index(args, "--")
	if at < 0 {
		at = len(args)
	}
	full := slices.Concat(args[:at], []string{"--data-dir", dataDir}, args[at:])
	cmd := exec.CommandContext(ctx, Binary(t), full...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run iogate %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// CLIJSON runs a CLI command with --json, fails the test unless it succeeds, and decodes its
// output into out.
func CLIJSON(t testing.TB, dataDir string, out any, args ...string) {
	t.Helper()
	res := RunCLI(t, dataDir, nil, append(args, "--json")...)
	if res.ExitCode != 0 {
		t.Fatalf("iogate %s: exit %d, stderr: %s", args[0]+" "+args[1], res.ExitCode, res.Stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
			t.Fatalf("iogate %s: output is not JSON: %v", args[0], err)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
