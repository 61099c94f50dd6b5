package idp_test

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dingoidc/dingoidc/idp"
)

// TestProtocolErrorPages: the errors op writes itself (unknown client,
// unregistered redirect URI, malformed request) and the 404 reach a person
// as the styled page in their language with the request id, never as op's
// plain English text; errors op may redirect still go to the app. The
// pages are pinned by golden files (go test ./idp -run ProtocolErrorPages
// -update to accept changes).
func TestProtocolErrorPages(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	const state, nonce = "STATE-MUST-NOT-BE-LOGGED", "NONCE-MUST-NOT-BE-LOGGED"
	authorize := func(q url.Values) string {
		q.Set("state", state)
		q.Set("nonce", nonce)
		return "/authorize?" + q.Encode()
	}
	base := func() url.Values {
		return url.Values{"client_id": {"app"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}}
	}
	unknown := base()
	unknown.Set("client_id", "no-such-app")
	badRedirect := base()
	badRedirect.Set("redirect_uri", "https://evil.example.test/callback")
	noRedirect := base()
	noRedirect.Del("redirect_uri")
	cases := []struct {
		name, path, text string
		status           int
	}{
		{"op_unknown_client", authorize(unknown), "bad_request", http.StatusBadRequest},
		{"op_unregistered_redirect", authorize(badRedirect), "bad_request", http.StatusBadRequest},
		{"op_malformed", authorize(noRedirect), "bad_request", http.StatusBadRequest},
		{"op_malformed_callback", "/authorize/callback", "request_expired", http.StatusBadRequest},
		{"page_not_found", "/no/such/page", "not_found", http.StatusNotFound},
	}
	update := flag.Lookup("update").Value.String() == "true"
	for _, c := range cases {
		for _, loc := range []string{"zh-CN", "en"} {
			t.Run(c.name+"."+loc, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, e.issuer+c.path, nil)
				req.Header.Set("Accept-Language", loc)
				req.Header.Set("X-Request-Id", "req-0123456789abcdef")
				resp, err := e.ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q", ct)
				}
				for _, want := range []string{`<html lang="` + loc + `">`, `name="viewport"`, `data-error="` + c.text + `"`,
					`id="request-id">req-0123456789abcdef<`} {
					if !bytes.Contains(body, []byte(want)) {
						t.Errorf("page lacks %s:\n%s", want, body)
					}
				}
				if c.text == "not_found" {
					title := map[string]string{"zh-CN": "页面不存在", "en": "Page not found"}[loc]
					if !bytes.Contains(body, []byte("<h1 id=\"title\">"+title+"</h1>")) || bytes.Contains(body, []byte("无法登录")) {
						t.Errorf("404 page not titled %q:\n%s", title, body)
					}
				}
				path := filepath.Join("testdata", "golden", c.name+"."+loc+".html")
				if update {
					if err := os.WriteFile(path, body, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./idp -run ProtocolErrorPages -update)", err)
				}
				if !bytes.Equal(body, want) {
					t.Errorf("%s differs (go test ./idp -run ProtocolErrorPages -update to accept):\n%s", path, body)
				}
			})
		}
	}

	// An error op may send to a registered redirect URI still goes there.
	bad := base()
	bad.Set("response_type", "token")
	resp, err := e.browser().hc.Get(e.issuer + authorize(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), testRedirect) || loc.Query().Get("error") == "" ||
		loc.Query().Get("state") != state {
		t.Errorf("redirectable error: %d %s", resp.StatusCode, loc)
	}
}

// TestLogRedaction: op logs protocol errors to the default logger with the
// client's state (oidc.Error's LogValue); through LogHandler, which serve
// installs as the default, no state, nonce or code reaches the log, at any
// depth, whether given per record or with With.
func TestLogRedaction(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(idp.LogHandler(slog.NewJSONHandler(&buf, nil)))
	e := oidc.ErrInvalidRequest().WithDescription("bad")
	e.State = "STATE-SECRET"
	e.SessionState = "SESSION-STATE-SECRET"
	log.Warn("auth request", "oidc_error", e)
	log.With("code", "CODE-SECRET").Info("x", slog.Group("req", "nonce", "NONCE-SECRET", "client_id", "app"))
	out := buf.String()
	for _, secret := range []string{"STATE-SECRET", "SESSION-STATE-SECRET", "CODE-SECRET", "NONCE-SECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s logged:\n%s", secret, out)
		}
	}
	for _, kept := range []string{`"client_id":"app"`, `"description":"bad"`, `"state":"[redacted]"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("log lacks %s:\n%s", kept, out)
		}
	}
}
