package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/metrics"
)

// RateLimits configures the request rate limits. A rate or count of zero turns that limit
// off. Limits are per process: several nodes behind a load balancer each apply them.
type RateLimits struct {
	// TokenPerAddress is how many requests per second one source address may send to the
	// endpoints that authenticate clients (/v1/auth/accessToken and /oauth2/*), in bursts
	// of up to TokenPerAddressBurst.
	TokenPerAddress      float64
	TokenPerAddressBurst int
	// TokenPerClient is the same limit per pair of source address and client ID. It
	// applies to every client ID sent, whether or not it exists, so that the limit reveals
	// nothing. It is per address, so that a client elsewhere keeps its own budget.
	TokenPerClient      float64
	TokenPerClientBurst int
	// APIPerKey is how many requests per second the bearer tokens of one API key may
	// make to the /v1 API, in bursts of up to APIPerKeyBurst.
	APIPerKey      float64
	APIPerKeyBurst int
	// FailuresBeforeSlowdown is how many failed authentications one address may make
	// within FailureWindow before it must wait between attempts: one second after the next
	// failure, doubling with each further one, at most a minute. Failures with a
	// credential that iogate issued do not count (see limitRequests).
	FailuresBeforeSlowdown int
	// FailuresBeforeBlock is how many failed authentications within FailureWindow block
	// the address for BlockDuration. Zero turns failure tracking off.
	FailuresBeforeBlock int
	FailureWindow       time.Duration
	BlockDuration       time.Duration
}

// DefaultRateLimits returns the limits that "iogate serve" applies unless configured
// otherwise.
// They leave a well-behaved client, which fetches a token once an hour and reuses it, far
// below every limit.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		TokenPerAddress:        20,
		TokenPerAddressBurst:   40,
		TokenPerClient:         5,
		TokenPerClientBurst:    10,
		APIPerKey:              100,
		APIPerKeyBurst:         200,
		FailuresBeforeSlowdown: 10,
		FailuresBeforeBlock:    30,
		FailureWindow:          15 * time.Minute,
		BlockDuration:          15 * time.Minute,
	}
}

// Validate checks that the limits are consistent.
func (c RateLimits) Validate() error {
	switch {
	case c.TokenPerAddress < 0 || c.TokenPerClient < 0 || c.APIPerKey < 0:
		return iogate.Errorf(iogate.CodeInvalid, "rate limits must not be negative")
	case c.TokenPerAddress > 0 && c.TokenPerAddressBurst < 1,
		c.TokenPerClient > 0 && c.TokenPerClientBurst < 1,
		c.APIPerKey > 0 && c.APIPerKeyBurst < 1:
		return iogate.Errorf(iogate.CodeInvalid, "a rate limit's burst must be at least 1")
	case c.FailuresBeforeBlock < 0 || c.FailuresBeforeSlowdown < 0:
		return iogate.Errorf(iogate.CodeInvalid, "failure counts must not be negative")
	case c.FailuresBeforeBlock > 0 && (c.FailureWindow <= 0 || c.BlockDuration <= 0):
		return iogate.Errorf(iogate.CodeInvalid, "failure tracking needs a positive failure window and block duration")
	}
	return nil
}

// maxLimiterEntries bounds each table of the limiter, so that a flood of distinct
// addresses or client IDs cannot exhaust memory.
const maxLimiterEntries = 100_000

// limiter applies RateLimits. Its tables forget entries that have been idle long enough to
// be equivalent to fresh ones.
type limiter struct {
	cfg     RateLimits
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics.Metrics
	// onBlock is called, outside the lock, when an address is blocked, with the client IDs
	// that the address's failed attempts named.
	onBlock func(ctx context.Context, addr netip.Prefix, clientIDs []string, failures int, until time.Time)
	// onUnblock is called, outside the lock, for each blocked address whose block an
	// operator lifted, with the client IDs that onBlock received for that block.
	onUnblock func(addr netip.Prefix, clientIDs []string, operator string, blockedUntil time.Time)

	mu        sync.Mutex
	addresses map[netip.Prefix]*addressState
	clients   map[clientKey]*idleLimiter
	keys      map[string]*idleLimiter
	lastSweep time.Time
	// lastUnblockSeq is the Seq of the last unblock change applied, so that a change
	// delivered again is not applied and logged twice.
	lastUnblockSeq int64
}

