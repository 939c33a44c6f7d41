package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/iogate/iogate"
	iohttp "github.com/iogate/iogate/http"
	"github.com/iogate/iogate/user"
	"github.com/spf13/pflag"
)

// dashboardConfig holds the dashboard flags of "iogate serve".
type dashboardConfig struct {
	publicURL       string
	keyAgeWarning   time.Duration
	idleTimeout     time.Duration
	maxAge          time.Duration
	confirmInterval time.Duration
}

func (c *dashboardConfig) addFlags(f *pflag.FlagSet) {
	c.keyAgeWarning = 90 * 24 * time.Hour
	c.idleTimeout = 30 * time.Minute
	c.maxAge = 12 * time.Hour
	c.confirmInterval = 5 * time.Minute
	f.StringVar(&c.publicURL, "public-url", "", "base URL that people use to reach this server, for the links it prints and shows (default https://localhost:PORT for a loopback --listen, else https:// plus the --listen address)")
	f.Var(newDurationFlag(&c.keyAgeWarning), "key-age-warning", "secret age from which the dashboard warns that a key is due for rotation (default 90d)")
	f.Var(newDurationFlag(&c.idleTimeout), "session-idle-timeout", "dashboard sessions end after this long without a request (default 30m)")
	f.Var(newDurationFlag(&c.maxAge), "session-max-age", "dashboard sessions end this long after sign-in, however active (default 12h)")
	f.Var(newDurationFlag(&c.confirmInterval), "confirm-interval", "how long a password or TOTP confirmation covers key, user and two-factor changes in the dashboard before it is requested again (default 5m)")
}

func (c *dashboardConfig) validate() error {
	if c.publicURL != "" {
		if err := checkBaseURL(c.publicURL); err != nil {
			return errorf("invalid --public-url %q: %v", c.publicURL, err)
		}
	}
	if c.keyAgeWarning < 24*time.Hour {
		return errorf("invalid --key-age-warning %s: it must be at least 1d", iogate.FormatDuration(c.keyAgeWarning))
	}
	if c.idleTimeout < time.Second || c.idleTimeout > c.maxAge {
		return errorf("invalid --session-idle-timeout %s: it must be from 1s to --session-max-age (%s)", iogate.FormatDuration(c.idleTimeout), iogate.FormatDuration(c.maxAge))
	}
	if c.maxAge > 30*24*time.Hour {
		return errorf("invalid --session-max-age %s: it must be at most 30d", iogate.FormatDuration(c.maxAge))
	}
	if c.confirmInterval < time.Second || c.confirmInterval > time.Hour {
		return errorf("invalid --confirm-interval %s: it must be from 1s to 1h", iogate.FormatDuration(c.confirmInterval))
	}
	return nil
}

// checkBaseURL accepts an https:// URL with a host and nothing after the path, not even an
// empty query or fragment.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	// An empty query or fragment ("https://x.example?") leaves RawQuery and Fragment empty,
	// so the characters themselves are checked.
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(s, "?#") || u.User != nil {
		return fmt.Errorf("expected an https:// URL such as https://iogate.example.com")
	}
	return nil
}

// publicURLFor returns --public-url without a trailing slash, or the default for the
// listener's address.
func (c *dashboardConfig) publicURLFor(addr net.Addr) string {
	if c.publicURL != "" {
		return strings.TrimRight(c.publicURL, "/")
	}
	return defaultPublicURL(addr.String())
}

// defaultPublicURL names a loopback or unspecified listener localhost, which the
// self-signed certificate covers and browsers treat as a secure context.
func defaultPublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "https://" + listen
	}
	ip := net.ParseIP(host)
	if host == "" || host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return "https://localhost:" + port
	}
	return "https://" + net.JoinHostPort(host, port)
}

// newDashboard builds the user service and mounts the dashboard on api.
func newDashboard(ctx context.Context, g *globals, c serveConfig, e *env, api *iohttp.Server, publicURL string, log *slog.Logger) (*user.Service, error) {
	users, err := user.New(ctx, e.store, e.master, user.Config{
		IdleTimeout:     c.dashboard.idleTimeout,
		MaxAge:          c.dashboard.maxAge,
		ConfirmInterval: c.dashboard.confirmInterval,
		Logger:          log,
		AuditChain:      e.auth.AuditChain(),
	})
	if err != nil {
		return nil, err
	}
	hint := ""
	if c.tlsCert == "" {
		hint = shellQuote(filepath.Join(g.dataDir, "tls", "cert.pem"))
	}
	dash, err := iohttp.NewDashboard(iohttp.DashboardConfig{
		Users:         users,
		Auth:          e.auth,
		Store:         e.store,
		Log:           log,
		PublicURL:     publicURL,
		KeyAgeWarning: c.dashboard.keyAgeWarning,
		CACertHint:    hint,
	})
	if err != nil {
		return nil, err
	}
	api.SetDashboard(dash)
	return users, nil
}

// printSetupLink prints, while the store has no account, a single-use link that creates the
// first account and its owner. It goes to standard error as a plain line, not as a JSON log
// record, but the JSON log goes to standard error too, so a log collector gets the link.
// DEPLOYMENT.md gives the route that prints none. flushLog writes the log lines held in
// memory, so that the line announcing the link comes before it.
func printSetupLink(ctx context.Context, g *globals, users *user.Service, publicURL string, log *slog.Logger, flushLog func()) {
	token, err := users.CreateSetupLink(ctx)
	if iogate.ErrorCodeOf(err) == iogate.CodeConflict {
		return
	}
	if err != nil {
		log.Error("create setup link failed", "error", err)
		return
	}
	log.Info("no account exists yet; open the single-use setup link printed to standard error")
	flushLog()
	fmt.Fprintf(g.stderr, "iogate: no account exists yet. Open this single-use link within %s to create the first account and its owner: %s\n",
		"1 hour", user.LinkURL(publicURL, iogate.LinkSetup, token))
}

// dashboardSweepInterval is how often a running server deletes ended dashboard sessions,
// used or expired single-use links, the records of used form tokens past their session,
// revocations of expired access tokens and change-feed rows older than a day. Such a row
// is rejected when presented, or no longer needed, whether or not a sweep has deleted it.
const dashboardSweepInterval = 10 * time.Minute

// sweepDashboardLoop sweeps the rows that user.Service.Sweep deletes once at start and
// then every dashboardSweepInterval, until ctx ends. Every node sweeps.
func sweepDashboardLoop(ctx context.Context, users *user.Service, log *slog.Logger) {
	for {
		report, err := users.Sweep(ctx)
		if ctx.Err() != nil {
			err = nil
		}
		logSweep(log, report, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(dashboardSweepInterval):
		}
	}
}

// logSweep logs one line for each kind of row that a sweep deleted, with a message that
// names the rows, and one line when the sweep failed. The error names each kind of row
// that failed to sweep.
func logSweep(log *slog.Logger, report user.SweepReport, err error) {
	for _, swept := range []struct {
		msg   string
		key   string
		count int
	}{
		{"ended dashboard sessions swept", "sessions", report.Sessions},
		{"used and expired single-use links swept", "links", report.Links},
		{"expired records of used form tokens swept", "form_tokens", report.FormTokens},
		{"revocations of expired access tokens swept", "revoked_tokens", report.RevokedTokens},
		{"change-feed rows older than a day swept", "key_changes", report.KeyChanges},
	} {
		if swept.count > 0 {
			log.Info(swept.msg, swept.key, swept.count)
		}
	}
	if err != nil {
		log.Error("sweep failed; the next sweep tries again", "error", err)
	}
}
