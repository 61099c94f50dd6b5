package idp

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/web"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

var goldenTime = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// pageServer is a Server with just what the page handlers use: the
// renderer, two upstreams and one client, all fixed.
func pageServer(t *testing.T) *Server {
	t.Helper()
	r, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return goldenTime }
	return &Server{
		web:    r,
		log:    slog.New(slog.DiscardHandler),
		now:    now,
		prefix: "/sso",
		upstreams: map[string]*upstreamEntry{
			"zzd":      {UpstreamConfig: UpstreamConfig{ID: "zzd", Name: "浙政钉"}},
			"dingtalk": {UpstreamConfig: UpstreamConfig{ID: "dingtalk", Name: "钉钉"}},
		},
		order: []string{"zzd", "dingtalk"},
		clients: &clientCache{ttl: time.Hour, now: now, loadedAt: goldenTime, byID: map[string]*client{
			"gitlab": {c: storage.Client{ID: "gitlab", Name: "GitLab 代码托管"}},
		}},
	}
}

// pageCases renders every page as a person sees it, with fixed ids.
func pageCases(s *Server) []struct {
	name   string
	status int
	render func(w http.ResponseWriter, r *http.Request, a *authRequest)
} {
	gitlab := s.clients.byID["gitlab"]
	const (
		callback = "https://sso.example.gov.cn/sso/login/zzd/callback"
		state    = "STATE-NONCE-0123456789.SIGNATURE"
	)
	return []struct {
		name   string
		status int
		render func(w http.ResponseWriter, r *http.Request, a *authRequest)
	}{
		{"chooser", 200, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.chooserPage(w, r, a, gitlab, s.order, nil)
		}},
		{"embed", 200, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.embedPage(w, r, a, gitlab, embedPage{
				frame:    "https://login-pro.ding.zj.gov.cn/oauth2/auth.htm?response_type=code&client_id=sso_dingoa&redirect_uri=" + callback + "&scope=get_user_info&authType=QRCODE&embedMode=true&state=" + state,
				origin:   "https://login-pro.ding.zj.gov.cn",
				fullPage: "https://login-pro.ding.zj.gov.cn/oauth2/auth.htm?response_type=code&client_id=sso_dingoa&redirect_uri=" + callback + "&scope=get_user_info&authType=QRCODE&state=" + state,
				state:    state, callback: callback, others: "/sso/login?id=AUTH-REQUEST-ID",
			})
		}},
		{"inapp", 200, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.inAppPage(w, r, a, gitlab, inAppPage{
				app: "dingtalk", script: "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js", corpID: "ding5f3e2a7c9b1d4e60",
				state: state, callback: "https://sso.example.gov.cn/sso/login/dingtalk/callback",
				fallback: "/sso/login?id=AUTH-REQUEST-ID&inapp=0&upstream=dingtalk",
			})
		}},
		{"code_expired", 400, func(w http.ResponseWriter, r *http.Request, a *authRequest) { s.retryPage(w, r, a, "zzd") }},
		{"not_allowed", 403, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.errorPageFor(w, r, a, http.StatusForbidden, msgNotAllowed)
		}},
		{"disabled", 403, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.errorPageFor(w, r, a, http.StatusForbidden, msgDisabled)
		}},
		{"unavailable", 503, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		}},
		{"error", 400, func(w http.ResponseWriter, r *http.Request, _ *authRequest) {
			s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		}},
		{"other_browser", 400, func(w http.ResponseWriter, r *http.Request, _ *authRequest) {
			s.errorPage(w, r, http.StatusBadRequest, msgOtherBrowser)
		}},
		{"not_found", 404, func(w http.ResponseWriter, r *http.Request, _ *authRequest) {
			s.errorPage(w, r, http.StatusNotFound, msgNotFound)
		}},
		{"loggedout", 200, func(w http.ResponseWriter, r *http.Request, _ *authRequest) { s.loggedOutPage(w, r) }},
		{"logout", 200, func(w http.ResponseWriter, r *http.Request, _ *authRequest) {
			s.logoutConfirmPage(w, r, "CONFIRM-TOKEN", url.Values{"post_logout_redirect_uri": {"https://gitlab.example.gov.cn/"}, "state": {"st"}}, true)
		}},
		{"refused", 403, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.renderRefused(w, r, a, gitlab, refusal{reason: ReasonPolicyGroups, person: "张三",
				switchAccount: "/sso/login?id=AUTH-REQUEST-AGAIN&inapp=0", back: "/sso/login/denied?id=AUTH-REQUEST-DENIED"})
		}},
		{"refused_tenants", 403, func(w http.ResponseWriter, r *http.Request, a *authRequest) {
			s.renderRefused(w, r, a, gitlab, refusal{reason: ReasonPolicyTenants, person: "周俊",
				switchAccount: "/sso/login?id=AUTH-REQUEST-AGAIN&inapp=0", back: "/sso/login/denied?id=AUTH-REQUEST-DENIED"})
		}},
	}
}

