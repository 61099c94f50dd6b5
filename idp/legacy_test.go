package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// The legacy "DingTalk SSO" API (issue 12,
// docs/integrations/legacy-dingtalk-sso.md), driven by an app written
// strictly to the old service's description: text/plain body, raw Basic
// header, bare Authorization token.

const (
	legacyZZD    = "dingoa_zzd_app" // legacy app keys, as an old service issued them
	legacyDT     = "dingoa_dt_app"
	legacySecret = "Ab+c/d=e%21-legacy-secret-value" // characters that URL-encoding changes
	legacyOther  = "https://app.example.test/legacy-other"
)

// legacyApp is the old app: it knows the host, its key and secret.
type legacyApp struct {
	e              *env
	id, secret     string
	redirect       string
	encodeBasic    bool // URL-encode the Basic credentials (RFC 6749 §2.3.1)
	omitBearerWord bool
}

func (a *legacyApp) authorizeURL(state string) string {
	v := url.Values{"redirect_url": {a.redirect}, "client_id": {a.id}}
	if state != "" {
		v.Set("state", state)
	}
	return a.e.issuer + "/dingtalk/authorize?" + v.Encode()
}

// post sends body as text/plain with the Basic header, as the description
// says, and decodes the JSON answer.
func (a *legacyApp) post(path, body string) (int, map[string]any) {
	a.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.e.issuer+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	id, secret := a.id, a.secret
	if a.encodeBasic {
		id, secret = url.QueryEscape(id), url.QueryEscape(secret)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	return a.e.doJSON(req)
}

func (a *legacyApp) token(code, state string) (int, map[string]any) {
	return a.post("/dingtalk/token", "code="+code+"&state="+state)
}

func (a *legacyApp) refresh(rt string) (int, map[string]any) {
	return a.post("/dingtalk/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt))
}

func (a *legacyApp) userinfo(token string) (int, map[string]any) {
	a.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.e.issuer+"/dingtalk/userinfo", nil)
	req.Header.Set("Authorization", token) // the bare token
	return a.e.doJSON(req)
}

func (e *env) doJSON(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s answered %d %q, not JSON: %.200s", req.Method, req.URL.Path, resp.StatusCode, ct, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		e.t.Fatalf("%s: %v: %.200s", req.URL.Path, err, body)
	}
	return resp.StatusCode, m
}

