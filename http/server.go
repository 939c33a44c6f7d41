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
	"sync/atomic"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/internal/logging"
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
	// lines is the writer under the logger when its handler came from logging.NewJSON.
	// logRequest then writes logging.Lines there, at about a third of slog's CPU time.
	lines *logging.BufferedWriter
	// outages limits the log lines of 503 responses.
	outages *outageLog
	// draining is set by SetDraining when the process is shutting down.
	draining atomic.Bool
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
	// OnAddressUnblocked is called when an operator's "iogate address unblock" lifts a
	// block of this process, after the unblock has been logged, with the client IDs that
	// OnAddressBlocked received for that block, the operator's name and the time the block
	// would have ended. It runs inside the engine's OnChange listener, so it must not
	// block. Of the engine's methods it may call only those documented as safe there,
	// such as auth.Service.RecordAddressUnblocked.
	OnAddressUnblocked func(addr netip.Prefix, clientIDs []string, operator string, blockedUntil time.Time)
	// FailureLogInterval is the period of the outage summary lines: during an outage, one
	// line per kind of failure (API and dashboard requests, /readyz checks) counts the 503
	// responses not logged since the previous line. Zero means DefaultFailureLogInterval.
	FailureLogInterval time.Duration
}

// NewServer returns the handlers for the HTTPS API.
func NewServer(a *auth.Service, store iogate.Store, log *slog.Logger) *Server {
	s := &Server{auth: a, store: store, log: log, routes: make(map[string][]string), vaults: newVaultCache(maxVaultCacheBytes),
		lines: logging.LineWriter(log.Handler())}
	if a != nil {
		a.OnChange(iogate.ChangeVaults, s.vaults.drop)
	}
	s.outages = newOutageLog(log, DefaultFailureLogInterval, s.readyCheck())
	return s
}

// readyCheck returns the check that ends an outage: the engine's readiness, or nil
// without an engine.
func (s *Server) readyCheck() func(context.Context) error {
	if s.auth == nil {
		return nil
	}
	return s.auth.Ready
}

// Close writes the count of the failures that an outage in progress has not logged yet
// and stops its goroutine. Call it after the HTTP servers have shut down: failures after
// Close are logged one line each.
func (s *Server) Close() {
	s.outages.close()
}

// SetOptions applies o. Call it once, before Handler and PlainHandler, and before the
// engine runs: each call registers its limiter for the engine's unblock changes.
func (s *Server) SetOptions(o Options) {
	s.opts = o
	s.proxies = proxyTrust{trusted: o.TrustedProxies}
	s.metrics = o.Metrics
	s.outages = newOutageLog(s.log, o.FailureLogInterval, s.readyCheck())
	s.limiter = nil
	if o.RateLimitsEnabled {
		s.limiter = newLimiter(o.RateLimits, s.log, o.Metrics)
		s.limiter.onBlock = o.OnAddressBlocked
		s.limiter.onUnblock = o.OnAddressUnblocked
		// Blocks live in this process, so every process applies each unblock itself.
		if s.auth != nil {
			s.auth.OnChange(iogate.ChangeAddressUnblock, s.limiter.applyUnblock)
		}
	}
}

// Handler returns the HTTPS API's root handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, accessTokenPath, map[string]handlerFunc{http.MethodPost: s.handleAccessToken})
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