// TestPagesGolden pins the HTML of every page in both languages. Refresh
// with: go test ./idp -run Golden -update
func TestPagesGolden(t *testing.T) {
	s := pageServer(t)
	for _, c := range pageCases(s) {
		for _, loc := range web.Locales {
			t.Run(c.name+"."+loc, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, "https://sso.example.gov.cn/sso/login?id=AUTH-REQUEST-ID", nil)
				r.Header.Set("Accept-Language", loc)
				r = r.WithContext(context.WithValue(r.Context(), ctxRequestID, "req-0123456789abcdef"))
				a := &authRequest{id: "AUTH-REQUEST-ID", ClientID: "gitlab", Locales: []string{loc}}
				w := httptest.NewRecorder()
				c.render(w, r, a)
				if w.Code != c.status {
					t.Errorf("status %d, want %d", w.Code, c.status)
				}
				got := w.Body.Bytes()
				if !bytes.Contains(got, []byte(`<html lang="`+loc+`">`)) {
					t.Errorf("not in %s", loc)
				}
				path := filepath.Join("testdata", "golden", c.name+"."+loc+".html")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./idp -run Golden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the rendered page (go test ./idp -run Golden -update to accept):\n%s", path, got)
				}
			})
		}
	}
}

// TestPageHooks: the attributes browser tests find pages by.
func TestPageHooks(t *testing.T) {
	s := pageServer(t)
	hooks := map[string][]string{
		"chooser":      {`data-page="chooser"`, `data-upstream="zzd"`, `data-upstream="dingtalk"`, `id="client-name">GitLab 代码托管<`},
		"embed":        {`data-page="embed"`, `id="qr"`, `id="qr-frame"`, `id="qr-countdown"`, `id="fullpage"`, `id="client-name"`},
		"inapp":        {`data-page="inapp"`, `id="inapp"`, `id="fallback"`, `id="client-name"`, `src="/sso/static/inapp.js"`},
		"code_expired": {`data-page="error"`, `data-error="code_expired"`, `id="retry" href="/sso/login?id=AUTH-REQUEST-ID&amp;upstream=zzd"`, `id="client-name"`},
		"not_allowed":  {`data-page="error"`, `data-error="not_allowed"`, `id="client-name"`},
		"unavailable":  {`data-page="error"`, `data-error="unavailable"`},
		"error":        {`data-page="error"`, `data-error="request_expired"`, `id="request-id">req-0123456789abcdef<`},
		"loggedout":    {`data-page="loggedout"`},
		"logout":       {`data-page="logout"`, `id="logout-confirm"`, `method="post"`},
		"refused": {`data-page="refused"`, `data-error="refused_policy_groups"`, `id="refused-app">GitLab 代码托管<`, `id="refused-person">张三<`,
			`id="switch-account" href="/sso/login?id=AUTH-REQUEST-AGAIN&amp;inapp=0"`, `id="back-to-app" href="/sso/login/denied?id=AUTH-REQUEST-DENIED"`, `id="request-id"`},
	}
	for _, c := range pageCases(s) {
		want, ok := hooks[c.name]
		if !ok {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/sso/login", nil)
			r = r.WithContext(context.WithValue(r.Context(), ctxRequestID, "req-0123456789abcdef"))
			w := httptest.NewRecorder()
			c.render(w, r, &authRequest{id: "AUTH-REQUEST-ID", ClientID: "gitlab"})
			body := w.Body.String()
			for _, h := range want {
				if !strings.Contains(body, h) {
					t.Errorf("no %s", h)
				}
			}
			// Every page: a language, a title, a main landmark named by the heading.
			for _, h := range []string{`<html lang="zh-CN">`, `<title>`, `aria-labelledby="title"`, `<h1 id="title">`, `name="viewport"`} {
				if !strings.Contains(body, h) {
					t.Errorf("no %s", h)
				}
			}
		})
	}
}