type addressState struct {
	tokens       *rate.Limiter
	failures     int
	windowStart  time.Time
	nextAttempt  time.Time
	blockedUntil time.Time
	lastSeen     time.Time
	// targets are the distinct client IDs that failed attempts in this window named, at
	// most maxBlockTargets, for the audit records of a block.
	targets []string
	// blockTargets are the targets of the last block, for the audit records of an
	// operator lifting it.
	blockTargets []string
}

// maxBlockTargets bounds the client IDs remembered per address.
const maxBlockTargets = 5

type clientKey struct {
	addr     netip.Prefix
	clientID string
}

type idleLimiter struct {
	*rate.Limiter
	lastSeen time.Time
}

// rateLimit names the limit that refused a request with 429. Its names are the label
// values of iogate_rate_limit_hits_total and of the access log's rate_limit field. It is
// one byte so that it fits in the padding of requestState.
type rateLimit uint8

const (
	noRateLimit rateLimit = iota
	rateLimitAddress
	rateLimitClient
	rateLimitKey
	rateLimitSlowdown
	rateLimitBlocked
)

var rateLimitNames = [...]string{
	noRateLimit:       "",
	rateLimitAddress:  metrics.LimitAddress,
	rateLimitClient:   metrics.LimitClient,
	rateLimitKey:      metrics.LimitKey,
	rateLimitSlowdown: metrics.LimitSlowdown,
	rateLimitBlocked:  metrics.LimitBlocked,
}

// String returns the limit's label value, and "" for noRateLimit.
func (l rateLimit) String() string {
	if int(l) >= len(rateLimitNames) {
		return ""
	}
	return rateLimitNames[l]
}

// denial is a request refused by a limit.
type denial struct {
	limit      rateLimit
	retryAfter time.Duration
	message    string
}

func newLimiter(cfg RateLimits, log *slog.Logger, m *metrics.Metrics) *limiter {
	return &limiter{
		cfg:       cfg,
		now:       time.Now,
		log:       log,
		metrics:   m,
		addresses: make(map[netip.Prefix]*addressState),
		clients:   make(map[clientKey]*idleLimiter),
		keys:      make(map[string]*idleLimiter),
	}
}

// addressKey returns the unit that per-address limits count: the address for IPv4, the
// /64 network for IPv6, because one host commonly holds a whole /64.
func addressKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(iogate.IPv6BlockBits)
		return p
	}
	p, _ := a.Prefix(a.BitLen())
	return p
}

// checkAddress refuses a request from a blocked or slowed-down address, and counts the
// request against the address's rate when rated is set.
func (l *limiter) checkAddress(addr netip.Addr, rated bool) *denial {
	now := l.now()
	key := addressKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)
	st := l.addresses[key]
	if st == nil {
		if !rated || l.cfg.TokenPerAddress == 0 {
			return nil
		}
		st = l.newAddressState()
		l.addresses[key] = st
	}
	st.lastSeen = now
	if now.Before(st.blockedUntil) {
		return &denial{limit: rateLimitBlocked, retryAfter: st.blockedUntil.Sub(now),
			message: "too many failed authentication attempts from this address; it is blocked for a while"}
	}
	if now.Before(st.nextAttempt) {
		return &denial{limit: rateLimitSlowdown, retryAfter: st.nextAttempt.Sub(now),
			message: "too many failed authentication attempts from this address; wait before trying again"}
	}
	if rated && st.tokens != nil {
		if d := reserve(st.tokens, now); d > 0 {
			return &denial{limit: rateLimitAddress, retryAfter: d, message: "too many requests from this address"}
		}
	}
	return nil
}

func (l *limiter) newAddressState() *addressState {
	st := &addressState{}
	if l.cfg.TokenPerAddress > 0 {
		st.tokens = rate.NewLimiter(rate.Limit(l.cfg.TokenPerAddress), l.cfg.TokenPerAddressBurst)
	}
	if len(l.addresses) >= maxLimiterEntries {
		evict(l.addresses, func(s *addressState) bool { return s.blockedUntil.IsZero() })
	}
	return st
}

