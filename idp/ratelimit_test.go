package idp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

func send(e *env, method, path, remote string, form url.Values, basicUser string) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, e.issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, e.issuer+path, nil)
	}
	if basicUser != "" {
		req.SetBasicAuth(basicUser, "wrong-secret")
	}
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// TestRateLimitLogin: per-IP buckets at login start and callback; an
// empty bucket answers the styled page with 429 and Retry-After; another
// address is unaffected; the bucket refills with the (injected) clock.
func TestRateLimitLogin(t *testing.T) {
	slow := idp.RateLimit{Rate: 0.001, Burst: 2} // one token per 1000 s
	e := newEnv(t, backends()[0].open(t), func(e *env) {
		e.cfg.RateLimits = idp.RateLimits{Login: slow, Callback: slow}
	})
	// Login start and callback each have their bucket, shared by the OIDC
	// and the legacy endpoints: one address per path here.
	for i, path := range []string{"/authorize?client_id=app", "/login/dev/callback?state=x", "/dingtalk/authorize?appid=app", "/dingtalk/callback?state=x"} {
		ip := fmt.Sprintf("192.0.2.%d:1000", 10+i)
		for i := range 2 {
			if rec := send(e, "GET", path, ip, nil, ""); rec.Code == http.StatusTooManyRequests {
				t.Fatalf("%s: request %d of the burst refused", path, i+1)
			}
		}
		rec := send(e, "GET", path, ip, nil, "")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1000" {
			t.Fatalf("%s beyond the burst: %d Retry-After %q", path, rec.Code, rec.Header().Get("Retry-After"))
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("%s: 429 for people is not the styled page: %s", path, ct)
		}
		if rec := send(e, "GET", path, fmt.Sprintf("198.51.100.%d:1000", i), nil, ""); rec.Code == http.StatusTooManyRequests {
			t.Errorf("%s: another address shares the bucket", path)
		}
	}
	e.clock.Advance(1000 * time.Second)
	if rec := send(e, "GET", "/authorize?client_id=app", "192.0.2.10:1000", nil, ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("no refill after 1000 s")
	}
	body := scrape(t, e.srv.Metrics().Handler())
	wantLines(t, body,
		`dingoidc_rate_limited_total{endpoint="/authorize",key="ip"} 1`,
		`dingoidc_rate_limited_total{endpoint="/login/{upstream}/callback",key="ip"} 1`,
		`dingoidc_rate_limited_total{endpoint="/dingtalk/authorize",key="ip"} 1`,
		`dingoidc_rate_limited_total{endpoint="/dingtalk/callback",key="ip"} 1`,
		`dingoidc_http_requests_total{code="4xx",route="/authorize"}`,
	)
}

// TestRateLimitToken: per client_id at the token endpoint (Basic or form),
// answered in OAuth JSON; loopback is exempt when configured (dev).
func TestRateLimitToken(t *testing.T) {
	e := newEnv(t, backends()[0].open(t), func(e *env) {
		e.cfg.RateLimits = idp.RateLimits{TokenClient: idp.RateLimit{Rate: 0.001, Burst: 3}}
	})
	l := e.rp("app", testSecret).login(e.browser()) // token 1 of 3
	// The body read to find the client reaches op intact: a refresh with
	// the credentials in the form works (token 2).
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {l.token.RefreshToken}, "client_id": {"app"}, "client_secret": {testSecret}}
	if rec := send(e, "POST", "/oauth/token", "192.0.2.1:1000", refresh, ""); rec.Code != http.StatusOK {
		t.Fatalf("refresh through the limiter: %d %s", rec.Code, rec.Body)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}}
	if rec := send(e, "POST", "/oauth/token", "192.0.2.1:1000", form, "app"); rec.Code == http.StatusTooManyRequests {
		t.Fatal("third request refused")
	}
	// Another address, same client (in the form this time): the client's
	// bucket is empty.
	f2 := url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "client_id": {"app"}, "client_secret": {"x"}}
	rec := send(e, "POST", "/oauth/token", "192.0.2.9:1000", f2, "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("client over its limit: %d %s", rec.Code, rec.Body)
	}
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"] != "temporarily_unavailable" {
		t.Fatalf("429 body %q (%v), want OAuth JSON temporarily_unavailable", rec.Body, err)
	}
	if rec := send(e, "POST", "/oauth/token", "192.0.2.9:1000", f2, "other"); rec.Code == http.StatusTooManyRequests {
		t.Fatal("another client refused")
	}
	wantLines(t, scrape(t, e.srv.Metrics().Handler()), `dingoidc_rate_limited_total{endpoint="/oauth/token",key="client"} 1`)

	dev := newEnv(t, backends()[0].open(t), func(e *env) {
		e.cfg.RateLimits = idp.RateLimits{Login: idp.RateLimit{Rate: 0.001, Burst: 1}, ExemptLoopback: true}
	})
	for i := range 5 {
		if rec := send(dev, "GET", "/authorize?client_id=app", "127.0.0.1:1000", nil, ""); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("loopback limited in dev (request %d)", i+1)
		}
	}
	if rec := send(dev, "GET", "/authorize?client_id=app", "192.0.2.1:1000", nil, ""); rec.Code == http.StatusTooManyRequests {
		t.Fatal("first remote request refused")
	}
	if rec := send(dev, "GET", "/authorize?client_id=app", "192.0.2.1:1000", nil, ""); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("remote not limited in dev: %d", rec.Code)
	}
}