// TestMessagesExist: every message the handlers name is in every locale.
func TestMessagesExist(t *testing.T) {
	r, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"chooser_title", "embed_title", "inapp_title", "logged_out_title", "refused_title",
		"refused_" + ReasonPolicyGroups, "refused_" + ReasonPolicyTenants}
	for _, m := range allMessages {
		keys = append(keys, m.title, m.text)
	}
	for _, k := range keys {
		if !r.HasMessage(k) {
			t.Errorf("no message %q", k)
		}
	}
}

// TestPageHeaders: no framing, no referrer, a CSP per page that allows
// only what the page loads.
func TestPageHeaders(t *testing.T) {
	s := pageServer(t)
	cases := map[string][]string{
		"chooser":   {"frame-ancestors 'none'", "default-src 'none'"},
		"embed":     {"frame-ancestors 'none'", "frame-src https://login-pro.ding.zj.gov.cn;", "script-src 'self';"},
		"inapp":     {"frame-ancestors 'none'", "script-src 'self' https://g.alicdn.com;", "connect-src https://g.alicdn.com;"},
		"error":     {"frame-ancestors 'none'"},
		"loggedout": {"frame-ancestors 'none'"},
	}
	for _, c := range pageCases(s) {
		want, ok := cases[c.name]
		if !ok {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			h := securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.render(w, r, &authRequest{id: "AUTH-REQUEST-ID", ClientID: "gitlab"})
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sso/login", nil))
			hd := w.Header()
			if hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Frame-Options") != "DENY" ||
				hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", hd)
			}
			csp := hd.Get("Content-Security-Policy")
			for _, p := range want {
				if !strings.Contains(csp, p) {
					t.Errorf("CSP %q lacks %q", csp, p)
				}
			}
		})
	}
}

// TestCookieAttributes: an https issuer sets only __Host- cookies (Secure,
// Path=/, no Domain), whatever path the handler asks for; an http issuer
// (dev) keeps plain names and the issuer's path.
func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := &Server{secure: secure}
		w := httptest.NewRecorder()
		s.setCookie(w, cookieSession, "v", "/sso/", time.Hour)
		s.setCookie(w, cookieLogin+"0123456789", "v", "/sso/login/", time.Hour)
		s.clearCookie(w, cookieBrowser, "/sso/")
		cookies := w.Result().Cookies()
		if len(cookies) != 3 {
			t.Fatalf("%d cookies", len(cookies))
		}
		for _, c := range cookies {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Domain != "" {
				t.Errorf("secure issuer %v: cookie %+v", secure, c)
			}
			if secure && (!strings.HasPrefix(c.Name, "__Host-dingoidc_") || c.Path != "/") {
				t.Errorf("https issuer: cookie %s with path %q, want __Host- and /", c.Name, c.Path)
			}
			if !secure && (strings.HasPrefix(c.Name, "__Host-") || !strings.HasPrefix(c.Path, "/sso/")) {
				t.Errorf("http issuer: cookie %s with path %q", c.Name, c.Path)
			}
		}
		// What the handler set, it reads back.
		r := httptest.NewRequest(http.MethodGet, "/sso/login", nil)
		r.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: "v"})
		if c, err := s.cookie(r, cookieSession); err != nil || c.Value != "v" {
			t.Errorf("secure issuer %v: cookie not read back: %v", secure, err)
		}
		// A cookie without the prefix (planted by a sibling subdomain) is
		// not the session on an https issuer.
		r = httptest.NewRequest(http.MethodGet, "/sso/login", nil)
		r.AddCookie(&http.Cookie{Name: cookieSession, Value: "planted"})
		if _, err := s.cookie(r, cookieSession); (err == nil) == secure {
			t.Errorf("secure issuer %v: unprefixed cookie read: %v", secure, err)
		}
	}
}

func TestScriptOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://g.alicdn.com/gdt/jsapi/1.9.22/index.js":     "https://g.alicdn.com",
		"http://127.0.0.1:8080/sim/dt/simulator/jsapi/dd.js": "http://127.0.0.1:8080",
		"/relative.js":              "'none'",
		"javascript:alert(1)":       "'none'",
		"https://a.example; x/y.js": "'none'",
	} {
		if got := scriptOrigin(in); got != want {
			t.Errorf("scriptOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}
