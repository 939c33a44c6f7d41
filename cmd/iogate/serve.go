package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iogate/iogate/auth"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/postgres"
	"github.com/iogate/iogate/token"
	"github.com/spf13/cobra"
)

// serveConfig holds the flags of "iogate serve".
type serveConfig struct {
	listen     string
	httpListen string
	tlsCert    string
	tlsKey     string
	tokenTTL   time.Duration
	issuer     string
	signingAlg string
	logLevel   string

	maxStaleness   time.Duration
	resyncInterval time.Duration
	dashboard      dashboardConfig
}

func newServeCommand(g *globals) *cobra.Command {
	c := serveConfig{tokenTTL: time.Hour, maxStaleness: auth.DefaultMaxStaleness, resyncInterval: 5 * time.Minute}
	cmd := &cobra.Command{
		Use:         "serve",
		Annotations: map[string]string{envAnnotation: "all"},
		Short:       "Run the HTTPS API server",
		Long: "Run the HTTPS API server. With no flags it keeps its data in ./iogate-data (created mode 0700),\n" +
			"serves HTTPS on 127.0.0.1:8443 with a self-signed certificate written to DATA_DIR/tls/cert.pem,\n" +
			"and answers plain HTTP on 127.0.0.1:8080 with 403 only.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), g, c)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.listen, "listen", "127.0.0.1:8443", "address of the HTTPS listener")
	f.StringVar(&c.httpListen, "http-listen", "127.0.0.1:8080", "address of the plain HTTP listener that rejects every request; empty disables it")
	f.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate file (default: a self-signed certificate in DATA_DIR/tls/cert.pem)")
	f.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.Var(durationFlag{&c.tokenTTL}, "token-ttl", "lifetime of access tokens (default 1h)")
	f.StringVar(&c.issuer, "issuer", "", "\"iss\" claim of access tokens (default https:// plus the --listen address)")
	f.StringVar(&c.signingAlg, "signing-alg", token.EdDSA, "token signing algorithm: "+strings.Join(token.Algorithms, ", "))
	f.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.Var(durationFlag{&c.maxStaleness}, "max-staleness", "how long the server keeps accepting tokens after its change feed went down; "+
		"after that token and bearer requests and /readyz get 503 until it has reloaded every key (default 5s)")
	f.Var(durationFlag{&c.resyncInterval}, "resync-interval", "how often the server reloads every key, in case a change notification was lost (default 5m)")
	c.dashboard.addFlags(f)
	return cmd
}

func (c *serveConfig) validate() error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errorf("--tls-cert and --tls-key must be given together")
	}
	if c.tokenTTL < time.Minute || c.tokenTTL > 24*time.Hour {
		return errorf("invalid --token-ttl %s: it must be from 1m to 24h", c.tokenTTL)
	}
	if c.maxStaleness < time.Second || c.maxStaleness > time.Hour {
		return errorf("invalid --max-staleness %s: it must be from 1s to 1h", c.maxStaleness)
	}
	if c.resyncInterval < 10*time.Second || c.resyncInterval > 24*time.Hour {
		return errorf("invalid --resync-interval %s: it must be from 10s to 24h", c.resyncInterval)
	}
	if c.issuer != "" {
		// The metadata document must sit at the issuer plus /.well-known/..., which RFC
		// 8414 section 3 defines simply only for an issuer without a path.
		u, err := url.Parse(c.issuer)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return errorf("invalid --issuer %q: it must be an https:// URL with a host and nothing after it, such as https://api.example.com", c.issuer)
		}
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

func newLogger(g *globals, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, errorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{Level: l})), nil
}

func serve(ctx context.Context, g *globals, c serveConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	log, err := newLogger(g, c.logLevel)
	if err != nil {
		return err
	}

	// The data directory holds the self-signed certificate, and with SQLite the database
	// and the master key.
	if err := g.ensureDataDir(true); err != nil {
		return err
	}

	// Open the listeners first, so that a busy port fails before anything else happens.
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return errorf("listen on %s: %v; choose another address with --listen", c.listen, err)
	}
	defer ln.Close()
	var plainLn net.Listener
	if c.httpListen != "" {
		plainLn, err = net.Listen("tcp", c.httpListen)
		if err != nil {
			return errorf("listen on %s: %v; choose another address with --http-listen, or pass --http-listen '' to disable it", c.httpListen, err)
		}
		defer plainLn.Close()
	}
	issuer := c.issuer
	if issuer == "" {
		issuer = "https://" + ln.Addr().String()
	}

	e, err := g.open(ctx, true, auth.Config{Issuer: issuer, TokenTTL: c.tokenTTL, SigningAlgorithm: c.signingAlg, Logger: log,
		MaxStaleness: c.maxStaleness, ResyncInterval: c.resyncInterval})
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.auth.Start(ctx); err != nil {
		return err
	}
	cert, err := loadCertificate(g, c)
	if err != nil {
		return err
	}

	api := iohttp.NewServer(e.auth, e.store, log)
	publicURL := c.dashboard.publicURLFor(ln.Addr())
	users, err := newDashboard(ctx, g, c, e, api, publicURL, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		TLSConfig:         iohttp.TLSConfig(cert),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	servers := []*http.Server{srv}

	// A quiet PostgreSQL feed confirms its connection once per heartbeat, so the heartbeat
	// must be well below the staleness bound or a healthy node would flap to 503.
	if f, ok := e.feed.(*postgres.Feed); ok {
		f.Heartbeat = min(postgres.FeedHeartbeat, c.maxStaleness/4)
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.auth.Run(runCtx, e.feed)
	}()

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	attrs := []any{"https_addr", ln.Addr().String(), "issuer", issuer, "data_dir", g.dataDir, "database", g.databaseLabel(),
		"signing_key_id", e.auth.Keyring().ActiveKeyID()}
	if plainLn != nil {
		plain := &http.Server{
			Handler:           api.PlainHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		servers = append(servers, plain)
		go func() { errc <- plain.Serve(plainLn) }()
		attrs = append(attrs, "http_addr", plainLn.Addr().String())
	}
	attrs = append(attrs, "dashboard_url", publicURL+"/dashboard/")
	log.Info("iogate listening", attrs...)
	printSetupLink(ctx, g, users, publicURL, log)

	select {
	case <-ctx.Done():
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
	stopRun()
	wg.Wait()
	log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// loadCertificate loads --tls-cert and --tls-key, or the self-signed certificate of the
// data directory, creating it on first run.
func loadCertificate(g *globals, c serveConfig) (tls.Certificate, error) {
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return cert, errorf("load --tls-cert %s and --tls-key %s: %v", c.tlsCert, c.tlsKey, err)
		}
		return cert, nil
	}
	dir := filepath.Join(g.dataDir, "tls")
	return iohttp.EnsureSelfSignedCert(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), time.Now())
}
