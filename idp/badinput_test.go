package idp_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

// code runs the browser to the app redirect and returns the code and the
// PKCE verifier.
func (r *rp) code(b *browser, extra ...oauth2.AuthCodeOption) (string, string) {
	r.e.t.Helper()
	v := oauth2.GenerateVerifier()
	q := b.authorize(r.conf.AuthCodeURL("state", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}, extra...)...))
	if q.Get("code") == "" {
		r.e.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), v
}

func tokenForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)

	t.Run("unknown client gets an error page, not a redirect", func(t *testing.T) {
		q := url.Values{"client_id": {"nobody"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"x"}}
		resp, _ := e.browser().get(e.issuer + "/authorize?" + q.Encode())
		if resp.StatusCode == http.StatusFound || resp.StatusCode < 400 {
			t.Fatalf("status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	for name, redirect := range map[string]string{
		"unregistered redirect_uri":  "https://evil.example/callback",
		"query-altered redirect_uri": testRedirect + "?x=1",
		"missing redirect_uri":       "",
	} {
		t.Run(name+" gets an error page (A6)", func(t *testing.T) {
			q := url.Values{"client_id": {"app"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"x"}}
			resp, _ := e.browser().get(e.issuer + "/authorize?" + q.Encode())
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}

	t.Run("missing response_type is an error redirect (A7)", func(t *testing.T) {
		q := url.Values{"client_id": {"app"}, "redirect_uri": {testRedirect}, "scope": {"openid"}, "state": {"x"}}
		v := e.browser().authorize(e.issuer + "/authorize?" + q.Encode())
		if v.Get("error") != "invalid_request" && v.Get("error") != "unsupported_response_type" {
			t.Fatalf("got %v", v)
		}
	})

	t.Run("PKCE plain is refused", func(t *testing.T) {
		v := e.browser().authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if v.Get("error") != "invalid_request" {
			t.Fatalf("got %v", v)
		}
	})

	t.Run("wrong secret is 401 and does not consume the code (T2)", func(t *testing.T) {
		code, ver := app.code(e.browser())
		resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", "wrong-secret-wrong-secret")
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("status %d body %v", resp.StatusCode, body)
		}
		// x/oauth2 AutoDetect then retries with the secret in the body.
		form := tokenForm(code, ver)
		form.Set("client_id", "app")
		form.Set("client_secret", testSecret)
		resp, body = e.postForm("/oauth/token", form, "", "")
		if resp.StatusCode != http.StatusOK || body["id_token"] == nil {
			t.Fatalf("retry with client_secret_post: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("PKCE mismatch is invalid_grant", func(t *testing.T) {
		code, _ := app.code(e.browser())
		resp, body := e.postForm("/oauth/token", tokenForm(code, oauth2.GenerateVerifier()), "app", testSecret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("status %d body %v", resp.StatusCode, body)
		}
	})

	t.Run("reused code is invalid_grant and revokes its tokens (T6)", func(t *testing.T) {
		code, ver := app.code(e.browser())
		resp, first := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first use: %d %v", resp.StatusCode, first)
		}
		resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("second use: %d %v", resp.StatusCode, body)
		}
		tok := &oauth2.Token{AccessToken: first["access_token"].(string), TokenType: "Bearer"}
		if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("access token from the reused code still works")
		}
		rt := first["refresh_token"].(string)
		if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: rt}).Token(); err == nil {
			t.Error("refresh token from the reused code still works")
		}
	})

	t.Run("expired code is invalid_grant", func(t *testing.T) {
		code, ver := app.code(e.browser())
		e.clock.Advance(2 * time.Minute)
		resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("status %d body %v", resp.StatusCode, body)
		}
	})

	t.Run("code of another client is invalid_grant", func(t *testing.T) {
		e.addClient(storage.Client{ID: "other", RedirectURIs: []string{testRedirect}}, "other-secret-other-secret")
		code, ver := app.code(e.browser())
		resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "other", "other-secret-other-secret")
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("status %d body %v", resp.StatusCode, body)
		}
	})

	t.Run("token endpoint is POST only", func(t *testing.T) {
		resp, err := e.ts.Client().Get(e.issuer + "/oauth/token?grant_type=authorization_code")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET token: %d", resp.StatusCode)
		}
	})

	t.Run("garbage code and malformed requests", func(t *testing.T) {
		for _, form := range []url.Values{
			tokenForm("garbage", "x"),
			{"grant_type": {"authorization_code"}},
			{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"a.b.c"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"nodots"}},
		} {
			resp, body := e.postForm("/oauth/token", form, "app", testSecret)
			if resp.StatusCode != http.StatusBadRequest || body["error"] == nil {
				t.Errorf("%v: %d %v", form, resp.StatusCode, body)
			}
		}
	})

	t.Run("token answers are JSON and not cacheable (T4)", func(t *testing.T) {
		code, ver := app.code(e.browser())
		resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
		if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("headers %v", resp.Header)
		}
		if _, ok := body["expires_in"].(float64); !ok || body["token_type"] != "Bearer" {
			t.Errorf("body %v", body)
		}
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/keys", nil)
		r2, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if !strings.Contains(r2.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("JWKS Cache-Control %q", r2.Header.Get("Cache-Control"))
		}
	})
}

