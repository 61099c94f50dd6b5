package idp_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// In-app login (免登) through the real providers and the simulators' JSAPI
// stand-in: the login page opened inside the DingTalk or 浙政钉 app.

const (
	zzdInAppKey    = "demo-inapp-Ef56Gh78"
	zzdInAppSecret = "Z9x8C7v6B5n4M3a2S1d0F9g8H7j6K5l4Q3w2E1r0"
	// User-Agents of the apps' web views (abridged).
	uaDingTalk     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/34000000 Channel/201200 language/zh-Hans-CN"
	uaZhezhengding = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0 Mobile Safari/537.36 AliApp(TaurusApp/2.9.0) TaurusApp/2.9.0 DingTalk(2.9.0)"
	uaBrowser      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)

// withInAppSimulators is withSimulators with in-app login configured on
// both upstreams, their JSAPI being the simulators' stand-in.
func withInAppSimulators(s *sims) envOption {
	return func(e *env) {
		t := e.t
		u, _ := url.Parse(e.cfg.Issuer)
		var err error
		s.zzd, err = zzdsim.New(zzdsim.Options{Apps: map[string]zzdsim.App{
			zzdAppCode: {AppKey: zzdAppKey, AppSecret: zzdAppSecret, CallbackDomains: []string{u.Hostname()},
				InAppKey: zzdInAppKey, InAppSecret: zzdInAppSecret},
		}, AutoApprove: 71453920})
		if err != nil {
			t.Fatal(err)
		}
		opts, err := dingtalksim.Fixture()
		if err != nil {
			t.Fatal(err)
		}
		if s.dt, err = dingtalksim.New(opts); err != nil {
			t.Fatal(err)
		}
		e.mux.Handle("/sim/zzd/", http.StripPrefix("/sim/zzd", s.zzd))
		e.mux.Handle("/sim/dt/", http.StripPrefix("/sim/dt", s.dt))
		zp, err := zhezhengding.New(zhezhengding.Config{
			LoginHost: e.cfg.Issuer + "/sim/zzd", APIHost: e.cfg.Issuer + "/sim/zzd",
			AppCode: zzdAppCode, AppKey: zzdAppKey, AppSecret: zzdAppSecret, Embed: true,
			InAppKey: zzdInAppKey, InAppSecret: zzdInAppSecret, InAppCorpID: "196729",
			JSAPIURL: e.cfg.Issuer + "/sim/zzd/simulator/jsapi/dd.js?app=" + zzdInAppKey,
		}, e.ts.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := dingtalk.New(dingtalk.Config{
			LoginHost: e.cfg.Issuer + "/sim/dt", APIHost: e.cfg.Issuer + "/sim/dt", OAPIHost: e.cfg.Issuer + "/sim/dt",
			ClientID: dtAppMain, ClientSecret: dtSecretMain, CorpID: dtCorpA, InApp: true,
			JSAPIURL: e.cfg.Issuer + "/sim/dt/simulator/jsapi/dd.js",
		}, e.ts.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Upstreams = []idp.UpstreamConfig{
			{ID: "zzd", Name: "浙政钉", Provider: zp},
			{ID: "dingtalk", Name: "钉钉", Provider: dp},
		}
	}
}

type uaTransport struct {
	base http.RoundTripper
	ua   string
}

func (t uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.ua)
	return t.base.RoundTrip(r)
}

// inAppBrowser is a browser whose requests carry ua.
func inAppBrowser(e *env, ua string) *browser {
	b := e.browser()
	b.hc.Transport = uaTransport{base: b.hc.Transport, ua: ua}
	return b
}

// jsapiGetAuthCode does what the stand-in's dd.getAuthCode does for the
// in-app page: fetch a code from the script's sibling endpoint.
func jsapiGetAuthCode(t *testing.T, b *browser, page string) (code string) {
	t.Helper()
	script := html.UnescapeString(reAttr(`<script src`).FindStringSubmatch(page)[1])
	corp := html.UnescapeString(reAttr("data-corp-id").FindStringSubmatch(page)[1])
	u, err := url.Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("corpId", corp)
	u.Path = strings.TrimSuffix(u.Path, "dd.js") + "code"
	u.RawQuery = q.Encode()
	resp, body := b.get(u.String())
	var out struct {
		Code     string `json:"code"`
		AuthCode string `json:"auth_code"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("stand-in getAuthCode: %d %s", resp.StatusCode, body)
	}
	if out.Code != "" {
		return out.Code
	}
	return out.AuthCode
}

func TestInAppLogin(t *testing.T) {
	cases := []struct {
		name, ua, client, query string
		wantApp, wantSubPrefix  string
	}{
		{"DingTalk app, both upstreams allowed: DingTalk picked", uaDingTalk, "both", "", "dingtalk", "dingtalk_"},
		{"浙政钉 app, both upstreams allowed: 浙政钉 picked", uaZhezhengding, "both", "", "zhezhengding", "zzd_"},
		{"forced with inapp=1", uaBrowser, "dtapp", "inapp=1", "dingtalk", "dingtalk_"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sims{}
			e := newEnv(t, backends()[0].open(t), withInAppSimulators(s))
			e.addClient(storage.Client{ID: "both", Name: "办公平台", RedirectURIs: []string{testRedirect}}, testSecret)
			e.addClient(storage.Client{ID: "dtapp", Name: "钉钉应用", RedirectURIs: []string{testRedirect}, Upstreams: []string{"dingtalk"}}, testSecret)
			app := e.rp(c.client, testSecret)
			b := inAppBrowser(e, c.ua)
			verifier := oauth2.GenerateVerifier()
			authURL := app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
			if c.query != "" {
				authURL += "&" + c.query // read by the login step, which /authorize runs
			}
			resp, page := b.get(authURL)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-page="inapp"`) || !strings.Contains(page, `data-app="`+c.wantApp+`"`) {
				t.Fatalf("not the in-app page: %d %.600s", resp.StatusCode, page)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self' "+e.issuer+";") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", csp)
			}
			code := jsapiGetAuthCode(t, b, page)
			callback := html.UnescapeString(reAttr("data-callback").FindStringSubmatch(page)[1])
			state := html.UnescapeString(reAttr("data-state").FindStringSubmatch(page)[1])
			resp, body := b.get(callback + "?" + url.Values{"auth_code": {code}, "state": {state}}.Encode())
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("callback: %d %.500s", resp.StatusCode, body)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			tok, err := app.conf.Exchange(app.ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			l := app.verify(tok)
			if sub, _ := l.claims["sub"].(string); !strings.HasPrefix(sub, c.wantSubPrefix) {
				t.Errorf("sub %q", sub)
			}
			if amr := strs(l.claims["amr"]); !slices.Equal(amr, []string{"app"}) {
				t.Errorf("amr %v, want [app]", amr)
			}
		})
	}
}

