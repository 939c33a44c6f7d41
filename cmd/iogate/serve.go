package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/internal/logging"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/token"
	"github.com/spf13/cobra"
)

// serveConfig holds the flags of "iogate serve".
type serveConfig struct {
	configFile string

	listen      string
	httpListen  string
	adminListen string
	tlsCert     string
	tlsKey      string
	tokenTTL    time.Duration
	issuer      string
	signingAlg  string
	logLevel    string
	// logFlushInterval is how long info and debug lines may wait in memory before they
	// are written; 0 writes every line at once.
	logFlushInterval time.Duration
	// failureLogInterval is how often the failures of an outage that were not logged are
	// counted in one line per kind.
	failureLogInterval time.Duration

	maxStaleness   time.Duration
	resyncInterval time.Duration
	auditRetention time.Duration
	// storeTimeout bounds how long a request waits for the database before it gets 503.
	storeTimeout time.Duration

	trustedProxies           []string
	revokeExposedCredentials bool
	rateLimits               iohttp.RateLimits

	// shutdownDrain is how long the server keeps serving after SIGTERM or SIGINT while
	// /readyz reports it draining, so that a load balancer moves clients away first.
	shutdownDrain time.Duration

	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	tlsReloadInterval time.Duration

	dashboard dashboardConfig
}