// login runs the browser through authorize, the scan as person and back to
// the app; it returns code and state.
func (a *legacyApp) login(t *testing.T, b *browser, state, person string) (string, string) {
	t.Helper()
	// The upstream returns to /dingtalk/callback?forward_url=…, the old
	// service's shape.
	returned := false
	prev := b.hc.Transport
	b.hc.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == "/dingtalk/callback" && req.URL.Query().Get("forward_url") == a.redirect && req.URL.Query().Get("state") != "" {
			returned = true
		}
		return prev.RoundTrip(req)
	})
	defer func() { b.hc.Transport = prev }()
	resp, body := scanAs(t, b, a.authorizeURL(state), person)
	if !returned {
		t.Error("the upstream did not return to /dingtalk/callback with forward_url")
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), a.redirect+"?") || loc.Query().Get("code") == "" {
		t.Fatalf("legacy login as %s: %d %q %.400s", person, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func wantRefused(t *testing.T, what string, status int, m map[string]any, wantStatus int, wantError string) {
	t.Helper()
	if status != wantStatus || m["error"] != wantError || m["error_description"] == "" || m["error_description"] == nil {
		t.Errorf("%s: %d %v, want %d %s with a description", what, status, m, wantStatus, wantError)
	}
}

func newLegacyEnv(t *testing.T, b backend) (*env, *legacyApp, *legacyApp) {
	s := &sims{}
	e := newEnv(t, b.open(t), withSimulators(s, false, dtAppMain, dtSecretMain))
	e.addClient(storage.Client{ID: legacyZZD, RedirectURIs: []string{testRedirect, legacyOther}, Upstreams: []string{"zzd"}, LegacyAPI: true}, legacySecret)
	e.addClient(storage.Client{ID: legacyDT, RedirectURIs: []string{testRedirect}, Upstreams: []string{"dingtalk"}, LegacyAPI: true}, legacySecret)
	return e, &legacyApp{e: e, id: legacyZZD, secret: legacySecret, redirect: testRedirect},
		&legacyApp{e: e, id: legacyDT, secret: legacySecret, redirect: testRedirect}
}

// TestLegacyAPI: an old app logs in through each upstream, reads userinfo
// and refreshes; everything the issue lists is refused as described.
func TestLegacyAPI(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, zzd, dt := newLegacyEnv(t, b)

			for _, c := range []struct {
				name, person, username, email string
				app                           *legacyApp
			}{
				{"zzd", "71453920", "zhangwei.sj", "zhangwei.sj@example.gov.cn", zzd},
				{"dingtalk", "QY7vA9rRRxK4nQcn6zdha8MiEiE", "zhangsan", "zhangsan@hzdemo.com.cn", dt},
			} {
				t.Run(c.name, func(t *testing.T) {
					code, state := c.app.login(t, e.browser(), "app-state-1", c.person)
					if state != "app-state-1" {
						t.Errorf("state %q, want the app's", state)
					}
					st, tok := c.app.token(code, state)
					if st != http.StatusOK || tok["token_type"] != "Bearer" || tok["access_token"] == "" || tok["refresh_token"] == "" {
						t.Fatalf("token: %d %v", st, tok)
					}
					if tok["expiry_in"] != float64(3600) || tok["expires_in"] != float64(3600) {
						t.Errorf("expiry_in %v expires_in %v, want 3600", tok["expiry_in"], tok["expires_in"])
					}
					st, ui := c.app.userinfo(tok["access_token"].(string))
					if st != http.StatusOK || ui["username"] != c.username || ui["email"] != c.email {
						t.Fatalf("userinfo: %d %v", st, ui)
					}
					// Rotation: the new pair works; the old access token lives
					// on until it expires (as an OIDC one does).
					st, r1 := c.app.refresh(tok["refresh_token"].(string))
					if st != http.StatusOK || r1["refresh_token"] == tok["refresh_token"] || r1["expiry_in"] != float64(3600) {
						t.Fatalf("refresh: %d %v", st, r1)
					}
					st, ui = c.app.userinfo("Bearer " + r1["access_token"].(string))
					if st != http.StatusOK || ui["username"] != c.username {
						t.Fatalf("userinfo with Bearer after refresh: %d %v", st, ui)
					}
					// Reuse of a rotated refresh token after the grace window
					// ends the family (refresh.go's rules).
					e.clock.Advance(time.Minute)
					st, r2 := c.app.refresh(r1["refresh_token"].(string))
					if st != http.StatusOK {
						t.Fatalf("second refresh: %d %v", st, r2)
					}
					st, m := c.app.refresh(tok["refresh_token"].(string))
					wantRefused(t, "reused refresh token", st, m, http.StatusBadRequest, "invalid_grant")
					st, m = c.app.userinfo(r2["access_token"].(string))
					wantRefused(t, "token of a family ended by reuse", st, m, http.StatusUnauthorized, "invalid_token")
				})
			}

			t.Run("no state: a fresh one", func(t *testing.T) {
				b := e.browser()
				code, state := dt.login(t, b, "", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				if len(state) < 16 {
					t.Errorf("state %q", state)
				}
				// SSO: the second login in this browser needs no scan.
				resp, body := b.get(dt.authorizeURL("again"))
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "again" || loc.Query().Get("code") == "" {
					t.Fatalf("SSO reuse: %d %q %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
				}
				if st, m := dt.token(code, state); st != http.StatusOK {
					t.Fatalf("%d %v", st, m)
				}
			})

			t.Run("statements", func(t *testing.T) {
				// The legacy endpoints cost what their OIDC counterparts do
				// (docs/architecture.md): token = CreateGrant, userinfo =
				// GetGrant, refresh = GetGrantByRefreshID + RotateRefresh.
				code, state := dt.login(t, e.browser(), "s", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				step := func(name string, max int64, f func()) {
					t.Helper()
					dt.token("warm", "") // loads the client cache if due; a bad code costs no statement
					before := stats(t, e.store)
					f()
					after := stats(t, e.store)
					n := after.Statements - before.Statements
					t.Logf("%s: %d statements, %d row writes", name, n, after.RowWrites-before.RowWrites)
					if n > max {
						t.Errorf("%s: %d statements, want at most %d", name, n, max)
					}
				}
				var tok map[string]any
				step("token", 2, func() { _, tok = dt.token(code, state) })
				step("userinfo", 1, func() { dt.userinfo(tok["access_token"].(string)) })
				step("refresh", 2, func() { dt.refresh(tok["refresh_token"].(string)) })
			})

			t.Run("code reuse", func(t *testing.T) {
				code, state := dt.login(t, e.browser(), "s", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				st, tok := dt.token(code, state)
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, tok)
				}
				st, m := dt.token(code, state)
				wantRefused(t, "second use of a code", st, m, http.StatusBadRequest, "invalid_grant")
				st, m = dt.userinfo(tok["access_token"].(string))
				wantRefused(t, "token of a reused code", st, m, http.StatusUnauthorized, "invalid_token")
			})

			t.Run("another client's code", func(t *testing.T) {
				code, state := dt.login(t, e.browser(), "s", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				st, m := zzd.token(code, state)
				wantRefused(t, "code of another client", st, m, http.StatusBadRequest, "invalid_grant")
				// Nor does a legacy code work at the OIDC token endpoint.
				resp, om := e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}, legacyDT, legacySecret)
				if resp.StatusCode != http.StatusBadRequest || om["error"] != "invalid_grant" {
					t.Errorf("legacy code at /oauth/token: %d %v", resp.StatusCode, om)
				}
				// The code is still good for its own client, and its refresh
				// token is not the other client's.
				st, tok := dt.token(code, state)
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, tok)
				}
				st, m = zzd.refresh(tok["refresh_token"].(string))
				wantRefused(t, "refresh token of another client", st, m, http.StatusBadRequest, "invalid_grant")
			})

			t.Run("an OIDC code", func(t *testing.T) {
				app := e.rp(legacyDT, legacySecret)
				resp, _ := scanAs(t, e.browser(), app.conf.AuthCodeURL("s"), "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				loc, _ := url.Parse(resp.Header.Get("Location"))
				st, m := dt.token(loc.Query().Get("code"), "s")
				wantRefused(t, "OIDC code at the legacy endpoint", st, m, http.StatusBadRequest, "invalid_grant")
			})

			t.Run("wrong secret", func(t *testing.T) {
				code, state := dt.login(t, e.browser(), "s", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				bad := *dt
				bad.secret = "wrong"
				st, m := bad.token(code, state)
				wantRefused(t, "wrong secret", st, m, http.StatusUnauthorized, "invalid_client")
				enc := *dt
				enc.encodeBasic = true
				if st, m := enc.token(code, state); st != http.StatusOK {
					t.Errorf("URL-encoded Basic credentials: %d %v", st, m)
				}
			})

			t.Run("unregistered redirect_url", func(t *testing.T) {
				bad := *dt
				bad.redirect = "https://evil.example.test/cb"
				resp, body := e.browser().get(bad.authorizeURL("s"))
				if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "登录请求已过期或无效") {
					t.Errorf("%d %q %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				// Nor does the callback forward there.
				resp, body = e.browser().get(e.issuer + "/dingtalk/callback?" + url.Values{"forward_url": {bad.redirect}, "authCode": {"x"}, "state": {"s"}}.Encode())
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "登录链接无效") {
					t.Errorf("callback: %d %q %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
				}
			})

			t.Run("an old app's own callback link", func(t *testing.T) {
				// A link the app built itself, with its own state: a fresh
				// legacy login for the client that registered forward_url,
				// ending at that URL with the app's state.
				u := e.issuer + "/dingtalk/callback?" + url.Values{"forward_url": {legacyOther}, "authCode": {"foreign"}, "state": {"old-app-state"}}.Encode()
				b := e.browser()
				b.hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
					if strings.HasPrefix(req.URL.String(), "https://app.example.test/") {
						return http.ErrUseLastResponse
					}
					return nil
				}
				resp, body := scanAs(t, b, u, "71453920")
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), legacyOther+"?") || loc.Query().Get("state") != "old-app-state" {
					t.Fatalf("%d %q %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
				}
				if st, m := zzd.token(loc.Query().Get("code"), "old-app-state"); st != http.StatusOK {
					t.Errorf("%d %v", st, m)
				}
			})

			t.Run("client without legacy_api", func(t *testing.T) {
				off := &legacyApp{e: e, id: "app", secret: testSecret, redirect: testRedirect}
				resp, body := e.browser().get(off.authorizeURL("s"))
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "登录请求已过期或无效") {
					t.Errorf("authorize: %d %.300s", resp.StatusCode, body)
				}
				st, m := off.token("whatever", "s")
				wantRefused(t, "token for a client without legacy_api", st, m, http.StatusBadRequest, "unauthorized_client")
			})

			t.Run("OIDC token of a client without legacy_api", func(t *testing.T) {
				e.addClient(storage.Client{ID: "opaque-app", RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"}, AccessTokenFormat: "opaque"}, testSecret)
				l := simLogin(t, e.rp("opaque-app", testSecret), e.browser(), "71453920")
				st, m := zzd.userinfo(l.token.AccessToken)
				wantRefused(t, "opaque token of a client without legacy_api", st, m, http.StatusUnauthorized, "invalid_token")
			})

			t.Run("logout", func(t *testing.T) {
				b := e.browser()
				code, state := dt.login(t, b, "s", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
				st, tok := dt.token(code, state)
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, tok)
				}
				_, page := b.get(e.issuer + "/end_session")
				b.confirmLogout(page)
				st, m := dt.userinfo(tok["access_token"].(string))
				wantRefused(t, "token after logout", st, m, http.StatusUnauthorized, "invalid_token")
				st, m = dt.refresh(tok["refresh_token"].(string))
				wantRefused(t, "refresh after logout", st, m, http.StatusBadRequest, "invalid_grant")
			})

			t.Run("disabled person", func(t *testing.T) {
				code, state := zzd.login(t, e.browser(), "s", "100135")
				st, tok := zzd.token(code, state)
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, tok)
				}
				if err := e.store.SetUserDisabled(t.Context(), "zzd_100135", true, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
				st, m := zzd.userinfo(tok["access_token"].(string))
				wantRefused(t, "userinfo of a disabled person", st, m, http.StatusUnauthorized, "invalid_token")
				st, m = zzd.refresh(tok["refresh_token"].(string))
				wantRefused(t, "refresh of a disabled person", st, m, http.StatusBadRequest, "invalid_grant")
				resp, body := scanAs(t, e.browser(), zzd.authorizeURL("s"), "100135")
				if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("login of a disabled person: %d %.300s", resp.StatusCode, body)
				}
			})

			t.Run("expired token", func(t *testing.T) {
				code, state := zzd.login(t, e.browser(), "s", "71453920")
				st, tok := zzd.token(code, state)
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, tok)
				}
				e.clock.Advance(time.Hour + time.Second)
				st, m := zzd.userinfo(tok["access_token"].(string))
				wantRefused(t, "expired access token", st, m, http.StatusUnauthorized, "invalid_token")
				st, m = zzd.userinfo("not-a-token")
				wantRefused(t, "made-up token", st, m, http.StatusUnauthorized, "invalid_token")
				// The refresh token outlives it and gets a fresh one.
				st, r := zzd.refresh(tok["refresh_token"].(string))
				if st != http.StatusOK {
					t.Fatalf("%d %v", st, r)
				}
				if st, ui := zzd.userinfo(r["access_token"].(string)); st != http.StatusOK || ui["username"] != "zhangwei.sj" {
					t.Errorf("%d %v", st, ui)
				}
			})

			t.Run("expired code", func(t *testing.T) {
				code, state := zzd.login(t, e.browser(), "s", "71453920")
				e.clock.Advance(2 * time.Minute)
				st, m := zzd.token(code, state)
				wantRefused(t, "expired code", st, m, http.StatusBadRequest, "invalid_grant")
			})
		})
	}
}

