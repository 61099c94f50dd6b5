package idp_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
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

// The real upstream providers against the simulators, on the test server:
// 浙政钉 (embedded or full-page QR, tenant restriction, enrichment) and
// DingTalk (corp membership, org profile), side by side.

const (
	zzdAppCode   = "demo_dingoa"
	zzdAppKey    = "demo-Ab12Cd34"
	zzdAppSecret = "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9z0"

	dtAppMain    = "ding1bq7up081o21ln27"
	dtSecretMain = "puyP6Ol_OB3lMGEWMhOthEds21k4rXtbErreyelRIZmqUuS85ATZQzQoHSqy0_bX"
	dtAppNoPerm  = "dingsz8v39719yo1hmml"
	dtSecretNoP  = "X4TfmiAczR-m9ZiDkECzvtWmUH80jz_SDC84mlruWzA2Nn5m-qzb2ppTar-XXQ34"
	dtCorpA      = "ding5f3e2a7c9b1d4e60"
)

type sims struct {
	zzd *zzdsim.Server
	dt  *dingtalksim.Server
}

// withSimulators mounts both simulators and configures the upstreams "zzd"
// and "dingtalk" (then the fake "dev" one is gone). dtApp picks the DingTalk
// app (its permissions differ).
func withSimulators(s *sims, embed bool, dtApp, dtSecret string) envOption {
	return func(e *env) {
		t := e.t
		u, _ := url.Parse(e.cfg.Issuer)
		var err error
		s.zzd, err = zzdsim.New(zzdsim.Options{Apps: map[string]zzdsim.App{
			zzdAppCode: {AppKey: zzdAppKey, AppSecret: zzdAppSecret, CallbackDomains: []string{u.Hostname()}, ScanOrgAccess: true},
		}})
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
			AppCode: zzdAppCode, AppKey: zzdAppKey, AppSecret: zzdAppSecret,
			Embed: embed, Enrich: true, AllowedTenants: []int64{196729, 12371},
		}, e.ts.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := dingtalk.New(dingtalk.Config{
			LoginHost: e.cfg.Issuer + "/sim/dt", APIHost: e.cfg.Issuer + "/sim/dt", OAPIHost: e.cfg.Issuer + "/sim/dt",
			ClientID: dtApp, ClientSecret: dtSecret, CorpID: dtCorpA,
		}, e.ts.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Upstreams = []idp.UpstreamConfig{
			{ID: "zzd", Name: "浙政钉", Provider: zp, Claims: map[string]string{"email": "{{.account}}@example.gov.cn"}},
			{ID: "dingtalk", Name: "钉钉", Provider: dp},
		}
	}
}