func newServeCommand(g *globals) *cobra.Command {
	c := serveConfig{
		tokenTTL:           time.Hour,
		maxStaleness:       auth.DefaultMaxStaleness,
		resyncInterval:     5 * time.Minute,
		auditRetention:     auth.DefaultAuditRetention,
		storeTimeout:       auth.DefaultStoreTimeout,
		rateLimits:         iohttp.DefaultRateLimits(),
		readHeaderTimeout:  10 * time.Second,
		readTimeout:        30 * time.Second,
		writeTimeout:       30 * time.Second,
		idleTimeout:        120 * time.Second,
		tlsReloadInterval:  10 * time.Second,
		logFlushInterval:   100 * time.Millisecond,
		failureLogInterval: iohttp.DefaultFailureLogInterval,
	}
	cmd := &cobra.Command{
		Use:         "serve",
		Annotations: map[string]string{envAnnotation: "all"},
		Short:       "Run the HTTPS API server",
		Long: "Run the HTTPS API server. With no flags it keeps its data in ./iogate-data (created mode 0700),\n" +
			"serves HTTPS on 127.0.0.1:8443 with a self-signed certificate written to DATA_DIR/tls/cert.pem,\n" +
			"answers plain HTTP on 127.0.0.1:8080 with 403 only, and serves metrics and health checks on\n" +
			"127.0.0.1:9090. Settings come from flags, then IOGATE_* environment variables, then the\n" +
			"--config file, then defaults.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), g, c)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.configFile, "config", "", "YAML file of settings whose keys are the flag names, such as listen: 0.0.0.0:443")
	f.StringVar(&c.listen, "listen", "127.0.0.1:8443", "address of the HTTPS listener")
	f.StringVar(&c.httpListen, "http-listen", "127.0.0.1:8080", "address of the plain HTTP listener that rejects every request; empty disables it")
	f.StringVar(&c.adminListen, "admin-listen", "127.0.0.1:9090", "address of the plain HTTP admin listener with /metrics, /healthz and /readyz; empty disables it")
	f.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate file, reloaded when it changes (default: a self-signed certificate in DATA_DIR/tls/cert.pem)")
	f.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.Var(newDurationFlag(&c.tlsReloadInterval), "tls-reload-interval", "how often the certificate and key files are checked for changes (default 10s)")
	f.Var(newDurationFlag(&c.tokenTTL), "token-ttl", "lifetime of access tokens; 1m to 24h (default 1h)")
	f.StringVar(&c.issuer, "issuer", "", "\"iss\" claim of access tokens (default: the --public-url or its default, unless it has a path, then https:// plus the --listen address)")
	f.StringVar(&c.signingAlg, "signing-alg", token.EdDSA, "token signing algorithm: "+strings.Join(token.Algorithms, ", "))
	f.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.Var(newDurationFlag(&c.logFlushInterval), "log-flush-interval", "longest time info and debug lines, such as the access log, wait in memory before they are written; "+
		"warnings and errors are written at once; 0 writes every line at once, otherwise 10ms to 10s (default 100ms)")
	f.Var(newDurationFlag(&c.failureLogInterval), "failure-log-interval", "how often one line counts the 503 responses, failed /readyz checks "+
		"and failed writes of key last-used times of an outage that were not logged; only the first of each is logged in full; 100ms to 1h (default 10s)")
	f.Var(newDurationFlag(&c.shutdownDrain), "shutdown-drain", "time the server keeps serving after SIGTERM or SIGINT, with /readyz at 503 and keep-alive "+
		"off, so that a load balancer stops sending it requests before it closes its listeners; a second signal ends it early; 0 to 5m (default 0)")
	f.Var(newDurationFlag(&c.maxStaleness), "max-staleness", "how long the server keeps accepting tokens after its change feed went down; "+
		"after that token and bearer requests and /readyz get 503 until it has reloaded every key; 1s to 1h (default 5s)")
	f.Var(newDurationFlag(&c.auditRetention), "audit-retention", "how long audit records are kept; older ones are pruned at start and every 6h, "+
		"leaving a signed checkpoint from which the chain still verifies; 0 keeps every record (default 400d)")
	f.Var(newDurationFlag(&c.storeTimeout), "store-timeout", "how long a request waits for the database (a token's audit record, a vault, "+
		"a revocation, a dashboard page) before it gets 503 with Retry-After; 1s to 1m and at most half of --write-timeout (default 5s)")
	f.Var(newDurationFlag(&c.resyncInterval), "resync-interval", "how often the server reloads every key, in case a change notification was lost; 10s to 24h (default 5m)")

	f.StringSliceVar(&c.trustedProxies, "trusted-proxies", nil, "comma-separated IP addresses or CIDR prefixes of proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (default: none)")
	f.BoolVar(&c.revokeExposedCredentials, "revoke-exposed-credentials", false, "delete a key at once, rather than only mark it exposed, when one of its valid credentials arrives over plain HTTP")

	rl := &c.rateLimits
	f.Float64Var(&rl.TokenPerAddress, "rate-limit-token-per-address", rl.TokenPerAddress, "requests per second one source address may send to the token, introspection and revocation endpoints; 0 disables")
	f.IntVar(&rl.TokenPerAddressBurst, "rate-limit-token-per-address-burst", rl.TokenPerAddressBurst, "burst size of --rate-limit-token-per-address")
	f.Float64Var(&rl.TokenPerClient, "rate-limit-token-per-client", rl.TokenPerClient, "requests per second to those endpoints per pair of source address and client ID; 0 disables")
	f.IntVar(&rl.TokenPerClientBurst, "rate-limit-token-per-client-burst", rl.TokenPerClientBurst, "burst size of --rate-limit-token-per-client")
	f.Float64Var(&rl.APIPerKey, "rate-limit-api-per-key", rl.APIPerKey, "requests per second the tokens of one API key may make to the /v1 API; 0 disables")
	f.IntVar(&rl.APIPerKeyBurst, "rate-limit-api-per-key-burst", rl.APIPerKeyBurst, "burst size of --rate-limit-api-per-key")
	f.IntVar(&rl.FailuresBeforeSlowdown, "auth-failures-before-slowdown", rl.FailuresBeforeSlowdown, "failed authentications from one address within --auth-failure-window before it must wait between attempts (1s, doubling, at most 1m); 0 disables the slowdown")
	f.IntVar(&rl.FailuresBeforeBlock, "auth-failures-before-block", rl.FailuresBeforeBlock, "failed authentications from one address within --auth-failure-window that block it for --auth-block-duration; 0 disables failure tracking")
	f.Var(newDurationFlag(&rl.FailureWindow), "auth-failure-window", "window in which failed authentications from one address are counted (default 15m)")
	f.Var(newDurationFlag(&rl.BlockDuration), "auth-block-duration", "how long an address stays blocked after too many failed authentications (default 15m)")

	f.Var(newDurationFlag(&c.readHeaderTimeout), "read-header-timeout", "time a client has to send the TLS handshake and request headers (default 10s)")
	f.Var(newDurationFlag(&c.readTimeout), "read-timeout", "time a client has to send a whole request, body included (default 30s)")
	f.Var(newDurationFlag(&c.writeTimeout), "write-timeout", "time to write a response (default 30s)")
	f.Var(newDurationFlag(&c.idleTimeout), "idle-timeout", "time an idle keep-alive connection stays open (default 2m)")
	f.IntVar(&c.maxHeaderBytes, "max-header-bytes", 64<<10, "largest request header block accepted, in bytes; larger HTTP/1.1 requests get 431, HTTP/2 clients learn the limit from the server's settings; 4096 to 1048576")

	c.dashboard.addFlags(f)
	return cmd
}

func (c *serveConfig) validate() error {
	if strings.TrimSpace(c.listen) == "" {
		// net.Listen would take an empty address as every interface on a random port.
		return flagErrorf("listen", "invalid --listen %q: the HTTPS listener cannot be turned off; "+
			"give an address such as 127.0.0.1:8443 or 0.0.0.0:443", c.listen)
	}
	for _, l := range []struct{ flag, address string }{{"listen", c.listen}, {"http-listen", c.httpListen}, {"admin-listen", c.adminListen}} {
		// ":" is what "$HOST:$PORT" becomes when neither variable is set, and net.Listen
		// takes it as every interface on a random port, as it does an empty address.
		if host, port, err := net.SplitHostPort(strings.TrimSpace(l.address)); err == nil && host == "" && port == "" {
			return flagErrorf(l.flag, "invalid --%s %q: it names neither a host nor a port, so it would listen on every interface on a random port; "+
				"give an address such as 127.0.0.1:8443 or 0.0.0.0:443", l.flag, l.address)
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		set, unset := "tls-cert", "tls-key"
		if c.tlsCert == "" {
			set, unset = unset, set
		}
		return flagErrorf(set, "--tls-cert and --tls-key must be given together: --%s is set but --%s is not", set, unset)
	}
	if c.tokenTTL < time.Minute || c.tokenTTL > 24*time.Hour {
		return errorf("invalid --token-ttl %s: it must be from 1m to 24h", iogate.FormatDuration(c.tokenTTL))
	}
	if c.maxStaleness < time.Second || c.maxStaleness > time.Hour {
		return errorf("invalid --max-staleness %s: it must be from 1s to 1h", c.maxStaleness)
	}
	if c.resyncInterval < 10*time.Second || c.resyncInterval > 24*time.Hour {
		return errorf("invalid --resync-interval %s: it must be from 10s to 24h", iogate.FormatDuration(c.resyncInterval))
	}
	if c.issuer != "" {
		// The metadata document must sit at the issuer plus /.well-known/..., which RFC
		// 8414 section 3 defines simply only for an issuer without a path.
		u, err := url.Parse(c.issuer)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return errorf("invalid --issuer %q: it must be an https:// URL with a host and nothing after it, such as https://api.example.com", c.issuer)
		}
	}
	if _, err := iohttp.ParseTrustedProxies(c.trustedProxies); err != nil {
		return errorf("invalid --trusted-proxies: %v", err)
	}
	if err := c.rateLimits.Validate(); err != nil {
		return errorf("invalid rate limit flags: %v", err)
	}
	for name, d := range map[string]time.Duration{"--read-header-timeout": c.readHeaderTimeout, "--read-timeout": c.readTimeout,
		"--write-timeout": c.writeTimeout, "--idle-timeout": c.idleTimeout, "--tls-reload-interval": c.tlsReloadInterval} {
		if d <= 0 {
			return errorf("invalid %s: it must be a positive duration", name)
		}
	}
	if err := c.validateStoreTimeout(); err != nil {
		return err
	}
	// Below 10ms the periodic writes would cost more than the write per line they save.
	if c.logFlushInterval != 0 && (c.logFlushInterval < 10*time.Millisecond || c.logFlushInterval > 10*time.Second) {
		return errorf("invalid --log-flush-interval %s: use 0 (a write per line) or from 10ms to 10s", iogate.FormatDuration(c.logFlushInterval))
	}
	if c.failureLogInterval < 100*time.Millisecond || c.failureLogInterval > time.Hour {
		return errorf("invalid --failure-log-interval %s: it must be from 100ms to 1h", iogate.FormatDuration(c.failureLogInterval))
	}
	if c.shutdownDrain < 0 || c.shutdownDrain > 5*time.Minute {
		return errorf("invalid --shutdown-drain %s: it must be from 0 to 5m", iogate.FormatDuration(c.shutdownDrain))
	}
	if c.maxHeaderBytes < 4096 || c.maxHeaderBytes > 1<<20 {
		return errorf("invalid --max-header-bytes %d: it must be from 4096 to 1048576", c.maxHeaderBytes)
	}
	if err := c.dashboard.validate(); err != nil {
		return err
	}
	for _, a := range token.Algorithms {
		if c.signingAlg == a {
			return nil
		}
	}
	return errorf("invalid --signing-alg %q: use one of %s", c.signingAlg, strings.Join(token.Algorithms, ", "))
}

// validateStoreTimeout checks --store-timeout against its range and --write-timeout. A
// request that waits the whole store timeout must still have time to write its 503 before
// the write timeout closes the connection without a response. The write timeout also
// covers reading the request body, so the bound leaves at least half of it. The bound of a
// dashboard request covers its password hashing too, which takes tens of milliseconds, so
// it is at least a second.
func (c *serveConfig) validateStoreTimeout() error {
	if c.storeTimeout < time.Second || c.storeTimeout > time.Minute {
		return errorf("invalid --store-timeout %s: it must be from 1s to 1m", iogate.FormatDuration(c.storeTimeout))
	}
	if c.storeTimeout > c.writeTimeout/2 {
		return errorf("invalid --store-timeout %s: it must be at most half of --write-timeout %s, so that a request that waits that long "+
			"still gets its 503 response; lower --store-timeout or raise --write-timeout", iogate.FormatDuration(c.storeTimeout), iogate.FormatDuration(c.writeTimeout))
	}
	return nil
}

// logOutput writes the lines that a logger from newLogger holds in memory: Flush at once,
// Close at the end of serve.
type logOutput struct {
	buffered *logging.BufferedWriter
}

// Flush writes the lines held so far. serve calls it after its start-up lines, which
// operators and scripts wait for, and before it writes to standard error directly.
func (o logOutput) Flush() {
	if o.buffered != nil {
		o.buffered.Flush()
	}
}

// Close writes the remaining lines and stops the periodic writes.
func (o logOutput) Close() {
	if o.buffered != nil {
		o.buffered.Close()
	}
}

// newLogger returns the server's JSON logger, behind a handler that redacts anything that
// looks like a secret, and the output that writes the lines it holds in memory. With a
// positive flushInterval, info and debug lines are written in batches at least that often.
// Warnings and errors are written before the call that logs them returns.
func newLogger(g *globals, level string, flushInterval time.Duration) (*slog.Logger, logOutput, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, logOutput{}, errorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if flushInterval <= 0 {
		return slog.New(logging.Redact(slog.NewJSONHandler(g.stderr, opts))), logOutput{}, nil
	}
	w := logging.NewBufferedWriter(g.stderr, flushInterval)
	return slog.New(logging.NewJSON(w, l)), logOutput{buffered: w}, nil
}

// listeners are the server's open sockets.
type listeners struct {
	https, plain, admin net.Listener
}

func (l *listeners) Close() {
	for _, ln := range []net.Listener{l.https, l.plain, l.admin} {
		if ln != nil {
			ln.Close()
		}
	}
}

// openListeners opens every listener first, so that a busy port fails before anything
// else happens.
func openListeners(c serveConfig) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.https, err = net.Listen("tcp", c.listen); err != nil {
		return nil, flagErrorf("listen", "listen on %q: %v; choose another address with --listen", c.listen, err)
	}
	if c.httpListen != "" {
		if l.plain, err = net.Listen("tcp", c.httpListen); err != nil {
			l.Close()
			return nil, flagErrorf("http-listen", "listen on %q: %v; choose another address with --http-listen, or pass --http-listen '' to disable it", c.httpListen, err)
		}
	}
	if c.adminListen != "" {
		if l.admin, err = net.Listen("tcp", c.adminListen); err != nil {
			l.Close()
			return nil, flagErrorf("admin-listen", "listen on %q: %v; choose another address with --admin-listen, or pass --admin-listen '' to disable it", c.adminListen, err)
		}
	}
	return l, nil
}