// TestLegacyEmbedded: with the embedded 浙政钉 QR, the code posted by the
// frame goes to /dingtalk/callback too and the legacy login completes.
func TestLegacyEmbedded(t *testing.T) {
	s := &sims{}
	e := newEnv(t, backends()[0].open(t), withSimulators(s, true, dtAppMain, dtSecretMain))
	e.addClient(storage.Client{ID: legacyZZD, RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"}, LegacyAPI: true}, legacySecret)
	app := &legacyApp{e: e, id: legacyZZD, secret: legacySecret, redirect: testRedirect}
	code, state := app.login(t, e.browser(), "s", "71453920")
	st, tok := app.token(code, state)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, tok)
	}
	if st, ui := app.userinfo(tok["access_token"].(string)); st != http.StatusOK || ui["username"] != "zhangwei.sj" {
		t.Errorf("%d %v", st, ui)
	}
}

// TestLegacyTokenBodies: the token endpoint reads the body whatever the
// Content-Type says, and answers bad requests in JSON.
func TestLegacyTokenBodies(t *testing.T) {
	e, zzd, _ := newLegacyEnv(t, backends()[0])
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json"} {
		t.Run("content type "+ct, func(t *testing.T) {
			code, state := zzd.login(t, e.browser(), "s", "71453920")
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/dingtalk/token", strings.NewReader("code="+code+"&state="+state+"\n"))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			req.SetBasicAuth(legacyZZD, legacySecret)
			if st, m := e.doJSON(req); st != http.StatusOK || m["access_token"] == "" {
				t.Errorf("%d %v", st, m)
			}
		})
	}
	for _, c := range []struct{ name, body, basic, err string }{
		{"no credentials", "code=x", "", "invalid_client"},
		{"no code", "state=x", legacyZZD + ":" + legacySecret, "invalid_request"},
		{"garbage code", "code=%%%", legacyZZD + ":" + legacySecret, "invalid_request"},
		{"unknown code", "code=abc", legacyZZD + ":" + legacySecret, "invalid_grant"},
		{"unknown grant type", "grant_type=password", legacyZZD + ":" + legacySecret, "unsupported_grant_type"},
		{"unknown refresh token", "grant_type=refresh_token&refresh_token=a.0.b", legacyZZD + ":" + legacySecret, "invalid_grant"},
		{"unknown client", "code=x", "nobody:x", "invalid_client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/dingtalk/token", strings.NewReader(c.body))
			if c.basic != "" {
				req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.basic)))
			}
			st, m := e.doJSON(req)
			if st < 400 || st > 401 || m["error"] != c.err {
				t.Errorf("%d %v, want %s", st, m, c.err)
			}
		})
	}
	for _, p := range []string{"/dingtalk/nothing", "/dingtalk/token"} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+p, nil)
		if st, m := e.doJSON(req); st < 400 || m["error"] == nil {
			t.Errorf("GET %s: %d %v", p, st, m)
		}
	}
}

