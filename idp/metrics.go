package idp

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dingoidc/dingoidc/buildinfo"
)

// Metrics is the provider's Prometheus registry: its own, not the global
// one, so two servers in one process (tests) never collide. cmd makes it
// before the upstreams (UpstreamTransport instruments their HTTP clients)
// and hands it to New through Deps; New makes one when none is given.
//
// Every label value is bounded: routes are the mux's patterns, upstreams
// and clients are configured or registered ones (labelOrNone), refusal
// reasons and grant types are constants of this package, and upstream
// endpoints are capped (metrics_upstream.go).
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec   // route, code (status class)
	httpDuration *prometheus.HistogramVec // route

	loginsStarted   *prometheus.CounterVec // upstream, client
	loginsCompleted *prometheus.CounterVec // upstream, client
	loginsSSO       *prometheus.CounterVec // upstream, client
	loginsRefused   *prometheus.CounterVec // upstream, client, reason
	codeReuse       prometheus.Counter
	refreshReuse    prometheus.Counter
	tokens          *prometheus.CounterVec // grant_type
	rateLimited     *prometheus.CounterVec // endpoint, key

	upstreamCalls    *prometheus.CounterVec   // upstream, endpoint, error
	upstreamDuration *prometheus.HistogramVec // upstream, endpoint

	storeOnce sync.Once
	endpoints endpointSet
}

// NewMetrics makes the registry with the Go runtime and process
// collectors and every dingoidc metric.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dingoidc_build_info", Help: "The running version."}, []string{"version", "goversion"})
	build.WithLabelValues(buildinfo.Version(), buildinfo.GoVersion()).Set(1)
	f(build)

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_http_requests_total",
		Help: "HTTP requests by route (the mux pattern) and status class."}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dingoidc_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route (the mux pattern).",
		Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"})
	m.loginsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_logins_started_total",
		Help: "Logins sent to an upstream, by upstream and client."}, []string{"upstream", "client"})
	m.loginsCompleted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_logins_completed_total",
		Help: "Logins completed through an upstream scan, by upstream and client."}, []string{"upstream", "client"})
	m.loginsSSO = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_logins_sso_total",
		Help: "Logins completed from an existing SSO session, by the session's upstream and client."}, []string{"upstream", "client"})
	m.loginsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_logins_refused_total",
		Help: "Logins refused or failed, by upstream, client and reason."}, []string{"upstream", "client", "reason"})
	m.codeReuse = prometheus.NewCounter(prometheus.CounterOpts{Name: "dingoidc_code_reuse_total",
		Help: "Authorization codes presented twice (grant revoked)."})
	m.refreshReuse = prometheus.NewCounter(prometheus.CounterOpts{Name: "dingoidc_refresh_reuse_total",
		Help: "Rotated refresh tokens presented again (grant revoked)."})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_tokens_issued_total",
		Help: "Tokens issued by the token endpoint, by grant type."}, []string{"grant_type"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_rate_limited_total",
		Help: "Requests answered 429 by the rate limits, by endpoint and key (ip or client)."}, []string{"endpoint", "key"})
	m.upstreamCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dingoidc_upstream_requests_total",
		Help: `Upstream API calls by upstream, endpoint and error kind ("" when the call got a 2xx/3xx answer).`}, []string{"upstream", "endpoint", "error"})
	m.upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dingoidc_upstream_request_duration_seconds",
		Help:    "Upstream API call latency by upstream and endpoint.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"upstream", "endpoint"})
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.loginsStarted, m.loginsCompleted, m.loginsSSO,
		m.loginsRefused, m.codeReuse, m.refreshReuse, m.tokens, m.rateLimited, m.upstreamCalls, m.upstreamDuration} {
		f(c)
	}
	// Grant types are few and known: show them at zero from the start.
	for _, g := range []string{grantCode, grantRefresh} {
		m.tokens.WithLabelValues(g)
	}
	return m
}

// Registry is the registry behind Handler (tests, extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the text exposition of the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

const (
	grantCode    = "authorization_code"
	grantRefresh = "refresh_token"
)

// Login refusal reasons: the only values of the reason label.
const (
	refusedBadState      = "bad_state"
	refusedOtherBrowser  = "other_browser"
	refusedExpired       = "request_expired"
	refusedDenied        = "denied"
	refusedClaims        = "claims"
	refusedStorage       = "storage"
	refusedDisabled      = "disabled"
	refusedHintMismatch  = "hint_mismatch"
	refusedStateReused   = "state_reused"
	refusedCodeInvalid   = "code_invalid"
	refusedNotAllowed    = "not_allowed"
	refusedUnavailable   = "upstream_unavailable"
	refusedMisconfigured = "upstream_misconfigured"
)

// labelOrNone keeps an empty label readable in queries.
func labelOrNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

func (m *Metrics) request(route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status/100)+"xx").Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// loginRefused counts a refused login; upstream and client may be "" when
// the request did not get far enough to know them.
func (m *Metrics) loginRefused(upstream, client, reason string) {
	m.loginsRefused.WithLabelValues(labelOrNone(upstream), labelOrNone(client), reason).Inc()
}

func (m *Metrics) loginStarted(upstream, client string) {
	m.loginsStarted.WithLabelValues(upstream, client).Inc()
}

func (m *Metrics) loginCompleted(upstream, client string) {
	m.loginsCompleted.WithLabelValues(upstream, client).Inc()
}

func (m *Metrics) loginSSO(upstream, client string) {
	m.loginsSSO.WithLabelValues(labelOrNone(upstream), client).Inc()
}

func (m *Metrics) tokenIssued(grantType string) { m.tokens.WithLabelValues(grantType).Inc() }