// TestClientSecretEncodings: Basic credentials URL-encoded (x/oauth2,
// rack-oauth2) and raw (JumpServer, Nextcloud), and client_secret_post (T1).
func TestClientSecretEncodings(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	const secret = "a+b/c=d%20e:f~g-long-enough"
	e.addClient(storage.Client{ID: "odd", RedirectURIs: []string{testRedirect}}, secret)
	app := e.rp("odd", secret)
	for name, send := range map[string]func(url.Values) (*http.Response, map[string]any){
		"basic url-encoded": func(f url.Values) (*http.Response, map[string]any) {
			return e.postForm("/oauth/token", f, url.QueryEscape("odd"), url.QueryEscape(secret))
		},
		"basic raw": func(f url.Values) (*http.Response, map[string]any) {
			return e.postForm("/oauth/token", f, "odd", secret)
		},
		"post": func(f url.Values) (*http.Response, map[string]any) {
			f.Set("client_id", "odd")
			f.Set("client_secret", secret)
			return e.postForm("/oauth/token", f, "", "")
		},
	} {
		t.Run(name, func(t *testing.T) {
			code, ver := app.code(e.browser())
			resp, body := send(tokenForm(code, ver))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
		})
	}
}

// TestPublicClientNeedsPKCE: a public client (kubelogin, Argo CD CLI) must
// use PKCE and has no secret.
func TestPublicClientNeedsPKCE(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.addClient(storage.Client{ID: "cli", Public: true, RedirectURIs: []string{"http://localhost:8000"}}, "")
	q := url.Values{"client_id": {"cli"}, "redirect_uri": {"http://localhost:8000"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	b := e.browser()
	b.hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "localhost:8000" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, _ := b.get(e.issuer + "/authorize?" + q.Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("without PKCE: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	v := oauth2.GenerateVerifier()
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(v))
	q.Set("code_challenge_method", "S256")
	resp, _ = b.get(e.issuer + "/authorize?" + q.Encode())
	loc, _ = url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://localhost:8000"}, "code_verifier": {v}, "client_id": {"cli"}}
	r2, body := e.postForm("/oauth/token", form, "", "")
	if r2.StatusCode != http.StatusOK {
		t.Fatalf("public exchange: %d %v", r2.StatusCode, body)
	}
}

// TestUpstreamFailures: each failure gives the person a clear page and
// creates nothing.
func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	cases := []struct {
		name   string
		setup  func()
		status int
		text   string
	}{
		{"expired scan code offers a retry", func() { e.up.FailNextExchange(fmt.Errorf("exchange: %w", upstream.ErrCodeInvalid)) }, http.StatusBadRequest, "二维码已失效"},
		{"outage", func() {
			e.up.FailNextExchange(fmt.Errorf("get token: %w: %w", upstream.ErrUnavailable, errors.New("dial tcp: timeout")))
		}, http.StatusServiceUnavailable, "暂时"},
		{"person outside the organisation", func() { e.up.AutoApprove = "10003" }, http.StatusForbidden, "无权登录"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.up.AutoApprove = "10001"
			c.setup()
			before, _ := e.store.ListUsers(t.Context(), storage.UserFilter{})
			resp, body := e.browser().get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if resp.StatusCode != c.status || !strings.Contains(body, c.text) {
				t.Fatalf("status %d, body %.300s", resp.StatusCode, body)
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("content type %q", resp.Header.Get("Content-Type"))
			}
			after, _ := e.store.ListUsers(t.Context(), storage.UserFilter{})
			if len(after) != len(before) && c.status != http.StatusBadRequest {
				t.Errorf("users %d → %d: a failed login created a user", len(before), len(after))
			}
		})
	}
}
