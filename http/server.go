// Package http serves iogate's HTTPS API: the token endpoint, the vault API, and the plain
// HTTP listener that exists only to refuse. Handlers return errors to one writer, which maps
// domain error codes to statuses.
package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/metrics"
)

// Body limits: token requests are small, everything else is bounded at 1 MiB.
const (
	maxTokenBodyBytes = 64 << 10
	maxBodyBytes      = 1 << 20
)

// Server holds the HTTP handlers and what they need.
type Server struct {
	auth  *auth.Service
	store iogate.Store
	log   *slog.Logger

	opts    Options
	proxies proxyTrust
	limiter *limiter
	metrics *metrics.Metrics

	// routes lists the methods of each route pattern that Handler registered.
	routes map[string][]string
	// dashboard serves /dashboard/ when set with SetDashboard.
	dashboard *Dashboard
	// vaults holds encoded vault responses, kept current by the engine's change feed.
	vaults *vaultCache
}

// Options are the Server's hardening and operations settings. The zero value trusts no
// proxy, applies no rate limit and records no metrics.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto headers
	// are believed.
	TrustedProxies []netip.Prefix
	// RateLimits are applied when RateLimitsEnabled is set.
	RateLimits        RateLimits
	RateLimitsEnabled bool
	// RevokeExposedCredentials deletes a key, rather than only marking it exposed, when
	// one of its valid credentials arrives over plain HTTP.
	RevokeExposedCredentials bool
	// Metrics receives request and rate-limit counts; nil records nothing.
	Metrics *metrics.Metrics
	// OnAddressBlocked is called when an address is blocked after repeated failed
	// authentication, after the block has been logged, with the client IDs (at most five)
	// that the address's failed attempts named.
	OnAddressBlocked func(ctx context.Context, addr netip.Prefix, clientIDs []string, failures int, until time.Time)
}

// NewServer returns the handlers for the HTTPS API.
func NewServer(a *auth.Service, store iogate.Store, log *slog.Logger) *Server {
	s := &Server{auth: a, store: store, log: log, routes: make(map[string][]string), vaults: newVaultCache(maxVaultCacheBytes)}
	if a != nil {
		a.OnChange(iogate.ChangeVaults, s.vaults.drop)
	}
	return s
}

// SetOptions applies o. Call it before Handler and PlainHandler.
func (s *Server) SetOptions(o Options) {
	s.opts = o
	s.proxies = proxyTrust{trusted: o.TrustedProxies}
	s.metrics = o.Metrics
	s.limiter = nil
	if o.RateLimitsEnabled {
		s.limiter = newLimiter(o.RateLimits, s.log, o.Metrics)
		s.limiter.onBlock = o.OnAddressBlocked
	}
}

// Handler returns the HTTPS API's root handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "/v1/auth/accessToken", map[string]handlerFunc{http.MethodPost: s.handleAccessToken})
	s.route(mux, "/v1/vaults", map[string]handlerFunc{
		http.MethodGet:  s.requireScope(iogate.ScopeVaultsRead, s.handleListVaults),
		http.MethodPost: s.requireScope(iogate.ScopeVaultsWrite, s.handleCreateVault),
	})
	s.route(mux, "/v1/vaults/{id}", map[string]handlerFunc{http.MethodGet: s.requireScope(iogate.ScopeVaultsRead, s.handleGetVault)})
	s.route(mux, "/healthz", map[string]handlerFunc{http.MethodGet: s.handleHealth})
	s.route(mux, "/oauth2/token", map[string]handlerFunc{http.MethodPost: s.handleOAuthToken})
	s.route(mux, "/oauth2/introspect", map[string]handlerFunc{http.MethodPost: s.handleIntrospect})
	s.route(mux, "/oauth2/revoke", map[string]handlerFunc{http.MethodPost: s.handleRevoke})
	s.route(mux, metadataPath, map[string]handlerFunc{http.MethodGet: s.handleMetadata})
	s.route(mux, jwksPath, map[string]handlerFunc{http.MethodGet: s.handleJWKS})
	s.route(mux, openAPIPath, map[string]handlerFunc{http.MethodGet: s.handleOpenAPI})
	s.route(mux, "/readyz", map[string]handlerFunc{http.MethodGet: s.handleReady})
	if s.dashboard != nil {
		mux.Handle("/dashboard/", s.dashboard)
		// Browsers that open the bare host land on the dashboard; API paths stay JSON.
		mux.Handle("GET /{$}", http.RedirectHandler("/dashboard/", http.StatusSeeOther))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, errRouteNotFound) })
	return s.middleware(rejectUncleanPaths(s.limitRequests(mux), s), true)
}

// handlerFunc is an HTTP handler that returns its error to the single error writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route registers a path with one handler per method; other methods get 405 with an Allow
// header, HEAD included unless GET is listed.
func (s *Server) route(mux *http.ServeMux, pattern string, methods map[string]handlerFunc) {
	names := slices.Sorted(maps.Keys(methods))
	s.routes[pattern] = names
	allow := strings.Join(names, ", ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			// HEAD is GET without a body, which net/http drops; health checks use it.
			h, ok = methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errMethodNotAllowed)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type contextKey int

const (
	requestIDKey contextKey = iota
	principalKey
	clientInfoKey
)

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// newRequestID returns 16 random bytes in hex. Request IDs from clients are not trusted,
// because they would let a caller forge log correlation.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware adds a request ID, the client's address, security headers, a body size
// limit, panic recovery and one access-log line per request. The log line carries the path
// without the query string, which could hold a credential, and never a header value. On
// the HTTPS listener, a request that a trusted proxy received over plain HTTP is refused
// the way the plain listener refuses it.
func (s *Server) middleware(next http.Handler, https bool) http.Handler {
	listener := "http"
	if https {
		listener = "https"
	}
	return s.listenerMiddleware(next, listener)
}

// listenerMiddleware is middleware for the listener named "https", "http" or "admin".
func (s *Server) listenerMiddleware(next http.Handler, listener string) http.Handler {
	https := listener == "https"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		client := s.proxies.resolve(r)
		ctx := withClientInfo(context.WithValue(r.Context(), requestIDKey, id), client)
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if https {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		rec := &statusRecorder{ResponseWriter: w}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "handler panicked", "panic", fmt.Sprintf("%T", v), "path", r.URL.Path, "request_id", id)
				if rec.status == 0 {
					s.writeError(rec, r, iogate.Errorf(iogate.CodeInternal, "internal error"))
				}
			}
			s.metrics.Request(listener, rec.status)
			attrs := []any{"request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"remote_addr", client.addr.String(), "duration_ms", float64(time.Since(start).Microseconds()) / 1000}
			if client.addr != client.peer {
				attrs = append(attrs, "peer_addr", client.peer.String())
			}
			s.log.InfoContext(ctx, "request", attrs...)
		}()
		if https && client.forwardedPlainHTTP {
			s.refusePlainHTTP(rec, r)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// rejectUncleanPaths answers a path with empty, "." or ".." segments with a 404 problem.
// ServeMux would answer it with an HTML redirect to the cleaned path, which is neither the
// API's error format nor something a client should be taught to follow.
func rejectUncleanPaths(next http.Handler, s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && (p == "" || path.Clean(p) != strings.TrimSuffix(p, "/") || strings.Contains(p, "//")) {
			s.writeError(w, r, errRouteNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
