package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// config holds the flags of a benchmark run.
type config struct {
	clients   int
	duration  time.Duration
	warmup    time.Duration
	runs      int
	scenarios []string
	timeout   time.Duration
	json      bool
	paths     paths

	// An external target.
	url          string
	clientID     string
	clientSecret string
	keysFile     string
	cacert       string
	insecure     bool
	serverPID    int

	// iogate started by the harness.
	start          bool
	iogateBin      string
	keyCount       int
	loadKeys       int
	vaultCount     int
	dataDir        string
	serverLogLevel string
	serveFlags     stringList
	saveKeys       string
	profileDir     string

	baseline      bool
	scale         int
	churnInterval time.Duration
	tokenShare    float64
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("iogate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var scenarios string
	fs.IntVar(&c.clients, "c", 16, "number of concurrent clients, one keep-alive connection each")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "measured duration of each run, at most 10m")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before each measured run, not counted")
	fs.IntVar(&c.runs, "runs", 1, "runs of each scenario; the summary shows medians")
	fs.StringVar(&scenarios, "scenario", scenarioToken, "comma-separated scenarios: "+strings.Join(allScenarios, ", "))
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "timeout of each request")
	fs.BoolVar(&c.json, "json", false, "print the full report as JSON")
	fs.StringVar(&c.paths.token, "token-path", "/v1/auth/accessToken", "path of the JSON token endpoint (scenario token)")
	fs.StringVar(&c.paths.oauth2, "oauth2-path", "/oauth2/token", "path of the RFC 6749 token endpoint (scenario oauth2-token)")
	fs.StringVar(&c.paths.vaults, "vaults-path", "/v1/vaults", "path of the bearer-authenticated GET (scenario vaults)")

	fs.StringVar(&c.url, "url", "", "base URL of a running server on loopback, such as https://127.0.0.1:8443")
	fs.StringVar(&c.clientID, "client-id", "", "client ID for --url")
	fs.StringVar(&c.clientSecret, "client-secret", "", "client secret for --url; IOGATE_BENCH_CLIENT_SECRET keeps it out of the process list")
	fs.StringVar(&c.keysFile, "keys", "", "JSON file of credentials for --url: objects or arrays of objects with clientId and clientSecret, as \"iogate key create --json\" prints them")
	fs.StringVar(&c.cacert, "cacert", "", "PEM certificate to trust for --url")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the --url server's certificate")
	fs.IntVar(&c.serverPID, "server-pid", 0, "process ID of the --url server, for its CPU time and memory")

	fs.BoolVar(&c.start, "start", false, "start iogate on a fresh data directory instead of using --url")
	fs.StringVar(&c.iogateBin, "iogate-bin", "", "iogate binary that --start runs; the harness builds nothing")
	fs.IntVar(&c.keyCount, "key-count", 1000, "API keys that --start creates")
	fs.IntVar(&c.loadKeys, "load-keys", 1000, "keys the load cycles through, spread over all keys")
	fs.IntVar(&c.vaultCount, "vault-count", 5, "vaults of the benchmark account, which GET /v1/vaults returns")
	fs.StringVar(&c.dataDir, "data-dir", "", "fresh data directory for --start, kept afterwards (default: a temporary directory, removed)")
	fs.StringVar(&c.serverLogLevel, "server-log-level", "info", "--log-level of the started iogate; info logs every request, as the server's default does")
	fs.StringVar(&c.saveKeys, "save-keys", "", "write the load keys' credentials to this file (mode 0600) for later runs with --url --keys")
	fs.StringVar(&c.profileDir, "profile-dir", "", "with --start, save a CPU profile of iogate during the first run of each scenario in this directory; iogate must be built with -tags pprof")
	fs.Var(&c.serveFlags, "serve-flag", "extra flag for \"iogate serve\", such as --signing-alg=ES256; repeatable")

	fs.BoolVar(&c.baseline, "baseline", false, "also measure a minimal HTTPS server that answers the vaults bytes without authentication, and report the ratio")
	fs.IntVar(&c.scale, "scale", 0, "compare start-up, memory and throughput at this many keys with --key-count keys (needs --start)")
	fs.DurationVar(&c.churnInterval, "churn-interval", 500*time.Millisecond, "mixed scenario: time between key changes, alternately a deletion and a rotation")
	fs.Float64Var(&c.tokenShare, "token-share", 0.25, "mixed scenario: fraction of requests that issue a token")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; flags only, or the subcommand report", fs.Arg(0))
	}
	if c.clientSecret == "" {
		c.clientSecret = getenv("IOGATE_BENCH_CLIENT_SECRET")
	}
	c.scenarios = strings.Split(scenarios, ",")
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.clients < 1 || c.clients > 1024 {
		bad("invalid -c %d: use 1 to 1024 clients", c.clients)
	}
	if c.duration <= 0 || c.duration > 10*time.Minute {
		bad("invalid -d %s: use a duration above 0 and at most 10m", c.duration)
	}
	if c.warmup < 0 || c.warmup > time.Minute {
		bad("invalid --warmup %s: use 0 to 1m", c.warmup)
	}
	if c.runs < 1 || c.runs > 50 {
		bad("invalid --runs %d: use 1 to 50", c.runs)
	}
	for _, s := range c.scenarios {
		if !slices.Contains(allScenarios, s) {
			bad("unknown scenario %q: use %s", s, strings.Join(allScenarios, ", "))
		}
	}
	if c.start == (c.url != "") {
		bad("give either --start (with --iogate-bin) or --url")
	}
	if c.start && c.iogateBin == "" {
		bad("--start needs --iogate-bin, the iogate binary to run (go build -o iogate ./cmd/iogate)")
	}
	if c.url != "" {
		if err := c.validateURL(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.keyCount < 1 || c.keyCount > 10_000_000 || c.scale < 0 || c.scale > 10_000_000 {
		bad("invalid --key-count %d or --scale %d: use up to 10000000 keys", c.keyCount, c.scale)
	}
	if c.loadKeys < 1 {
		bad("invalid --load-keys %d: use at least 1", c.loadKeys)
	}
	if c.profileDir != "" && !c.start {
		bad("--profile-dir needs --start: only a server the harness starts is told where to serve profiles")
	}
	if c.saveKeys != "" && (!c.start || c.scale > 0) {
		bad("--save-keys needs --start without --scale")
	}
	if c.scale > 0 && !c.start {
		bad("--scale needs --start: it starts iogate on fresh data directories")
	}
	if slices.Contains(c.scenarios, scenarioMixed) && !c.start {
		bad("the mixed scenario needs --start: it deletes and rotates keys in the data directory it created")
	}
	if c.tokenShare <= 0 || c.tokenShare > 1 {
		bad("invalid --token-share %g: use a fraction above 0 and at most 1", c.tokenShare)
	}
	if c.churnInterval < 10*time.Millisecond {
		bad("invalid --churn-interval %s: use at least 10ms", c.churnInterval)
	}
	return errors.Join(errs...)
}

func (c *config) validateURL() error {
	u, err := url.Parse(c.url)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("invalid --url %q: use https://HOST:PORT with no path", c.url)
	}
	if err := checkLoopback(u.Host); err != nil {
		return err
	}
	if c.keysFile == "" && (c.clientID == "" || c.clientSecret == "") {
		return errors.New("--url needs credentials: --keys FILE, or --client-id with --client-secret or IOGATE_BENCH_CLIENT_SECRET")
	}
	return nil
}

// checkLoopback rejects addresses outside the loopback interface: the harness loads only
// servers on this machine.
func checkLoopback(hostport string) error {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("invalid address %q: iogate-bench loads only loopback servers (127.0.0.0/8, ::1, localhost)", hostport)
	}
	return nil
}