// usesClientID reports whether checkClient or recordFailure use the client ID of a token
// request. Reading it means decoding the body before the handler does.
func (l *limiter) usesClientID() bool {
	return l.cfg.TokenPerClient != 0 || l.cfg.FailuresBeforeBlock != 0
}

// checkClient counts a request against the pair of address and client ID.
func (l *limiter) checkClient(addr netip.Addr, clientID string) *denial {
	if l.cfg.TokenPerClient == 0 {
		return nil
	}
	// Client IDs are UUIDs; anything longer fails authentication anyway, and bounding the
	// key bounds the table's memory. The prefix is copied, because a substring would keep
	// the whole client ID of the request body in the table.
	if len(clientID) > 64 {
		clientID = strings.Clone(clientID[:64])
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	key := clientKey{addressKey(addr), clientID}
	if d := take(l.clients, key, l.cfg.TokenPerClient, l.cfg.TokenPerClientBurst, now); d > 0 {
		return &denial{limit: rateLimitClient, retryAfter: d, message: "too many token requests for this client from this address"}
	}
	return nil
}

// checkKey counts a bearer request against its API key.
func (l *limiter) checkKey(clientID string) *denial {
	if l.cfg.APIPerKey == 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := take(l.keys, clientID, l.cfg.APIPerKey, l.cfg.APIPerKeyBurst, now); d > 0 {
		return &denial{limit: rateLimitKey, retryAfter: d, message: "too many requests for this API key"}
	}
	return nil
}

// take counts one request against the limiter of key in table, creating it when missing,
// and returns how long the caller must wait, or zero. The caller holds l.mu.
func take[K comparable](table map[K]*idleLimiter, key K, perSecond float64, burst int, now time.Time) time.Duration {
	lim := table[key]
	if lim == nil {
		if len(table) >= maxLimiterEntries {
			evict(table, func(*idleLimiter) bool { return true })
		}
		lim = &idleLimiter{Limiter: rate.NewLimiter(rate.Limit(perSecond), burst)}
		table[key] = lim
	}
	lim.lastSeen = now
	return reserve(lim.Limiter, now)
}

// reserve takes one token at now, or returns how long the caller must wait for one. A
// refused request takes nothing, so that clients retrying on Retry-After get through.
func reserve(lim *rate.Limiter, now time.Time) time.Duration {
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// recordFailure counts a failed authentication from addr that named clientID ("" when the
// attempt named none, as with a bearer token). Past FailuresBeforeSlowdown
// failures within the window the address must wait before its next attempt; at
// FailuresBeforeBlock it is blocked for BlockDuration. Only the address is penalised,
// never the client ID, so that an attacker elsewhere cannot lock a legitimate client out.
func (l *limiter) recordFailure(ctx context.Context, addr netip.Addr, clientID string) {
	if l.cfg.FailuresBeforeBlock == 0 {
		return
	}
	now := l.now()
	key := addressKey(addr)
	l.mu.Lock()
	st := l.addresses[key]
	if st == nil {
		st = l.newAddressState()
		l.addresses[key] = st
	}
	st.lastSeen = now
	if now.Sub(st.windowStart) > l.cfg.FailureWindow {
		st.windowStart, st.failures, st.targets = now, 0, nil
	}
	st.failures++
	if clientID != "" && len(clientID) <= 64 && len(st.targets) < maxBlockTargets && !slices.Contains(st.targets, clientID) {
		st.targets = append(st.targets, clientID)
	}
	failures := st.failures
	blocked, slowed := false, false
	var targets []string
	switch {
	case failures >= l.cfg.FailuresBeforeBlock:
		if !now.Before(st.blockedUntil) {
			blocked, targets = true, st.targets
			st.blockTargets = targets
			st.blockedUntil = now.Add(l.cfg.BlockDuration)
			// The block is the penalty for this window, and a fresh window starts after it.
			st.failures, st.windowStart, st.nextAttempt, st.targets = 0, st.blockedUntil, time.Time{}, nil
		}
	case l.cfg.FailuresBeforeSlowdown > 0 && failures > l.cfg.FailuresBeforeSlowdown:
		step := min(failures-l.cfg.FailuresBeforeSlowdown-1, 6)
		st.nextAttempt = now.Add(time.Duration(1<<step) * time.Second)
		// The count restarts with each window, so this is the first slowdown of the window.
		slowed = failures == l.cfg.FailuresBeforeSlowdown+1
	}
	until, windowEnd := st.blockedUntil, st.windowStart.Add(l.cfg.FailureWindow)
	l.mu.Unlock()

	if slowed {
		l.log.WarnContext(ctx, "address slowed down after repeated failed authentication",
			"address", key.String(), "failures", failures, "window_ends", windowEnd.UTC().Format(time.RFC3339))
	}
	if blocked {
		l.metrics.AddressBlocked()
		l.log.WarnContext(ctx, "address blocked after repeated failed authentication",
			"address", key.String(), "failures", failures, "blocked_until", until.UTC().Format(time.RFC3339),
			"next_step", unblockStep(key))
		if l.onBlock != nil {
			l.onBlock(ctx, key, targets, failures, until)
		}
	}
}

// unblockStep returns the command that lifts the block of key on every server, for the
// log line of the block. It names an IPv4 address without "/32", as operators type it.
func unblockStep(key netip.Prefix) string {
	arg := key.String()
	if key.IsSingleIP() {
		arg = key.Addr().String()
	}
	return "to lift the block before it ends, run: iogate address unblock " + arg
}

// maybeSweep drops, once a minute, entries that have been idle long enough to be
// equivalent to new ones. The caller holds l.mu.
func (l *limiter) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	addrIdle := max(l.cfg.FailureWindow, refillTime(l.cfg.TokenPerAddress, l.cfg.TokenPerAddressBurst), time.Minute)
	for k, st := range l.addresses {
		if now.Sub(st.lastSeen) > addrIdle && !now.Before(st.blockedUntil) {
			delete(l.addresses, k)
		}
	}
	clientIdle := max(refillTime(l.cfg.TokenPerClient, l.cfg.TokenPerClientBurst), time.Minute)
	for k, lim := range l.clients {
		if now.Sub(lim.lastSeen) > clientIdle {
			delete(l.clients, k)
		}
	}
	keyIdle := max(refillTime(l.cfg.APIPerKey, l.cfg.APIPerKeyBurst), time.Minute)
	for k, lim := range l.keys {
		if now.Sub(lim.lastSeen) > keyIdle {
			delete(l.keys, k)
		}
	}
}

// refillTime is how long an empty bucket takes to fill up again.
func refillTime(perSecond float64, burst int) time.Duration {
	if perSecond <= 0 {
		return 0
	}
	return time.Duration(float64(burst) / perSecond * float64(time.Second))
}

// evict drops a tenth of a full table's entries that may be dropped. Dropping an entry
// loses its history, which favours the flooder a little. The alternative, rejecting new
// entries, would lock out every new client during a flood.
func evict[K comparable, V any](table map[K]V, droppable func(V) bool) {
	drop := len(table) / 10
	for k, v := range table {
		if drop <= 0 {
			return
		}
		if droppable(v) {
			delete(table, k)
			drop--
		}
	}
}

// Request classes of the rate limits.
const (
	classNone       = iota
	classClientAuth // endpoints that authenticate a client by ID and secret
	classAPI        // the bearer-authenticated /v1 API
)

func requestClass(path string) int {
	switch {
	case path == "/v1/auth/accessToken" || strings.HasPrefix(path, "/oauth2/"):
		return classClientAuth
	case strings.HasPrefix(path, "/v1/"):
		return classAPI
	}
	return classNone
}

// limitRequests applies the per-address and per-client limits and counts failed
// authentications. It works by path, so it covers every endpoint under /oauth2/ and /v1/.
// A 401 from an endpoint that authenticates clients is a failed authentication, and so is a
// 401 from the API for a request with an Authorization header, unless the handler marked
// the credential as outdated with markOutdatedCredential. A new path to a 401 therefore
// counts until its handler marks it.
func (s *Server) limitRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := requestClass(r.URL.Path)
		if s.limiter == nil || class == classNone {
			next.ServeHTTP(w, r)
			return
		}
		addr := clientAddr(r)
		if d := s.limiter.checkAddress(addr, class == classClientAuth); d != nil {
			s.refuseLimited(w, r, d)
			return
		}
		clientID := ""
		if class == classClientAuth && s.limiter.usesClientID() {
			clientID = requestClientID(r)
			if d := s.limiter.checkClient(addr, clientID); d != nil {
				s.refuseLimited(w, r, d)
				return
			}
		}
		rec, ok := w.(*requestState)
		if !ok {
			rec = &requestState{ResponseWriter: w}
		}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized && !rec.uncountedFailure && (class == classClientAuth || r.Header.Get("Authorization") != "") {
			s.limiter.recordFailure(r.Context(), addr, clientID)
		}
	})
}