// route registers a path with one handler per method. A path with GET also serves HEAD
// with the GET handler. Other methods get 405 with an Allow header that lists every method
// the path serves, HEAD included (RFC 9110 section 10.2.1).
func (s *Server) route(mux *http.ServeMux, pattern string, methods map[string]handlerFunc) {
	names := slices.Sorted(maps.Keys(methods))
	s.routes[pattern] = names
	allowed := names
	if _, ok := methods[http.MethodGet]; ok && methods[http.MethodHead] == nil {
		allowed = slices.Sorted(slices.Values(append(slices.Clip(names), http.MethodHead)))
	}
	allow := strings.Join(allowed, ", ")
	// The message names the route's pattern, never the request's path, which could contain
	// anything that the client sent.
	where := " is not allowed on " + pattern + ": use " + joinOr(allowed)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			// HEAD is GET without a body, which net/http drops; health checks use it.
			h, ok = methods[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, &iogate.Error{Code: codeMethodNotAllowed, Message: methodForMessage(r.Method) + where})
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// joinOr joins words into a list that ends with "or", such as "GET, POST or PUT".
func joinOr(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// methodForMessage returns method as an error message shows it: as it is when it is an
// RFC 9110 token of at most iogate.MaxQuotedInput bytes, else quoted by iogate.QuoteInput.
// HTTP/1.1 requests reach handlers only with token methods. Go's HTTP/2 server (Go 1.26)
// checks the :method field only as a header value, so there a method can hold spaces,
// quotes, backslashes and bytes above 0x7f.
func methodForMessage(method string) string {
	if method == "" || len(method) > iogate.MaxQuotedInput || strings.IndexFunc(method, isNotTokenChar) >= 0 {
		return iogate.QuoteInput(method)
	}
	return method
}

// isNotTokenChar reports whether r is not a tchar of RFC 9110 section 5.6.2.
func isNotTokenChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// requestStateKey is the context key of a request's *requestState.
type requestStateKey struct{}

// requestState holds the facts the middleware and the handlers learn about one request.
// It lives in the request's context under one key and doubles as the response writer that
// records the status, so the middleware allocates one object per request, not one per
// value.
type requestState struct {
	http.ResponseWriter
	// status is the status the handler wrote, for the access log.
	status int
	id     string
	// idHeader is the value of X-Request-Id, kept here so that it needs no allocation of
	// its own.
	idHeader [1]string
	client   clientInfo
	// principal is set by requireScope once the bearer token has verified.
	principal *auth.Principal
	// bearer is the access token that set principal, so that a handler can verify it again
	// with reverifyBearer. It is never logged.
	bearer string
	// clientID is the client whose secret or bearer token verified, for the access log,
	// also when its address was then refused. It stays empty for a failed
	// authentication, whose client ID could be anything the caller sent.
	clientID string
	// uncountedFailure is set by the handler that rejected the request's credential when
	// the failure cannot be a guess: iogate issued that credential, or it is a bearer
	// value that is not shaped like a token at all. limitRequests then does not count it.
	uncountedFailure bool
	// tokenFailure is the reason that the request's bearer token failed, for the access log.
	// The response is the same invalid_token error for every reason. It sits beside
	// uncountedFailure, in the padding after that bool, so the state does not grow.
	tokenFailure auth.TokenFailure
	// rateLimit is the limit that refused the request with 429, for the access log. It
	// also sits in that padding.
	rateLimit rateLimit
	// errorCode is the code of the error response that writeError wrote. The access log
	// shows it, so that an operator can tell a malformed request from a bad credential.
	errorCode iogate.ErrorCode
}

func (st *requestState) WriteHeader(status int) {
	if st.status == 0 {
		st.status = status
	}
	st.ResponseWriter.WriteHeader(status)
}

func (st *requestState) Write(b []byte) (int, error) {
	if st.status == 0 {
		st.status = http.StatusOK
	}
	return st.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (st *requestState) Unwrap() http.ResponseWriter { return st.ResponseWriter }

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

func requestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// newRequestID returns 16 random bytes in hex. Request IDs from clients are not trusted,
// because they would let a caller forge log correlation.
func newRequestID() string {
	var b [16]byte
	var out [32]byte
	rand.Read(b[:])
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// Values of the headers that most responses carry. Header maps hold them without a copy:
// net/http only reads them, and Set and Add replace or grow a value slice rather than write
// into it.
var (
	headerNoSniff = []string{"nosniff"}
	headerNoStore = []string{"no-store"}
	headerHSTS    = []string{"max-age=63072000; includeSubDomains"}
	headerJSON    = []string{"application/json"}
)

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
		st := &requestState{ResponseWriter: w, id: newRequestID(), client: s.proxies.resolve(r)}
		ctx := context.WithValue(r.Context(), requestStateKey{}, st)
		r = r.WithContext(ctx)
		h := w.Header()
		st.idHeader[0] = st.id
		h["X-Request-Id"] = st.idHeader[:]
		h["X-Content-Type-Options"] = headerNoSniff
		h["Cache-Control"] = headerNoStore
		if https {
			h["Strict-Transport-Security"] = headerHSTS
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(st, r.Body, maxBodyBytes)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "handler panicked", "panic", fmt.Sprintf("%T", v), "path", r.URL.Path, "request_id", st.id)
				if st.status == 0 {
					s.writeError(st, r, iogate.Errorf(iogate.CodeInternal, "internal error"))
				}
			}
			s.metrics.Request(listener, st.status)
			s.logRequest(ctx, r, st, start)
		}()
		if https && st.client.forwardedPlainHTTP {
			s.refusePlainHTTP(st, r)
			return
		}
		next.ServeHTTP(st, r)
	})
}

