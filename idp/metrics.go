package idp

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingoidc/dingoidc/buildinfo"
)

// metrics is a small Prometheus text-format exposition: counters and
// duration sums per route, plus login and token counters.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]*routeStat // {route, status class}

	loginsStarted   atomic.Int64
	loginsCompleted atomic.Int64
	loginsSSO       atomic.Int64
	loginFailures   sync.Map // reason → *atomic.Int64
	codeReuse       atomic.Int64
	refreshReuse    atomic.Int64
}

type routeStat struct {
	count   int64
	seconds float64
}

func newMetrics() *metrics { return &metrics{requests: map[[2]string]*routeStat{}} }

func (m *metrics) request(route string, status int, d time.Duration) {
	key := [2]string{route, fmt.Sprintf("%dxx", status/100)}
	m.mu.Lock()
	st := m.requests[key]
	if st == nil {
		st = &routeStat{}
		m.requests[key] = st
	}
	st.count++
	st.seconds += d.Seconds()
	m.mu.Unlock()
}

func (m *metrics) loginFailed(reason string) {
	v, _ := m.loginFailures.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP dingoidc_build_info The running version.\n# TYPE dingoidc_build_info gauge\ndingoidc_build_info{version=%q,goversion=%q} 1\n", buildinfo.Version(), buildinfo.GoVersion())
	b.WriteString("# HELP dingoidc_http_requests_total HTTP requests by route and status class.\n# TYPE dingoidc_http_requests_total counter\n")
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "dingoidc_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k].count)
	}
	b.WriteString("# HELP dingoidc_http_request_duration_seconds_sum Time spent serving requests.\n# TYPE dingoidc_http_request_duration_seconds_sum counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "dingoidc_http_request_duration_seconds_sum{route=%q,code=%q} %g\n", k[0], k[1], m.requests[k].seconds)
	}
	m.mu.Unlock()
	counter := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("dingoidc_logins_started_total", "Logins sent to an upstream.", m.loginsStarted.Load())
	counter("dingoidc_logins_completed_total", "Logins completed through an upstream.", m.loginsCompleted.Load())
	counter("dingoidc_logins_sso_total", "Logins completed from an existing SSO session.", m.loginsSSO.Load())
	counter("dingoidc_code_reuse_total", "Authorization codes presented twice (grant revoked).", m.codeReuse.Load())
	counter("dingoidc_refresh_reuse_total", "Rotated refresh tokens presented again (grant revoked).", m.refreshReuse.Load())
	b.WriteString("# HELP dingoidc_login_failures_total Failed logins by reason.\n# TYPE dingoidc_login_failures_total counter\n")
	var reasons []string
	m.loginFailures.Range(func(k, _ any) bool { reasons = append(reasons, k.(string)); return true })
	slices.Sort(reasons)
	for _, r := range reasons {
		v, _ := m.loginFailures.Load(r)
		fmt.Fprintf(&b, "dingoidc_login_failures_total{reason=%q} %d\n", r, v.(*atomic.Int64).Load())
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
