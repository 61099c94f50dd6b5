package idp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l) {
			t.Errorf("metrics lack %q", l)
		}
	}
}

// TestMetricsFlow: a login, a refresh and a refused callback show up per
// upstream, client, route (the mux pattern) and grant type, next to the
// Go runtime, process and database pool figures.
func TestMetricsFlow(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	l := e.rp("app", testSecret).login(e.browser())
	resp, m := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {l.token.RefreshToken}}, "app", testSecret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %v", resp.StatusCode, m)
	}
	e.browser().get(e.issuer + "/login/dev/callback?state=forged&code=x")
	e.browser().get(e.issuer + "/no/such/page/12345")

	body := scrape(t, e.srv.Metrics().Handler())
	wantLines(t, body,
		`dingoidc_build_info{goversion=`,
		`dingoidc_logins_started_total{client="app",upstream="dev"} 1`,
		`dingoidc_logins_completed_total{client="app",upstream="dev"} 1`,
		`dingoidc_logins_refused_total{client="none",reason="bad_state",upstream="dev"} 1`,
		`dingoidc_tokens_issued_total{grant_type="authorization_code"} 1`,
		`dingoidc_tokens_issued_total{grant_type="refresh_token"} 1`,
		`dingoidc_http_request_duration_seconds_bucket{route="/login/{upstream}/callback",le="+Inf"} 2`,
		`dingoidc_http_request_duration_seconds_bucket{route="/oauth/token",le="+Inf"} 2`,
		`dingoidc_http_requests_total{code="4xx",route="other"} 1`,
		`dingoidc_db_pool_max_connections `,
		`dingoidc_db_pool_in_use_connections `,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	)
	if strings.Contains(body, "12345") || strings.Contains(body, `route="/login/dev/callback"`) {
		t.Errorf("a raw path became a label:\n%s", body)
	}
}

// TestMetricsAccess: /metrics on the main listener only for loopback peers
// that came through no proxy, unless public; never with a separate listener.
func TestMetricsAccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    idp.MetricsConfig
		remote string
		header string
		want   int
	}{
		{"loopback", idp.MetricsConfig{}, "127.0.0.1:5000", "", http.StatusOK},
		{"loopback v6", idp.MetricsConfig{}, "[::1]:5000", "", http.StatusOK},
		{"remote", idp.MetricsConfig{}, "192.0.2.7:5000", "", http.StatusNotFound},
		{"through a local proxy", idp.MetricsConfig{}, "127.0.0.1:5000", "192.0.2.7", http.StatusNotFound},
		{"public", idp.MetricsConfig{Public: true}, "192.0.2.7:5000", "", http.StatusOK},
		{"separate listener", idp.MetricsConfig{Separate: true, Public: true}, "127.0.0.1:5000", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, backends()[0].open(t), func(e *env) { e.cfg.Metrics = tc.cfg })
			req := httptest.NewRequest(http.MethodGet, e.issuer+"/metrics", nil)
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set("X-Forwarded-For", tc.header)
			}
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%s: %d, want %d", tc.name, rec.Code, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), "dingoidc_build_info") {
				t.Errorf("not the exposition:\n%s", rec.Body.String())
			}
		})
	}
}

// TestUpstreamTransport: upstream API calls counted per upstream and
// endpoint (no query), timed, with their error kind.
func TestUpstreamTransport(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/fail" {
			http.Error(w, "no", http.StatusBadGateway)
		}
	}))
	defer up.Close()
	m := idp.NewMetrics()
	c := m.UpstreamClient("dingtalk", &http.Client{})
	for _, p := range []string{"/v1.0/ok?code=secret1", "/v1.0/ok?code=secret2", "/v1.0/fail"} {
		resp, err := c.Get(up.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if _, err := c.Get(deadURL + "/gone"); err == nil {
		t.Fatal("a closed server answered")
	}
	body := scrape(t, m.Handler())
	wantLines(t, body,
		`dingoidc_upstream_requests_total{endpoint="/v1.0/ok",error="",upstream="dingtalk"} 2`,
		`dingoidc_upstream_requests_total{endpoint="/v1.0/fail",error="http_5xx",upstream="dingtalk"} 1`,
		`dingoidc_upstream_requests_total{endpoint="/gone",error="network",upstream="dingtalk"} 1`,
		`dingoidc_upstream_request_duration_seconds_count{endpoint="/v1.0/ok",upstream="dingtalk"} 2`,
	)
	if strings.Contains(body, "secret1") {
		t.Error("a query string became a label")
	}
}
