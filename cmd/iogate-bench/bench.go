package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// bench is one server under test and what the load needs to drive it.
type bench struct {
	cfg     *config
	target  *target
	server  *process // nil for --url
	load    []*credential
	victims []*credential
	// rotated counts the rotations of load keys in earlier mixed runs, so that each run
	// goes on with the keys after them instead of rotating the same keys again.
	rotated int
	keys    int
	dataDir string
	cleanup []func()
	// log receives progress and warnings.
	log io.Writer
	// pprofAddr is where an iogate built with -tags pprof serves CPU profiles, when
	// --profile-dir is set.
	pprofAddr string
	// tokenScenario is the token endpoint that gets tokens for the vault reads: iogate's
	// own, or the standard one when the target lacks iogate's.
	tokenScenario string
	startup       *Startup

	baseline *target
}

// Startup describes a started iogate: how long seeding its data directory and starting
// it took, and its memory once it accepted connections.
type Startup struct {
	Keys               int     `json:"keys"`
	SeedSeconds        float64 `json:"seedSeconds"`
	StartupSeconds     float64 `json:"startupSeconds"`
	RSSAfterStartBytes int64   `json:"rssAfterStartBytes"`
}

// serverStartTimeout bounds iogate's start-up, which loads every key into memory.
const serverStartTimeout = 2 * time.Minute

// openBench starts iogate with keys keys (--start) or connects to --url.
func openBench(ctx context.Context, cfg *config, keys int, log io.Writer) (*bench, error) {
	b := &bench{cfg: cfg, keys: keys, log: log}
	var err error
	if cfg.start {
		err = b.startIOGate(ctx, log)
	} else {
		err = b.attach()
	}
	if err == nil {
		err = b.chooseTokenEndpoint(ctx)
	}
	if err == nil && cfg.baseline {
		err = b.startBaseline(ctx)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
	b.cleanup = nil
}

func (b *bench) startIOGate(ctx context.Context, log io.Writer) error {
	cfg := b.cfg
	dir := cfg.dataDir
	switch {
	case dir == "":
		tmp, err := os.MkdirTemp("", "iogate-bench-")
		if err != nil {
			return err
		}
		b.cleanup = append(b.cleanup, func() { os.RemoveAll(tmp) })
		dir = tmp
	case cfg.scale > 0:
		dir = filepath.Join(dir, fmt.Sprintf("keys-%d", b.keys))
	}
	b.dataDir = dir

	victims := 0
	if slices.Contains(cfg.scenarios, scenarioMixed) {
		// One deletion every second churn interval, for every run, with some to spare.
		perRun := (cfg.warmup + cfg.duration) / (2 * cfg.churnInterval)
		victims = cfg.runs*int(perRun) + 2
	}
	fmt.Fprintf(log, "seeding %s with %d keys\n", dir, b.keys+victims)
	fix, err := seedDataDir(ctx, dir, b.keys, cfg.loadKeys, victims, cfg.vaultCount)
	if err != nil {
		return fmt.Errorf("seed data directory: %w", err)
	}
	b.load, b.victims = fix.load, fix.victims
	if cfg.saveKeys != "" {
		if err := writeKeysFile(cfg.saveKeys, b.load); err != nil {
			return err
		}
	}

	// The harness picks the port, rather than reading it from the server's log, so that any
	// --log-level works. Start-up ends with the first TLS handshake: iogate opens its
	// listener first but accepts connections only once every key is loaded.
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	tlsConf, err := clientTLS(filepath.Join(dir, "tls", "cert.pem"), false, addr)
	if err != nil {
		return err
	}
	// The admin listener serves the metrics from which the harness reads how many audit
	// records each group commit held.
	adminAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--data-dir", dir, "--listen", addr, "--http-listen", "", "--log-level", cfg.serverLogLevel,
		"--admin-listen", adminAddr}, rateLimitFlags...)
	args = append(args, cfg.serveFlags...)
	var env []string
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
		if b.pprofAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		env = append(env, "IOGATE_BENCH_PPROF_ADDR="+b.pprofAddr)
	}
	started := time.Now()
	p, _, err := startProcess(ctx, "iogate", cfg.iogateBin, args, env, "", serverStartTimeout)
	if err != nil {
		return err
	}
	b.cleanup = append(b.cleanup, p.stop)
	b.server = p
	if err := p.waitTLS(ctx, addr, tlsConf, serverStartTimeout); err != nil {
		return err
	}
	elapsed := time.Since(started)
	stats, err := readProcStats(p.pid())
	if err != nil {
		return fmt.Errorf("read iogate process statistics: %w", err)
	}
	b.startup = &Startup{Keys: fix.keys, SeedSeconds: fix.elapsed.Seconds(), StartupSeconds: elapsed.Seconds(), RSSAfterStartBytes: stats.RSS}
	fmt.Fprintf(log, "iogate started in %.2fs with %d keys, RSS %.0f MB\n", elapsed.Seconds(), fix.keys, float64(stats.RSS)/1e6)

	b.target = &target{name: "iogate", addr: addr, host: addr, tlsConf: tlsConf, pid: p.pid(), timeout: cfg.timeout,
		metricsURL: "http://" + adminAddr + "/metrics"}
	return nil
}

