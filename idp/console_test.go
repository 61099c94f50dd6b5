package idp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

// TestConsoleShellServed: /admin and /admin/ serve the console's shell in
// the person's language under a CSP without inline script; its assets
// are served; other paths under /admin are not the console's.
func TestConsoleShellServed(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	hc := e.ts.Client()
	get := func(path, acceptLanguage string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
		if acceptLanguage != "" {
			req.Header.Set("Accept-Language", acceptLanguage)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	cases := []struct{ path, al, lang, nav string }{
		{"/admin", "", "zh-CN", "应用"},
		{"/admin/", "en-GB,en;q=0.9", "en", "Apps"},
		{"/admin", "zh-CN,zh;q=0.9", "zh-CN", "应用"},
		{"/admin?ui_locales=en", "zh-CN", "en", "Apps"},
	}
	for _, c := range cases {
		resp, body := get(c.path, c.al)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", c.path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", c.path, ct)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP %q allows inline code", c.path, csp)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", c.path, resp.Header)
		}
		if !strings.Contains(body, `<html lang="`+c.lang+`">`) || !strings.Contains(body, `data-nav="apps">`+c.nav+`</a>`) {
			t.Errorf("GET %s (Accept-Language %q): not the %s shell:\n%s", c.path, c.al, c.lang, body)
		}
	}

	for name, ct := range map[string]string{"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"} {
		resp, body := get("/admin/static/"+name, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct || len(body) < 1000 {
			t.Errorf("GET /admin/static/%s: %d %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /admin/static/%s: no nosniff", name)
		}
	}
	for _, p := range []string{"/admin/static/en.json", "/admin/static/admin.html", "/admin/static/../web.go", "/admin/apps", "/admin/static/"} {
		if resp, _ := get(p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestConsoleStates: nobody signed in: the sign-in page; the admin after
// /admin/login: the console, and the API answers with the same cookie; the
// admin disabled meanwhile: 403, the refusal naming the account with a
// logout link; a person not on the admin list gets no console session.
func TestConsoleStates(t *testing.T) {
	e := newEnv(t, backends()[0].open(t), func(e *env) {
		e.cfg.Admin = idp.AdminConfig{Subjects: []string{"dev_10001"}}
	})
	b := e.browser()
	shell := func(want int, state string) string {
		t.Helper()
		resp, body := b.get(e.issuer + "/admin")
		if resp.StatusCode != want || !strings.Contains(body, `data-state="`+state+`"`) {
			t.Fatalf("GET /admin: %d, want %d with state %s:\n%s", resp.StatusCode, want, state, body)
		}
		return body
	}
	body := shell(http.StatusOK, "signin")
	if !strings.Contains(body, `<a class="button" id="login" href="/admin/login?ui_locales=zh-CN">`) {
		t.Errorf("sign-in page has no login button:\n%s", body)
	}

	resp, body := b.get(e.issuer + "/admin/login?ui_locales=zh-CN")
	if resp.Request.URL.Path != "/admin" || !strings.Contains(body, `data-state="app"`) {
		t.Fatalf("console login ended at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	resp, body = b.get(e.issuer + "/admin/api/v1/me")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"subject":"dev_10001"`) {
		t.Fatalf("GET /me with the console session: %d %s", resp.StatusCode, body)
	}

	if err := e.store.SetUserDisabled(t.Context(), "dev_10001", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	body = shell(http.StatusForbidden, "refused")
	if !strings.Contains(body, `<strong id="account">张三 (dev_10001)</strong>`) || !strings.Contains(body, `href="/admin/logout"`) {
		t.Errorf("refusal does not name the account or offer logout:\n%s", body)
	}

	// 李四 is no admin: the login ends refused, without a console session.
	e.up.AutoApprove = "10002"
	b2 := e.browser()
	resp, _ = b2.get(e.issuer + "/admin/login")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("non-admin's console login: %d, want 403", resp.StatusCode)
	}
	resp, body = b2.get(e.issuer + "/admin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-state="signin"`) {
		t.Errorf("non-admin's /admin: %d, want the sign-in page", resp.StatusCode)
	}
}

// TestConsoleBranding: the console shows the brand's name and logo
// instead of "dingoidc", and its colour through a style sheet (the
// console's CSP allows no inline style).
func TestConsoleBranding(t *testing.T) {
	e := newEnv(t, backends()[0].open(t), func(e *env) {
		e.cfg.Branding = idp.Branding{Name: "浙江省数据局", Logo: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#c8102e"/></svg>`), PrimaryColor: "#C8102E"}
	})
	b := e.browser()
	resp, body := b.get(e.issuer + "/admin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin: %d", resp.StatusCode)
	}
	for _, want := range []string{"<title>管理控制台 · 浙江省数据局</title>", `<img src="/branding/logo?v=`, "浙江省数据局 · 管理控制台", `href="/admin/static/brand.css?v=`} {
		if !strings.Contains(body, want) {
			t.Errorf("branded console lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "dingoidc ·") || strings.Contains(body, "· dingoidc") {
		t.Errorf("branded console still says dingoidc:\n%s", body)
	}
	resp, css := b.get(e.issuer + "/admin/static/brand.css")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css, "background:#c8102e") {
		t.Errorf("brand.css: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), css)
	}

	plain := newEnv(t, backends()[0].open(t))
	if resp, _ := plain.browser().get(plain.issuer + "/admin/static/brand.css"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("brand.css without a colour: %d, want 404", resp.StatusCode)
	}
}
