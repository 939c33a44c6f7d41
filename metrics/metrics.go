// Package metrics holds iogate's Prometheus metrics: token issuance and denials, bearer
// verification latency, rate-limit hits, change-feed lag and store errors. A nil *Metrics
// is valid and records nothing, so that the CLI and tests need no registry.
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Denial reasons of iogate_token_denials_total and results of
// iogate_token_verification_seconds.
const (
	ReasonInvalidClient = "invalid_client"
	ReasonIPNotAllowed  = "ip_not_allowed"
	ReasonInvalidScope  = "invalid_scope"
	ReasonInternal      = "internal"
	ReasonUnavailable   = "unavailable"
	ReasonInvalidToken  = "invalid_token"
	ResultOK            = "ok"
)

// Rate limits, the label values of iogate_rate_limit_hits_total.
const (
	LimitAddress  = "address"
	LimitClient   = "client"
	LimitKey      = "key"
	LimitSlowdown = "slowdown"
	LimitBlocked  = "blocked"
)

// Metrics is the set of iogate's metrics on one registry.
type Metrics struct {
	registry *prometheus.Registry

	tokensIssued     prometheus.Counter
	tokenDenials     *prometheus.CounterVec
	verifyOK         prometheus.Observer
	verifyInvalid    prometheus.Observer
	verifyIPDenied   prometheus.Observer
	tokenFailures    *prometheus.CounterVec
	rateLimitHits    *prometheus.CounterVec
	addressBlocks    prometheus.Counter
	addressUnblocks  prometheus.Counter
	storeErrors      *prometheus.CounterVec
	exposedDetected  prometheus.Counter
	requestsByStatus *prometheus.CounterVec
	requestCounters  [len(listenerNames)][maxStatus - minStatus + 1]atomic.Pointer[counterRef]
	auditRecords     prometheus.Histogram
	auditSeconds     prometheus.Histogram
	tlsExpiry        prometheus.Gauge
	tlsReloadFails   prometheus.Counter
}

// New returns the metrics on a new registry that also carries the Go runtime and process
// collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		registry: reg,
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iogate_tokens_issued_total",
			Help: "Access tokens issued.",
		}),
		tokenDenials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iogate_token_denials_total",
			Help: "Token requests denied, by reason.",
		}, []string{"reason"}),
		rateLimitHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iogate_rate_limit_hits_total",
			Help: "Requests answered 429, by the limit that refused them.",
		}, []string{"limit"}),
		addressBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iogate_address_blocks_total",
			Help: "Source addresses blocked after repeated failed authentication.",
		}),
		addressUnblocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iogate_address_unblocks_total",
			Help: "Blocked source addresses whose block an operator lifted with iogate address unblock.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iogate_store_errors_total",
			Help: "Store calls that failed for a reason other than a missing or duplicate record, by operation.",
		}, []string{"operation"}),
		exposedDetected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iogate_exposed_credentials_total",
			Help: "Valid credentials received over plain HTTP; each marked its key as exposed.",
		}),
		requestsByStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iogate_http_requests_total",
			Help: "HTTP requests served, by listener and status code.",
		}, []string{"listener", "code"}),
		auditRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "iogate_audit_commit_records",
			Help:    "Audit records per successful group commit: concurrent token requests share one durable transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		auditSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "iogate_audit_commit_seconds",
			Help:    "Time to write and durably commit one group of audit records, for commits that succeeded.",
			Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 1},
		}),
		tlsExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iogate_tls_certificate_expiry_timestamp_seconds",
			Help: "Expiry (notAfter) of the TLS certificate that the HTTPS listener serves, as a Unix time in seconds.",
		}),
		tlsReloadFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iogate_tls_reload_failures_total",
			Help: "Checks of the TLS certificate and key files that found new contents, or unreadable files, and kept the previous certificate.",
		}),
	}
	verify := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "iogate_token_verification_seconds",
		Help: "Time to verify a bearer token against the key view, by result.",
		// Cached verification takes microseconds and a signature check tens of
		// microseconds, so the buckets start far below Prometheus's defaults.
		Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1},
	}, []string{"result"})
	m.tokenFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iogate_token_verification_failures_total",
		Help: "Bearer tokens that failed to verify, by the reason that the access log's token_failure field names.",
	}, []string{"reason"})
	m.verifyOK = verify.WithLabelValues(ResultOK)
	m.verifyInvalid = verify.WithLabelValues(ReasonInvalidToken)
	m.verifyIPDenied = verify.WithLabelValues(ReasonIPNotAllowed)
	reg.MustRegister(m.tokensIssued, m.tokenDenials, verify, m.tokenFailures, m.rateLimitHits, m.addressBlocks,
		m.addressUnblocks, m.storeErrors, m.exposedDetected, m.requestsByStatus, m.auditRecords, m.auditSeconds,
		m.tlsExpiry, m.tlsReloadFails)
	for _, r := range []string{ReasonInvalidClient, ReasonIPNotAllowed, ReasonInvalidScope, ReasonUnavailable, ReasonInternal} {
		m.tokenDenials.WithLabelValues(r)
	}
	for _, l := range []string{LimitAddress, LimitClient, LimitKey, LimitSlowdown, LimitBlocked} {
		m.rateLimitHits.WithLabelValues(l)
	}
	// The error series start at zero too. A series that appears only with its first
	// error has no earlier sample, so increase() and rate() miss that error.
	for _, op := range storeOperations {
		m.storeErrors.WithLabelValues(op)
	}
	for _, l := range listenerNames {
		for _, code := range []string{"500", "503"} {
			m.requestsByStatus.WithLabelValues(l, code)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// RegisterFeedLag publishes iogate_change_feed_lag_seconds, computed by lag at each scrape.
func (m *Metrics) RegisterFeedLag(lag func() float64) {
	if m == nil {
		return
	}
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "iogate_change_feed_lag_seconds",
		Help: "Seconds since the change feed last confirmed that the in-memory key view is current: under a second while healthy, growing while the feed or the store is down.",
	}, lag))
}