// defaultIssuer returns the issuer of a server without --issuer: its public URL, which
// clients use to reach it, so that RFC 8414 metadata fetched there names the same URL. An
// issuer has no path here (see validate), so a public URL with one falls back to https://
// plus the listen address.
func defaultIssuer(publicURL, listen string) string {
	if u, err := url.Parse(publicURL); err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		return publicURL
	}
	return "https://" + listen
}

func serve(ctx context.Context, g *globals, c serveConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	log, logOut, err := newLogger(g, c.logLevel, c.logFlushInterval)
	if err != nil {
		return err
	}
	defer logOut.Close()
	for _, warning := range g.ignoredEnv.warnings("iogate serve") {
		log.Warn(warning.message(), warning.attrs()...)
	}

	// A --tls-cert and --tls-key pair that does not load fails the start before the data
	// directory, the master key or the database exists, so a failed first start leaves
	// nothing behind.
	m := metrics.New()
	var certs *iohttp.CertReloader
	if c.tlsCert != "" {
		if certs, err = loadCertificate(c, log, m); err != nil {
			return err
		}
	}
	// The data directory holds the self-signed certificate, and with SQLite the database
	// and the master key.
	if err := g.ensureDataDir(true); err != nil {
		return err
	}
	lns, err := openListeners(c)
	if err != nil {
		return err
	}
	defer lns.Close()
	if certs == nil {
		if certs, err = loadSelfSignedCertificate(g, log, m); err != nil {
			return err
		}
	}
	publicURL := c.dashboard.publicURLFor(lns.https.Addr())
	issuer := c.issuer
	if issuer == "" {
		issuer = defaultIssuer(publicURL, lns.https.Addr().String())
	}

	g.wrapStore = func(s iogate.Store) iogate.Store { return metrics.InstrumentStore(s, m) }
	e, err := g.open(ctx, true, auth.Config{Issuer: issuer, TokenTTL: c.tokenTTL, SigningAlgorithm: c.signingAlg, Logger: log,
		MaxStaleness: c.maxStaleness, ResyncInterval: c.resyncInterval, StoreTimeout: c.storeTimeout, FailureLogInterval: c.failureLogInterval, Metrics: m})
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.auth.Start(ctx); err != nil {
		return err
	}
	m.RegisterFeedLag(func() float64 { return e.auth.FeedLag().Seconds() })

	api := iohttp.NewServer(e.auth, e.store, log)
	// CLI commands that print links read this URL when they are given no --url. A failure
	// costs only that default, so the server starts anyway.
	if err := e.store.RecordPublicURL(ctx, publicURL, time.Now().UTC()); err != nil {
		log.Error("record public URL failed; CLI commands without --url print links with the URL recorded before, else "+defaultLinkURL,
			"public_url", publicURL, "error", err)
	}
	users, err := newDashboard(ctx, g, c, e, api, publicURL, log)
	if err != nil {
		return err
	}
	proxies, _ := iohttp.ParseTrustedProxies(c.trustedProxies)
	if warning := iohttp.TrustedProxiesWarning(proxies); warning != "" {
		log.Warn("catch-all entry in --trusted-proxies", "warning", warning)
	}
	api.SetOptions(iohttp.Options{
		TrustedProxies:           proxies,
		RateLimits:               c.rateLimits,
		RateLimitsEnabled:        true,
		RevokeExposedCredentials: c.revokeExposedCredentials,
		Metrics:                  m,
		FailureLogInterval:       c.failureLogInterval,
		OnAddressBlocked: func(ctx context.Context, addr netip.Prefix, clientIDs []string, failures int, until time.Time) {
			e.auth.RecordAddressBlocked(addr.String(), clientIDs, failures, until)
		},
		OnAddressUnblocked: func(addr netip.Prefix, clientIDs []string, operator string, blockedUntil time.Time) {
			e.auth.RecordAddressUnblocked(addr.String(), clientIDs, operator, blockedUntil)
		},
	})
	srv := newHTTPServer(api.Handler(), c, log)
	srv.TLSConfig = iohttp.TLSConfigReloading(certs)
	servers := []*http.Server{srv}

	// A quiet PostgreSQL feed confirms its connection once per heartbeat, so the heartbeat
	// must be well below the staleness bound or a healthy node would flap to 503.
	if f, ok := e.feed.(*postgres.Feed); ok {
		f.Heartbeat = min(postgres.FeedHeartbeat, c.maxStaleness/4)
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		pruneAuditLoop(runCtx, e, c.auditRetention, log)
	}()
	go func() {
		defer wg.Done()
		sweepDashboardLoop(runCtx, users, log)
	}()
	go func() {
		defer wg.Done()
		e.auth.Run(runCtx, e.feed)
	}()
	// SIGHUP reloads the certificate at once, as it does for many servers, instead of
	// ending the process, which would lose the log lines still in memory.
	go func() {
		defer wg.Done()
		certs.Watch(runCtx, c.tlsReloadInterval, hangups)
	}()

	errc := make(chan error, 4)
	// Plain HTTP sent to the HTTPS port gets the plain listener's handling: 403, and a
	// valid credential in it marks its key exposed.
	httpsTLS, httpsPlain := iohttp.SplitPlainHTTP(lns.https, srv.TLSConfig, c.readHeaderTimeout)
	plainOnHTTPS := newPlainServer(api, c, log)
	servers = append(servers, plainOnHTTPS)
	// A signal that arrived while the server started ends it without a drain: no load
	// balancer has sent it clients yet.
	drainPeriod := c.shutdownDrain
	if ctx.Err() != nil {
		drainPeriod = 0
	}
	go func() { errc <- srv.Serve(httpsTLS) }()
	go func() { errc <- plainOnHTTPS.Serve(httpsPlain) }()
	attrs := []any{"https_addr", lns.https.Addr().String(), "issuer", issuer, "data_dir", g.dataDir, "database", g.databaseLabel(),
		"signing_key_id", e.auth.Keyring().ActiveKeyID()}
	if lns.plain != nil {
		plain := newPlainServer(api, c, log)
		servers = append(servers, plain)
		go func() { errc <- plain.Serve(lns.plain) }()
		attrs = append(attrs, "http_addr", lns.plain.Addr().String())
	}
	if lns.admin != nil {
		admin := newHTTPServer(api.AdminHandler(), c, log)
		servers = append(servers, admin)
		go func() { errc <- admin.Serve(lns.admin) }()
		attrs = append(attrs, "admin_addr", lns.admin.Addr().String())
	}
	attrs = append(attrs, "dashboard_url", publicURL+"/dashboard/")
	attrs = append(attrs, certs.LogAttrs()...)
	log.Info("iogate listening", attrs...)
	printSetupLink(ctx, g, users, publicURL, log, logOut.Flush)
	logOut.Flush()

	select {
	case <-ctx.Done():
		err = drain(api, servers, drainPeriod, errc, log)
		log.Info("shutting down")
	case err = <-errc:
		log.Error("listener failed", "error", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			log.Warn("graceful shutdown incomplete", "error", err)
		}
	}
	api.Close()
	stopRun()
	wg.Wait()
	log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// drain keeps the servers serving for period after a shutdown signal, with /readyz at 503
// and keep-alive off, so that each response closes its connection. A second SIGTERM or
// SIGINT, or a listener that fails, ends it early, and that failure is returned.
func drain(api *iohttp.Server, servers []*http.Server, period time.Duration, errc <-chan error, log *slog.Logger) error {
	if period <= 0 {
		return nil
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	api.SetDraining()
	for _, s := range servers {
		s.SetKeepAlivesEnabled(false)
	}
	log.Info("draining before shutdown: /readyz reports 503 and every response closes its connection",
		"shutdown_drain", period.String())
	timer := time.NewTimer(period)
	defer timer.Stop()
	select {
	case <-timer.C:
	case sig := <-again:
		log.Info("drain ended early by a second signal", "signal", sig.String())
	case err := <-errc:
		log.Error("listener failed while draining", "error", err)
		return err
	}
	return nil
}

// auditPruneInterval is how often a running server prunes audit records past retention.
const auditPruneInterval = 6 * time.Hour

// pruneAuditLoop prunes audit records older than retention once at start and then every
// auditPruneInterval, until ctx ends. Zero retention keeps every record.
func pruneAuditLoop(ctx context.Context, e *env, retention time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	for {
		report, err := e.auth.PruneAudit(ctx, retention)
		if err != nil && ctx.Err() == nil {
			log.Error("audit pruning failed", "error", err, "accounts_pruned", report.Accounts, "records_pruned", report.Records)
		} else if report.Records > 0 {
			log.Info("audit records pruned", "accounts", report.Accounts, "records", report.Records, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(auditPruneInterval):
		}
	}
}

// newHTTPServer returns a server for handler with the configured timeouts and header
// limit. net/http bounds the TLS handshake by the shortest of the timeouts and the request
// headers by ReadHeaderTimeout, so a client that connects and sends nothing, or half a
// request, is cut off. "OPTIONS *" reaches handler too, rather than net/http's own empty
// 200, so that it gets the listener's headers and, on the plain listener, the 403.
func newHTTPServer(handler http.Handler, c serveConfig, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:                      handler,
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            c.readHeaderTimeout,
		ReadTimeout:                  c.readTimeout,
		WriteTimeout:                 c.writeTimeout,
		IdleTimeout:                  c.idleTimeout,
		MaxHeaderBytes:               c.maxHeaderBytes,
		ErrorLog:                     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// newPlainServer returns a server for the plain HTTP handler. It only rejects, so its
// connections need not live long.
func newPlainServer(api *iohttp.Server, c serveConfig, log *slog.Logger) *http.Server {
	plain := newHTTPServer(api.PlainHandler(), c, log)
	// HTTP/2 without TLS too, so that a client configured for it with the wrong URL gets the
	// 403 and its credential is checked, instead of a connection that ends without a reply.
	plain.Protocols = new(http.Protocols)
	plain.Protocols.SetHTTP1(true)
	plain.Protocols.SetUnencryptedHTTP2(true)
	plain.ReadTimeout = min(c.readTimeout, 10*time.Second)
	plain.WriteTimeout = min(c.writeTimeout, 10*time.Second)
	plain.IdleTimeout = min(c.idleTimeout, 30*time.Second)
	return plain
}

// loadCertificate loads --tls-cert and --tls-key into a reloader that watches the files.
func loadCertificate(c serveConfig, log *slog.Logger, m *metrics.Metrics) (*iohttp.CertReloader, error) {
	r, err := iohttp.NewCertReloader(c.tlsCert, c.tlsKey, log, certReloaderOptions(log, m))
	if err != nil {
		return nil, errorf("load --tls-cert %s and --tls-key %s: %v", c.tlsCert, c.tlsKey, err)
	}
	return r, nil
}

// loadSelfSignedCertificate loads the self-signed certificate of the data directory,
// creating it on first run, into a reloader that watches the files.
func loadSelfSignedCertificate(g *globals, log *slog.Logger, m *metrics.Metrics) (*iohttp.CertReloader, error) {
	dir := filepath.Join(g.dataDir, "tls")
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := iohttp.EnsureSelfSignedCert(certPath, keyPath, time.Now()); err != nil {
		return nil, err
	}
	return iohttp.NewCertReloader(certPath, keyPath, log, certReloaderOptions(log, m))
}

// certReloaderOptions returns the options of the server's certificate reloader: it warns
// at start and at every reload when the private key file can be read by other users, and
// records the certificate's expiry and failed reloads in m.
func certReloaderOptions(log *slog.Logger, m *metrics.Metrics) iohttp.CertReloaderOptions {
	return iohttp.CertReloaderOptions{
		Metrics: m,
		CheckKeyFile: func(keyPath string) {
			// A key file that is gone since it was read fails the next reload, which logs that.
			info, err := os.Stat(keyPath)
			if err != nil {
				return
			}
			if warning := secretFileModeWarning("TLS private key file", keyPath, info.Mode()); warning != "" {
				log.Warn("TLS private key file can be read or written by other users", "key_file", keyPath, "warning", warning)
			}
		},
	}
}