// logRequest writes the access-log line of a request. It builds the record itself so that
// the line's time is the end of the request, read once for the duration as well.
func (s *Server) logRequest(ctx context.Context, r *http.Request, st *requestState, start time.Time) {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	end := time.Now()
	duration := float64(end.Sub(start).Microseconds()) / 1000
	if w := s.lines; w != nil {
		// A line of a request with a short path fits in buf, which stays on the stack.
		var buf [384]byte
		l := logging.StartLine(buf[:0], end, slog.LevelInfo, "request").
			String("request_id", st.id).
			String("method", r.Method).
			String("path", r.URL.Path).
			Int("status", int64(st.status)).
			Addr("remote_addr", st.client.addr).
			Float("duration_ms", duration)
		if st.client.addr != st.client.peer {
			l = l.Addr("peer_addr", st.client.peer)
		}
		if st.clientID != "" {
			l = l.String("client_id", st.clientID)
		}
		if st.errorCode != "" {
			l = l.String("error_code", string(st.errorCode))
		}
		if st.tokenFailure != auth.NoTokenFailure {
			l = l.String("token_failure", st.tokenFailure.String())
		}
		if st.rateLimit != noRateLimit {
			l = l.String("rate_limit", st.rateLimit.String())
		}
		if line, ok := l.Bytes(); ok {
			w.Write(line)
			return
		}
	}
	rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("request_id", st.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", st.status),
		slog.String("remote_addr", st.client.addr.String()),
		slog.Float64("duration_ms", duration),
	)
	if st.client.addr != st.client.peer {
		rec.AddAttrs(slog.String("peer_addr", st.client.peer.String()))
	}
	if st.clientID != "" {
		rec.AddAttrs(slog.String("client_id", st.clientID))
	}
	if st.errorCode != "" {
		rec.AddAttrs(slog.String("error_code", string(st.errorCode)))
	}
	if st.tokenFailure != auth.NoTokenFailure {
		rec.AddAttrs(slog.String("token_failure", st.tokenFailure.String()))
	}
	if st.rateLimit != noRateLimit {
		rec.AddAttrs(slog.String("rate_limit", st.rateLimit.String()))
	}
	h.Handle(ctx, rec)
}

// rejectUncleanPaths answers a path with empty, "." or ".." segments with a 404 problem.
// ServeMux would answer it with an HTML redirect to the cleaned path, which is neither the
// API's error format nor something a client should be taught to follow. A path that does
// not start with a slash, such as the "*" of "OPTIONS * HTTP/1.1", gets the same 404,
// where ServeMux would return 400 with an empty body.
func rejectUncleanPaths(next http.Handler, s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && (!strings.HasPrefix(p, "/") || path.Clean(p) != strings.TrimSuffix(p, "/") || strings.Contains(p, "//")) {
			s.writeError(w, r, errRouteNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}