// newSimEnv is an env on the simulators with apps for each upstream and
// one for both.
func newSimEnv(t *testing.T, embed bool, dtApp, dtSecret string) (*env, *sims) {
	s := &sims{}
	e := newEnv(t, backends()[0].open(t), withSimulators(s, embed, dtApp, dtSecret))
	e.addClient(storage.Client{ID: "zzdapp", RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"}}, testSecret)
	e.addClient(storage.Client{ID: "dtapp", RedirectURIs: []string{testRedirect}, Upstreams: []string{"dingtalk"}}, testSecret)
	return e, s
}

var (
	reAttr = func(name string) *regexp.Regexp { return regexp.MustCompile(name + `="([^"]*)"`) }
)

// scanAs starts a login at authURL in b and scans, on the simulator's QR
// page, as the person whose data attribute (data-account-id for 浙政钉,
// data-union-id for DingTalk) is person. It follows the embedded QR too.
// It returns the last response and its body.
func scanAs(t *testing.T, b *browser, authURL, person string) (*http.Response, string) {
	t.Helper()
	pick := func(page string) string {
		t.Helper()
		m := regexp.MustCompile(`href="([^"]*)" data-(?:account|union)-id="` + regexp.QuoteMeta(person) + `"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("%s is not on the QR page: %.800s", person, page)
		}
		return html.UnescapeString(m[1])
	}
	resp, page := b.get(authURL)
	if resp.StatusCode != http.StatusOK {
		return resp, page
	}
	if m := reAttr(`id="qr-frame" title="[^"]*" src`).FindStringSubmatch(page); m != nil { // our embedded QR page
		frame := html.UnescapeString(m[1])
		callback := html.UnescapeString(reAttr("data-callback").FindStringSubmatch(page)[1])
		state := html.UnescapeString(reAttr("data-state").FindStringSubmatch(page)[1])
		fr, qr := b.get(frame)
		link, _ := fr.Request.URL.Parse(pick(qr))
		_, posted := b.get(link.String())
		code := regexp.MustCompile(`postMessage\(\{code: "([0-9a-f]+)"`).FindStringSubmatch(posted)
		if code == nil {
			t.Fatalf("the framed QR posted no code: %.400s", posted)
		}
		// As embed.js does: the callback may carry a query already.
		cb, _ := url.Parse(callback)
		cq := cb.Query()
		cq.Set("code", code[1])
		cq.Set("state", state)
		cb.RawQuery = cq.Encode()
		return b.get(cb.String())
	}
	link, _ := resp.Request.URL.Parse(pick(page))
	return b.get(link.String())
}

// simLogin logs in through the simulators and verifies the ID token.
func simLogin(t *testing.T, app *rp, b *browser, person string) *login {
	t.Helper()
	v := oauth2.GenerateVerifier()
	resp, body := scanAs(t, b, app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), person)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("login as %s: %d %q %.400s", person, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	tok, err := app.conf.Exchange(app.ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return app.verify(tok)
}

func wantClaims(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if w == nil {
			if v, ok := got[k]; ok {
				t.Errorf("claim %s = %#v, want none", k, v)
			}
			continue
		}
		if ws, ok := w.([]string); ok {
			if !slices.Equal(strs(got[k]), ws) {
				t.Errorf("claim %s = %#v, want %v", k, got[k], ws)
			}
			continue
		}
		if got[k] != w {
			t.Errorf("claim %s = %#v, want %#v", k, got[k], w)
		}
	}
}

// TestZhezhengdingLogin: full-page and embedded 浙政钉 logins end with a
// verified ID token carrying the mapped claims (issue 3).
func TestZhezhengdingLogin(t *testing.T) {
	for _, embed := range []bool{false, true} {
		name := map[bool]string{false: "full page", true: "embedded"}[embed]
		t.Run(name, func(t *testing.T) {
			e, _ := newSimEnv(t, embed, dtAppMain, dtSecretMain)
			app := e.rp("zzdapp", testSecret)
			l := simLogin(t, app, e.browser(), "71453920")
			wantClaims(t, l.claims, map[string]any{
				"sub": "zzd_71453920", "name": "张伟", "preferred_username": "zhangwei.sj",
				"employee_code": "GE_15c0f83f6f32cd110ddd43eb2b4759e2", "account_id": "71453920",
				"tenant_id": "196729", "email": "zhangwei.sj@example.gov.cn", "email_verified": true,
				"groups": []string{"数据资源处", "数字化改革工作专班"}, // main job first, every position (issue 15 item 3)
			})
			if s, _ := l.claims["tenant_name"].(string); s == "" {
				t.Error("no tenant_name")
			}
			// The super-admin has no employeeCode, and logs in all the same.
			admin := simLogin(t, app, e.browser(), "100135")
			wantClaims(t, admin.claims, map[string]any{"sub": "zzd_100135", "name": "周俊", "employee_code": nil, "tenant_id": "12371"})
		})
	}
}

// TestDingTalkLogin: a member gets org e-mail, job number and department
// groups; non-members, inactive accounts and external contacts are refused
// with a clear page and no user (issue 4).
func TestDingTalkLogin(t *testing.T) {
	e, _ := newSimEnv(t, false, dtAppMain, dtSecretMain)
	app := e.rp("dtapp", testSecret, "openid", "profile", "email", "phone", "groups")
	l := simLogin(t, app, e.browser(), "QY7vA9rRRxK4nQcn6zdha8MiEiE")
	wantClaims(t, l.claims, map[string]any{
		"sub": "dingtalk_QY7vA9rRRxK4nQcn6zdha8MiEiE", "name": "张三", "preferred_username": "zhangsan",
		"email": "zhangsan@hzdemo.com.cn", "job_number": "HZ0001", "corp_id": dtCorpA, "userid": "zhangsan",
		"groups": []string{"平台研发部"},
	})
	for _, c := range []struct{ name, person string }{
		{"not in the organisation", "wcStM1PTr2q6y7fOUTj10i8iEiE"},
		{"inactive account", "x98Qkxy2A27F7ncYsAp71jziEiE"},
		{"external contact", "EgEb0BWO7MdCQntBy8az9cDiEiE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := e.store.ListUsers(t.Context(), storage.UserFilter{})
			resp, body := scanAs(t, e.browser(), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), c.person)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "无权登录") {
				t.Fatalf("%d %.300s", resp.StatusCode, body)
			}
			if after, _ := e.store.ListUsers(t.Context(), storage.UserFilter{}); len(after) != len(before) {
				t.Error("a refused login created a user")
			}
		})
	}
}

