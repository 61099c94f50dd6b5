package idp

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dingoidc/dingoidc/idp/clientip"
)

// RateLimit is one token bucket: Rate requests per second on average,
// Burst at once. A zero Rate means no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// RateLimits are the per-key token buckets in front of the endpoints that
// start work upstream or in the database: login start (/authorize and
// /login), the upstream callback and the token endpoint, per client IP
// (clientip.FromContext), and the token endpoint per client_id as well.
// The defaults (SetDefaults) are far above what people behind one office
// NAT produce; they stop floods, not offices.
type RateLimits struct {
	Disabled bool
	Login    RateLimit // GET/POST /authorize, GET /login, per IP
	Callback RateLimit // /login/{upstream}/callback, per IP
	Token    RateLimit // POST /oauth/token, per IP
	// TokenClient: POST /oauth/token per client_id (Basic user name or
	// the form's client_id).
	TokenClient RateLimit
	// ExemptLoopback leaves loopback clients unlimited (serve --dev).
	ExemptLoopback bool
}

// Defaults of RateLimits.
var (
	DefaultLoginRateLimit       = RateLimit{Rate: 50, Burst: 100}
	DefaultCallbackRateLimit    = RateLimit{Rate: 50, Burst: 100}
	DefaultTokenRateLimit       = RateLimit{Rate: 100, Burst: 200}
	DefaultTokenClientRateLimit = RateLimit{Rate: 200, Burst: 400}
)

// SetDefaults fills the buckets left zero.
func (l *RateLimits) SetDefaults() {
	for _, p := range []struct {
		v *RateLimit
		d RateLimit
	}{{&l.Login, DefaultLoginRateLimit}, {&l.Callback, DefaultCallbackRateLimit}, {&l.Token, DefaultTokenRateLimit}, {&l.TokenClient, DefaultTokenClientRateLimit}} {
		if p.v.Rate == 0 && p.v.Burst == 0 {
			*p.v = p.d
		}
	}
}

// Problems lists invalid buckets by their field names.
func (l RateLimits) Problems() []string {
	var out []string
	for name, v := range map[string]RateLimit{"login": l.Login, "callback": l.Callback, "token": l.Token, "token_client": l.TokenClient} {
		switch {
		case v.Rate < 0 || math.IsNaN(v.Rate) || math.IsInf(v.Rate, 0):
			out = append(out, fmt.Sprintf("%s.rate: must be a positive number of requests per second, got %v", name, v.Rate))
		case v.Rate > 0 && v.Burst < 1:
			out = append(out, fmt.Sprintf("%s.burst: must be at least 1 when rate is set, got %d", name, v.Burst))
		}
	}
	return out
}

// maxBuckets bounds each limiter's memory: beyond it, idle buckets are
// dropped first, then arbitrary ones (a flood from many addresses makes
// the limiter forget, never grow).
const maxBuckets = 100_000

// limiter keeps one token bucket per key. A bucket idle long enough to
// have refilled is the same as a new one, so it is dropped.
type limiter struct {
	limit RateLimit
	now   func() time.Time
	max   int // buckets kept at most (maxBuckets)

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if !(l.Rate > 0) || math.IsInf(l.Rate, 0) { // config check refuses what is not a positive number
		return nil
	}
	l.Burst = max(l.Burst, 1)
	return &limiter{limit: l, now: now, max: maxBuckets, buckets: map[string]*bucket{}}
}

// refill is how long an idle bucket takes to be full again.
func (l *limiter) refill() time.Duration {
	return time.Duration(float64(l.limit.Burst) / l.limit.Rate * float64(time.Second))
}

// take spends one token of key's bucket; when there is none it returns how
// long until there is one.
func (l *limiter) take(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > max(l.refill(), time.Minute) || len(l.buckets) >= l.max {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.Rate), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	idle := l.refill()
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= idle {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k)
	}
}

func (l *limiter) size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// rateLimiters are the server's buckets, nil when disabled.
type rateLimiters struct {
	cfg                              RateLimits
	login, callback, token, tokenCID *limiter
}

func newRateLimiters(cfg RateLimits, now func() time.Time) *rateLimiters {
	if cfg.Disabled {
		return nil
	}
	cfg.SetDefaults()
	return &rateLimiters{
		cfg:      cfg,
		login:    newLimiter(cfg.Login, now),
		callback: newLimiter(cfg.Callback, now),
		token:    newLimiter(cfg.Token, now),
		tokenCID: newLimiter(cfg.TokenClient, now),
	}
}

// rateLimit answers 429 with Retry-After once a bucket is empty: OAuth's
// temporarily_unavailable in JSON at the token endpoint, the styled page
// to people. It sits in front of the mux and picks the limited endpoints
// by path (after the issuer's path prefix is stripped).
func (s *Server) rateLimit(next http.Handler) http.Handler {
	rl := s.limits
	if rl == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lim *limiter
		route := r.URL.Path
		p := r.URL.Path
		switch {
		case p == "/authorize" && (r.Method == http.MethodGet || r.Method == http.MethodPost),
			(p == "/login" || p == "/dingtalk/authorize") && r.Method == http.MethodGet: // legacy.go's too
			lim = rl.login
		case strings.HasPrefix(p, "/login/") && strings.HasSuffix(p, "/callback"):
			lim, route = rl.callback, "/login/{upstream}/callback"
		case p == "/dingtalk/callback":
			lim = rl.callback
		case (p == "/oauth/token" || p == "/dingtalk/token") && r.Method == http.MethodPost:
			lim = rl.token
		default:
			next.ServeHTTP(w, r)
			return
		}
		ip := clientip.FromContext(r.Context())
		if rl.cfg.ExemptLoopback {
			if a, err := netip.ParseAddr(ip); err == nil && a.IsLoopback() {
				next.ServeHTTP(w, r)
				return
			}
		}
		key := "ip"
		ok, wait := lim.take(ip)
		if ok && lim == rl.token && rl.tokenCID != nil {
			if cid := tokenClientID(r); cid != "" {
				key = "client"
				ok, wait = rl.tokenCID.take(cid)
			}
		}
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		s.metrics.rateLimited.WithLabelValues(route, key).Inc()
		if n, found := r.Context().Value(ctxRouteNote{}).(*routeNote); found {
			n.pattern = route
		}
		s.log.InfoContext(r.Context(), "rate limited", "route", route, "key", key, "client_ip", ip, "retry_after", wait.String())
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		if lim == rl.token {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"too many requests; retry after the time in Retry-After"}`))
			return
		}
		s.errorPage(w, r, http.StatusTooManyRequests, msgUnavailable)
	})
}

// peekFormLimit is how much of a token request's body is read to find its
// client_id; a larger body is passed on untouched (the body limits
// further in answer it) and limited per IP only.
const peekFormLimit = 64 << 10

// tokenClientID is the client a token request names: the Basic user name
// (RFC 6749 §2.3.1 form-encodes it) or the form's client_id. The body is
// put back as it was for the handler.
func tokenClientID(r *http.Request) string {
	if u, _, ok := r.BasicAuth(); ok {
		if d, err := url.QueryUnescape(u); err == nil {
			return d
		}
		return u
	}
	if r.Body == nil || r.Body == http.NoBody || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return ""
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, peekFormLimit+1))
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), rest}
	if err != nil || len(buf) > peekFormLimit {
		return ""
	}
	v, err := url.ParseQuery(string(buf))
	if err != nil {
		return ""
	}
	return v.Get("client_id")
}
