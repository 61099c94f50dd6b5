package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCORS: browser apps (SPAs) may call the token, userinfo and discovery
// endpoints from a registered app's origin, never with credentials, and no
// other origin or endpoint is opened.
func TestCORS(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	cases := []struct {
		path, origin string
		allowed      bool
	}{
		{"/oauth/token", "https://app.example.test", true},
		{"/userinfo", "https://app.example.test", true},
		{"/.well-known/openid-configuration", "https://app.example.test", true},
		{"/oauth/token", "https://evil.example", false},
		{"/authorize", "https://app.example.test", false},
		{"/login", "https://app.example.test", false},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodOptions, e.issuer+c.path, nil)
		req.Header.Set("Origin", c.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if c.allowed != (got == c.origin) {
			t.Errorf("%s from %s: Allow-Origin %q", c.path, c.origin, got)
		}
		if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", c.path)
		}
	}
}

// TestUserinfoAndIntrospection: userinfo by GET, POST header and POST body
// (U1); introspection for a resource server with client credentials.
func TestUserinfoAndIntrospection(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	l := app.login(e.browser())
	at := l.token.AccessToken

	do := func(req *http.Request) map[string]any {
		t.Helper()
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: %d %v", req.Method, req.URL.Path, resp.StatusCode, resp.Header)
		}
		var m map[string]any
		if err := jsonDecode(resp, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	get, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	get.Header.Set("Authorization", "Bearer "+at)
	postHeader, _ := http.NewRequest(http.MethodPost, e.issuer+"/userinfo", nil)
	postHeader.Header.Set("Authorization", "Bearer "+at)
	postBody, _ := http.NewRequest(http.MethodPost, e.issuer+"/userinfo", strings.NewReader(url.Values{"access_token": {at}}.Encode()))
	postBody.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, req := range []*http.Request{get, postHeader, postBody} {
		m := do(req)
		if m["sub"] != "dev_10001" || m["email"] != "zhangsan@example.gov.cn" {
			t.Errorf("%s userinfo: %v", req.Method, m)
		}
	}

	bad, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	bad.Header.Set("Authorization", "Bearer "+at[:len(at)-4]+"AAAA")
	resp, err := e.ts.Client().Do(bad)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with a forged token: %d", resp.StatusCode)
	}

	resp, m := e.postForm("/oauth/introspect", url.Values{"token": {at}}, "app", testSecret)
	if resp.StatusCode != http.StatusOK || m["active"] != true || m["sub"] != "dev_10001" || m["client_id"] != "app" {
		t.Errorf("introspect: %d %v", resp.StatusCode, m)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("introspection Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	resp, _ = e.postForm("/oauth/introspect", url.Values{"token": {at}}, "app", "wrong-secret-wrong-secret")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("introspect with a wrong secret: %d", resp.StatusCode)
	}
	e.postForm("/revoke", url.Values{"token": {at}, "token_type_hint": {"access_token"}}, "app", testSecret)
	if _, m = e.postForm("/oauth/introspect", url.Values{"token": {at}}, "app", testSecret); m["active"] == true {
		t.Errorf("revoked token still active: %v", m)
	}
}

// TestOperations: health, readiness, metrics and request ids.
func TestOperations(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	app.login(e.browser())
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := e.browser().get(e.issuer + p); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, body := e.browser().get(e.issuer + "/metrics")
	for _, want := range []string{
		`dingoidc_logins_completed_total{client="app",upstream="dev"} 1`,
		`dingoidc_http_requests_total{code="2xx",route="/oauth/token"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if id := resp.Header.Get("X-Request-Id"); len(id) < 8 {
		t.Errorf("no request id: %q", id)
	}
	if !strings.Contains(e.logs.String(), `"request_id"`) {
		t.Error("log lines carry no request_id")
	}
	resp, _ = e.browser().get(e.issuer + "/nowhere")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("404 page: %d %v", resp.StatusCode, resp.Header)
	}
}