func TestInAppNotUsed(t *testing.T) {
	cases := []struct {
		name, ua, client, query, wantPage string
	}{
		{"ordinary browser, one upstream: the embedded QR", uaBrowser, "zzdonly", "", `data-page="embed"`},
		{"ordinary browser, two upstreams: the chooser", uaBrowser, "both", "", `data-page="chooser"`},
		{"DingTalk app, 浙政钉 only: the QR", uaDingTalk, "zzdonly", "", `data-page="embed"`},
		{"浙政钉 app but inapp=0: the QR", uaZhezhengding, "zzdonly", "inapp=0", `data-page="embed"`},
		{"forced, two upstreams: the chooser keeps the override", uaBrowser, "both", "inapp=1", `&amp;inapp=1&amp;upstream=dingtalk">`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sims{}
			e := newEnv(t, backends()[0].open(t), withInAppSimulators(s))
			e.addClient(storage.Client{ID: "both", RedirectURIs: []string{testRedirect}}, testSecret)
			e.addClient(storage.Client{ID: "zzdonly", RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"}}, testSecret)
			app := e.rp(c.client, testSecret)
			b := inAppBrowser(e, c.ua)
			authURL := app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			if c.query != "" {
				authURL += "&" + c.query // read by the login step, which /authorize runs
			}
			resp, page := b.get(authURL)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, c.wantPage) {
				t.Fatalf("%d, want %s: %.800s", resp.StatusCode, c.wantPage, page)
			}
		})
	}
}

// TestInAppCodeReused: a used in-app code offers a retry, which starts the
// in-app login again.
func TestInAppCodeReused(t *testing.T) {
	s := &sims{}
	e := newEnv(t, backends()[0].open(t), withInAppSimulators(s))
	e.addClient(storage.Client{ID: "dtapp", Name: "钉钉应用", RedirectURIs: []string{testRedirect}, Upstreams: []string{"dingtalk"}}, testSecret)
	app := e.rp("dtapp", testSecret)
	b := inAppBrowser(e, uaDingTalk)
	_, page := b.get(app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	code := jsapiGetAuthCode(t, b, page)
	callback := html.UnescapeString(reAttr("data-callback").FindStringSubmatch(page)[1])
	state := html.UnescapeString(reAttr("data-state").FindStringSubmatch(page)[1])
	if resp, body := b.get(callback + "?" + url.Values{"auth_code": {code}, "state": {state}}.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("first use: %d %.300s", resp.StatusCode, body)
	}
	// The same page again (a second tab): a fresh state, the used code.
	_, page = b.get(app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "login")))
	state = html.UnescapeString(reAttr("data-state").FindStringSubmatch(page)[1])
	resp, body := b.get(callback + "?" + url.Values{"auth_code": {code}, "state": {state}}.Encode())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-error="inapp_code_expired"`) || !strings.Contains(body, `id="client-name">钉钉应用<`) {
		t.Fatalf("%d %.600s", resp.StatusCode, body)
	}
	retry := html.UnescapeString(reAttr(`id="retry" href`).FindStringSubmatch(body)[1])
	if _, page := b.get(e.issuer + retry); !strings.Contains(page, `data-page="inapp"`) {
		t.Errorf("retry did not restart the in-app login: %.400s", page)
	}
}