// AuditCommitted records one group commit of audit records: how many it held and how
// long it took.
func (m *Metrics) AuditCommitted(records int, d time.Duration) {
	if m != nil {
		m.auditRecords.Observe(float64(records))
		m.auditSeconds.Observe(d.Seconds())
	}
}

// TLSCertificateLoaded records the expiry of the TLS certificate that the server now serves.
func (m *Metrics) TLSCertificateLoaded(notAfter time.Time) {
	if m != nil {
		m.tlsExpiry.Set(float64(notAfter.Unix()))
	}
}

// TLSReloadFailed counts one check of the TLS files that kept the previous certificate
// because the files could not be read or did not load.
func (m *Metrics) TLSReloadFailed() {
	if m != nil {
		m.tlsReloadFails.Inc()
	}
}

// TokenIssued counts one issued access token.
func (m *Metrics) TokenIssued() {
	if m != nil {
		m.tokensIssued.Inc()
	}
}

// TokenDenied counts one denied token request.
func (m *Metrics) TokenDenied(reason string) {
	if m != nil {
		m.tokenDenials.WithLabelValues(reason).Inc()
	}
}

// DeclareTokenFailures creates the series of iogate_token_verification_failures_total for
// each reason at zero, so that a rate over them works before the first failure.
func (m *Metrics) DeclareTokenFailures(reasons []string) {
	if m == nil {
		return
	}
	for _, r := range reasons {
		m.tokenFailures.WithLabelValues(r)
	}
}

// TokenFailed counts one bearer token that failed to verify for reason, one of the values
// given to DeclareTokenFailures.
func (m *Metrics) TokenFailed(reason string) {
	if m != nil {
		m.tokenFailures.WithLabelValues(reason).Inc()
	}
}

// TokenVerified records how long one bearer verification took and its result: ResultOK,
// ReasonInvalidToken or ReasonIPNotAllowed.
func (m *Metrics) TokenVerified(d time.Duration, result string) {
	if m == nil {
		return
	}
	switch result {
	case ResultOK:
		m.verifyOK.Observe(d.Seconds())
	case ReasonIPNotAllowed:
		m.verifyIPDenied.Observe(d.Seconds())
	default:
		m.verifyInvalid.Observe(d.Seconds())
	}
}

// RateLimited counts one request refused by limit.
func (m *Metrics) RateLimited(limit string) {
	if m != nil {
		m.rateLimitHits.WithLabelValues(limit).Inc()
	}
}

// AddressBlocked counts one address blocked after repeated failed authentication.
func (m *Metrics) AddressBlocked() {
	if m != nil {
		m.addressBlocks.Inc()
	}
}

// AddressesUnblocked counts n blocked addresses whose block an operator lifted.
func (m *Metrics) AddressesUnblocked(n int) {
	if m != nil {
		m.addressUnblocks.Add(float64(n))
	}
}

// StoreError counts one failed store call of operation.
func (m *Metrics) StoreError(operation string) {
	if m != nil {
		m.storeErrors.WithLabelValues(operation).Inc()
	}
}

// ExposedCredential counts one valid credential received over plain HTTP.
func (m *Metrics) ExposedCredential() {
	if m != nil {
		m.exposedDetected.Inc()
	}
}

// Request counts one served request on listener ("https", "http" or "admin") with its
// status.
func (m *Metrics) Request(listener string, status int) {
	if m == nil {
		return
	}
	row := listenerIndex(listener)
	if row < 0 || status < minStatus || status > maxStatus {
		m.requestsByStatus.WithLabelValues(listener, statusText(status)).Inc()
		return
	}
	// Every request passes here, so the counter of a listener and status is looked up in
	// the vector once, not hashed and found under its lock per request.
	slot := &m.requestCounters[row][status-minStatus]
	c := slot.Load()
	if c == nil {
		c = &counterRef{m.requestsByStatus.WithLabelValues(listener, statusText(status))}
		slot.Store(c)
	}
	c.Inc()
}

// The statuses whose request counters are cached. listenerNames gives each listener's row
// in requestCounters.
const (
	minStatus = 100
	maxStatus = 599
)

var listenerNames = [...]string{"https", "http", "admin"}

func listenerIndex(listener string) int {
	for i, l := range listenerNames {
		if l == listener {
			return i
		}
	}
	return -1
}

// counterRef is a counter of a vector behind a pointer, so that it fits an
// atomic.Pointer. Two requests that miss the cache at once store two references to the
// same counter, which the vector returns for the same labels.
type counterRef struct{ prometheus.Counter }

// statusText avoids strconv allocations for the common statuses.
func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	if status < 100 || status > 999 {
		return "other"
	}
	return string([]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)})
}