// markOutdatedCredential marks the request so that limitRequests does not count the
// failed authentication err, when err rejected a credential that iogate issued (see
// auth.IsOutdatedCredential). A client still sending a deleted key's token or a retired
// secret is not guessing, and counting it would slow down or block every other client
// behind the same address.
func markOutdatedCredential(r *http.Request, err error) {
	if !auth.IsOutdatedCredential(err) {
		return
	}
	if st := stateFrom(r.Context()); st != nil {
		st.uncountedFailure = true
	}
}

// logRefusedClient puts clientID in the access log of a request that err refused because
// of its address. That refusal comes only after the secret verified, so clientID is the
// key's own and not just what the caller sent.
func logRefusedClient(r *http.Request, err error, clientID string) {
	if !errors.Is(err, auth.ErrIPNotAllowed) {
		return
	}
	if st := stateFrom(r.Context()); st != nil {
		st.clientID = clientID
	}
}

// limitKey applies the per-key API limit to an authenticated bearer request.
func (s *Server) limitKey(w http.ResponseWriter, r *http.Request, clientID string) error {
	if s.limiter == nil {
		return nil
	}
	if d := s.limiter.checkKey(clientID); d != nil {
		return s.limitedError(w, r, d)
	}
	return nil
}

func (s *Server) refuseLimited(w http.ResponseWriter, r *http.Request, d *denial) {
	s.writeError(w, r, s.limitedError(w, r, d))
}