func (b *bench) attach() error {
	cfg := b.cfg
	u, _ := url.Parse(cfg.url)
	addr, err := loopbackAddr(u.Host)
	if err != nil {
		return err
	}
	tlsConf, err := clientTLS(cfg.cacert, cfg.insecure, u.Host)
	if err != nil {
		return err
	}
	b.target = &target{name: "server", addr: addr, host: u.Host, tlsConf: tlsConf, pid: cfg.serverPID, timeout: cfg.timeout}
	if cfg.keysFile != "" {
		b.load, err = readKeysFile(cfg.keysFile)
		if err != nil {
			return err
		}
	} else {
		b.load = []*credential{newCredential(cfg.clientID, cfg.clientSecret)}
	}
	if len(b.load) > cfg.loadKeys {
		b.load = b.load[:cfg.loadKeys]
	}
	b.keys = len(b.load)
	return nil
}

// chooseTokenEndpoint picks the endpoint that gets tokens for the vault reads.
func (b *bench) chooseTokenEndpoint(ctx context.Context) error {
	c := b.target.newConn()
	defer c.close()
	var errs []error
	for _, s := range []string{scenarioToken, scenarioOAuth2Token} {
		_, err := fetchToken(ctx, c, b.target.host, s, b.cfg.paths, b.load[0])
		if err == nil {
			b.tokenScenario = s
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("no token endpoint issued a token: %w", errors.Join(errs...))
}

// startBaseline runs "iogate-bench baseline-server" with the header and body of a real
// response to GET /v1/vaults.
func (b *bench) startBaseline(ctx context.Context) error {
	tokens, err := fetchTokens(ctx, b.target, b.tokenScenario, b.cfg.paths, b.load[:1], 1)
	if err != nil {
		return err
	}
	c := b.target.newConn()
	defer c.close()
	status, body, err := c.do(ctx, vaultsRequest(b.target.host, b.cfg.paths, tokens[0]))
	if err != nil || status != 200 {
		return fmt.Errorf("GET %s for the baseline's body: status %d, error %v", b.cfg.paths.vaults, status, err)
	}
	dir, err := os.MkdirTemp("", "iogate-bench-baseline-")
	if err != nil {
		return err
	}
	b.cleanup = append(b.cleanup, func() { os.RemoveAll(dir) })
	bodyFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		return err
	}
	// The baseline responds with the same header fields too, including this response's
	// request ID, so that both servers send the same bytes.
	header, err := json.Marshal(c.header)
	if err != nil {
		return err
	}
	headerFile := filepath.Join(dir, "header.json")
	if err := os.WriteFile(headerFile, header, 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"baseline-server", "--listen", "127.0.0.1:0", "--body-file", bodyFile, "--header-file", headerFile, "--cert-dir", dir}
	p, rec, err := startProcess(ctx, "baseline server", self, args, nil, baselineReadyMsg, 30*time.Second)
	if err != nil {
		return err
	}
	b.cleanup = append(b.cleanup, p.stop)
	addr, _ := rec["https_addr"].(string)
	tlsConf, err := clientTLS(filepath.Join(dir, "cert.pem"), false, addr)
	if err != nil {
		return err
	}
	b.baseline = &target{name: "baseline", addr: addr, host: addr, tlsConf: tlsConf, pid: p.pid(), timeout: b.cfg.timeout}
	return nil
}

// rateLimitFlags turn off the rate limits of "iogate serve". The harness is one address
// sending thousands of requests a second: the limits that protect a production server from
// such an address would measure themselves, not iogate.
var rateLimitFlags = []string{"--rate-limit-token-per-address", "0", "--rate-limit-token-per-client", "0",
	"--rate-limit-api-per-key", "0", "--auth-failures-before-block", "0"}

// measure runs one scenario once against t and returns what it measured. A scenario the
// target does not serve is returned with Unavailable set.
func (b *bench) measure(ctx context.Context, scenario string, t *target, run int) (*Measurement, error) {
	reqs, ch, err := b.requesters(ctx, scenario, t)
	if errors.Is(err, errUnavailable) {
		why := strings.TrimPrefix(err.Error(), errUnavailable.Error()+": ")
		return &Measurement{Scenario: scenario, Target: t.name, Run: run, Keys: b.keys, Unavailable: why}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", scenario, err)
	}
	var background func(context.Context)
	if ch != nil {
		background = ch.run
	}
	var profile *profileFetch
	if b.pprofAddr != "" && t == b.target && run == 1 {
		profile = b.startProfile(ctx, scenario)
	}
	res, err := runLoad(ctx, t, reqs, b.cfg.warmup, b.cfg.duration, background)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", scenario, t.name, err)
	}
	if b.server != nil {
		if err := b.server.exited(); err != nil {
			return nil, err
		}
	}
	m := newMeasurement(scenario, t, run, b.keys, b.cfg.clients, res)
	if profile != nil {
		m.Profile = profile.wait(b.log)
	}
	if ch != nil {
		m.Churn = ch.result()
		b.victims, b.rotated = ch.victims, ch.rotated
	}
	return m, nil
}