// TestUpstreamsTogether: one deployment with 浙政钉 and DingTalk: an app
// allowed both shows the chooser, an app limited to one goes straight
// there, and the same person id in both never collides.
func TestUpstreamsTogether(t *testing.T) {
	e, _ := newSimEnv(t, true, dtAppMain, dtSecretMain)
	resp, page := e.browser().get(e.rp("app", testSecret).conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "upstream=zzd") || !strings.Contains(page, "upstream=dingtalk") || !strings.Contains(page, "测试应用") {
		t.Fatalf("chooser: %d %.500s", resp.StatusCode, page)
	}
	resp, _ = e.browser().get(e.rp("dtapp", testSecret).conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(resp.Request.URL.Path, "/sim/dt/") {
		t.Fatalf("an app limited to DingTalk did not go straight there: %s", resp.Request.URL)
	}
	a := simLogin(t, e.rp("zzdapp", testSecret), e.browser(), "71453920")
	b := simLogin(t, e.rp("dtapp", testSecret), e.browser(), "QY7vA9rRRxK4nQcn6zdha8MiEiE")
	if a.idToken.Subject == b.idToken.Subject || !strings.HasPrefix(a.idToken.Subject, "zzd_") || !strings.HasPrefix(b.idToken.Subject, "dingtalk_") {
		t.Errorf("subjects %q and %q", a.idToken.Subject, b.idToken.Subject)
	}
	// A session from one upstream is not reused for an app limited to the other.
	br := e.browser()
	simLogin(t, e.rp("zzdapp", testSecret), br, "71453920")
	resp, _ = br.get(e.rp("dtapp", testSecret).conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(resp.Request.URL.Path, "/sim/dt/") {
		t.Errorf("a 浙政钉 session logged into a DingTalk-only app: %s", resp.Request.URL)
	}
}

// TestUpstreamErrorPages: what the person sees and the operator reads when
// an upstream fails (issues 3 and 4, "Bad input").
func TestUpstreamErrorPages(t *testing.T) {
	cases := []struct {
		name     string
		dtApp    string
		dtSecret string
		client   string
		person   string
		fault    func(*sims)
		status   int
		page     string
		log      string
	}{
		{"zzd expired scan code", dtAppMain, dtSecretMain, "zzdapp", "71453920", func(s *sims) { s.zzd.Faults().ExpireCodes(true) }, http.StatusBadRequest, "二维码已失效", "240111"},
		{"zzd tenant not allowed", dtAppMain, dtSecretMain, "zzdapp", "90331207", nil, http.StatusForbidden, "无权登录", "50023"},
		{"zzd wrong app secret", dtAppMain, dtSecretMain, "zzdapp", "71453920", func(s *sims) { s.zzd.Faults().BadAuth(true) }, http.StatusServiceUnavailable, "登录服务配置有误", "SignatureDoesNotMatch"},
		{"zzd gateway outage", dtAppMain, dtSecretMain, "zzdapp", "71453920", func(s *sims) { s.zzd.Faults().ServerError(true) }, http.StatusServiceUnavailable, "暂时无法登录", "502"},
		{"dingtalk missing permission", dtAppNoPerm, dtSecretNoP, "dtapp", "QY7vA9rRRxK4nQcn6zdha8MiEiE", nil, http.StatusServiceUnavailable, "登录服务配置有误", "Contact.User.Read"},
		{"dingtalk bad secret", dtAppMain, "wrong-secret", "dtapp", "QY7vA9rRRxK4nQcn6zdha8MiEiE", nil, http.StatusServiceUnavailable, "登录服务配置有误", "invalidClientIdOrSecret"},
		{"dingtalk outage", dtAppMain, dtSecretMain, "dtapp", "QY7vA9rRRxK4nQcn6zdha8MiEiE", func(s *sims) { s.dt.Faults().ServerError(true) }, http.StatusServiceUnavailable, "暂时无法登录", "500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, s := newSimEnv(t, false, c.dtApp, c.dtSecret)
			if c.fault != nil {
				c.fault(s)
			}
			app := e.rp(c.client, testSecret)
			resp, body := scanAs(t, e.browser(), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), c.person)
			if resp.StatusCode != c.status || !strings.Contains(body, c.page) {
				t.Fatalf("%d %.400s", resp.StatusCode, body)
			}
			if users, _ := e.store.ListUsers(t.Context(), storage.UserFilter{}); len(users) != 0 {
				t.Errorf("a failed login created %d users", len(users))
			}
			logs := e.logs.String()
			if !strings.Contains(logs, c.log) {
				t.Errorf("operator log lacks %q:\n%s", c.log, logs)
			}
			for _, secret := range []string{zzdAppSecret, dtSecretMain, dtSecretNoP} {
				if strings.Contains(logs, secret) {
					t.Error("a log line holds an upstream secret")
				}
			}
		})
	}
}