// limitedError counts the denial, names its limit in the access log, sets Retry-After, in
// whole seconds rounded up, and returns the 429 error.
func (s *Server) limitedError(w http.ResponseWriter, r *http.Request, d *denial) error {
	s.metrics.RateLimited(d.limit.String())
	if st := stateFrom(r.Context()); st != nil {
		st.rateLimit = d.limit
	}
	secs := int64(math.Ceil(d.retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	return iogate.Errorf(iogate.CodeRateLimited, "%s: retry after %d %s", d.message, secs, unit)
}

// requestClientID returns the client ID a token, introspection or revocation request
// names, from HTTP Basic authentication, a JSON body or a form body, or "" when it names
// none. Basic authentication counts only under /oauth2/, because /v1/auth/accessToken
// ignores the Authorization header and reads the client ID from the body. The body is
// read (at most the token endpoints' limit) and put back for the handler. Parsing here is
// lenient: the handler parses strictly and rejects what is wrong.
func requestClientID(r *http.Request) string {
	if isOAuthPath(r.URL.Path) {
		if id, _, err := parseBasicCredentials(r.Header.Get("Authorization")); err == nil {
			return id
		}
	}
	body := peekBody(r, maxTokenBodyBytes)
	contentType := r.Header.Get("Content-Type")
	if contentType == "application/json" {
		// Most token requests have a plain JSON body, which the handler's parser reads
		// without encoding/json's reflection.
		if fields, ok := decodePlainObject(body, accessTokenFields); ok {
			return fields["clientId"]
		}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		var v struct {
			ClientID string `json:"clientId"`
		}
		json.Unmarshal(body, &v)
		return v.ClientID
	case "application/x-www-form-urlencoded":
		q, _ := url.ParseQuery(string(body))
		return q.Get("client_id")
	}
	return ""
}

// peekBody reads up to limit bytes of the body and replaces r.Body so that the handler
// reads the whole body from the start, including anything beyond limit.
func peekBody(r *http.Request, limit int64) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(r.Body, limit))
	r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(head), r.Body), closer: r.Body}
	return head
}

type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b replayBody) Close() error { return b.closer.Close() }