// TestLegacyConcurrentRefresh: an app whose instances refresh the same
// token at once all get the same new token (refresh.go's rules), and the
// family stays usable.
func TestLegacyConcurrentRefresh(t *testing.T) {
	e, zzd, _ := newLegacyEnv(t, backends()[0])
	code, state := zzd.login(t, e.browser(), "s", "71453920")
	st, tok := zzd.token(code, state)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, tok)
	}
	const n = 4
	type answer struct {
		status int
		m      map[string]any
	}
	answers := make(chan answer, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/dingtalk/token",
				strings.NewReader("grant_type=refresh_token&refresh_token="+url.QueryEscape(tok["refresh_token"].(string))))
			req.Header.Set("Content-Type", "text/plain")
			req.SetBasicAuth(legacyZZD, legacySecret)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				answers <- answer{status: -1}
				return
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			answers <- answer{resp.StatusCode, m}
		}()
	}
	close(start)
	var first string
	for range n {
		a := <-answers
		if a.status != http.StatusOK {
			t.Fatalf("concurrent refresh: %d %v", a.status, a.m)
		}
		rt, _ := a.m["refresh_token"].(string)
		if first == "" {
			first = rt
		} else if rt != first {
			t.Errorf("concurrent refreshes got different tokens %q and %q", first, rt)
		}
	}
	if st, m := zzd.refresh(first); st != http.StatusOK {
		t.Errorf("the rotated token: %d %v", st, m)
	}
}