// requesters builds one requester per client for scenario on t, and for the mixed
// scenario the churn that runs beside it.
func (b *bench) requesters(ctx context.Context, scenario string, t *target) ([]requester, *churn, error) {
	cfg := b.cfg
	reqs := make([]requester, cfg.clients)
	switch scenario {
	case scenarioToken, scenarioOAuth2Token:
		// One request first, so that a missing endpoint is reported rather than measured.
		c := t.newConn()
		_, err := fetchToken(ctx, c, t.host, scenario, cfg.paths, b.load[0])
		c.close()
		if err != nil {
			return nil, nil, err
		}
		for w := range reqs {
			cy := &cycle{}
			for _, cred := range share(b.load, w, cfg.clients) {
				cy.reqs = append(cy.reqs, tokenRequest(scenario, t.host, cfg.paths, cred))
			}
			reqs[w] = cy
		}
	case scenarioVaults:
		// Tokens always come from the server under test: the baseline needs none but is
		// sent the same request bytes.
		tokens, err := fetchTokens(ctx, b.target, b.tokenScenario, cfg.paths, b.load, cfg.clients)
		if err != nil {
			return nil, nil, err
		}
		for w := range reqs {
			cy := &cycle{}
			for _, tok := range share(tokens, w, cfg.clients) {
				cy.reqs = append(cy.reqs, vaultsRequest(t.host, cfg.paths, tok))
			}
			reqs[w] = cy
		}
	case scenarioMixed:
		every := max(1, int(math.Round(1/cfg.tokenShare)))
		for w := range reqs {
			reqs[w] = &mixedRequester{host: t.host, paths: cfg.paths, creds: share(b.load, w, cfg.clients), tokenEvery: every}
		}
		ch := &churn{bin: cfg.iogateBin, dataDir: b.dataDir, interval: cfg.churnInterval, target: t, paths: cfg.paths, load: b.load, victims: b.victims, rotated: b.rotated}
		return reqs, ch, nil
	}
	return reqs, nil, nil
}

// clientTLS returns the client TLS settings: trust caFile (or nothing with insecure), and
// offer HTTP/1.1 only, so that each client is one keep-alive connection.
func clientTLS(caFile string, insecure bool, hostport string) (*tls.Config, error) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	conf := &tls.Config{ServerName: strings.Trim(host, "[]"), NextProtos: []string{"http/1.1"}, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate in %s", caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// loopbackAddr resolves host:port to a loopback address to dial, or fails.
func loopbackAddr(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("invalid address %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return hostport, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return "", err
	}
	for _, ip := range ips {
		if ip.IsLoopback() {
			return net.JoinHostPort(ip.String(), port), nil
		}
	}
	return "", fmt.Errorf("%s resolves to no loopback address; iogate-bench loads only loopback servers", host)
}

// keyFileEntry is one credential in a keys file, in the fields "iogate key create --json"
// prints.
type keyFileEntry struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// writeKeysFile writes credentials in the form readKeysFile reads, readable only by the
// owner because it holds client secrets.
func writeKeysFile(path string, creds []*credential) error {
	keys := make([]keyFileEntry, len(creds))
	for i, c := range creds {
		keys[i] = keyFileEntry{c.clientID, *c.secret.Load()}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write keys file: %w", err)
	}
	return f.Close()
}

// readKeysFile reads credentials: a stream of JSON objects with clientId and clientSecret,
// or of arrays of them.
func readKeysFile(path string) ([]*credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*credential
	dec := json.NewDecoder(f)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read keys file %s: %w", path, err)
		}
		var keys []keyFileEntry
		if err := json.Unmarshal(raw, &keys); err != nil {
			var k keyFileEntry
			if err := json.Unmarshal(raw, &k); err != nil {
				return nil, fmt.Errorf("read keys file %s: expected objects with clientId and clientSecret", path)
			}
			keys = []keyFileEntry{k}
		}
		for _, k := range keys {
			if k.ClientID == "" || k.ClientSecret == "" {
				return nil, fmt.Errorf("read keys file %s: an entry lacks clientId or clientSecret", path)
			}
			out = append(out, newCredential(k.ClientID, k.ClientSecret))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keys file %s contains no credentials", path)
	}
	return out, nil
}
