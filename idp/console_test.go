package idp_test

import (
	"net/http"
	"strings"
	"testing"
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
