package zzdsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/simkit"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// testTime is the clock of the signature test vectors.
var testTime = time.Date(2024, 1, 1, 12, 0, 0, 0, zhezhengding.Shanghai())

const (
	appCode     = "dingoidc_dingoa"
	key         = "testkey" // the vectors' pair
	secret      = "testsecret"
	inKey       = "dingoidc-InApp01"
	inSecret    = "Gg7MJ8dMkEqY6raDhRYSL0md3JVjARVBXEc49UEX"
	otherCode   = "other_dingoa"
	otherKey    = "other-Key00001"
	otherSecret = "ybU4Bm7VMRFfHVs1PPthaQrTiIMcedk70A82eIhx"
	callback    = "https://sso.example.gov.cn/callback"

	// Fixture accounts.
	zhangWei   = 71453920 // employee: a main and an adjunct position
	superAdmin = 100135   // no employeeCode
	yangLei    = 90331207 // with avatar
	liuYang    = 82019102 // inactive employee record

	zhangWeiCode = "GE_15c0f83f6f32cd110ddd43eb2b4759e2"
)

var (
	hex40RE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	tokenRE = regexp.MustCompile(`^app_[0-9a-f]{32}$`)
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t      *testing.T
	sim    *Server
	srv    *httptest.Server
	clock  *clock
	faults *simkit.Faults

	nonceSeq atomic.Uint32
}

// newEnv serves a simulator with two apps (the first with an in-app
// pair) on httptest, its clock at testTime.
func newEnv(t *testing.T, mutate ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: testTime}, faults: new(simkit.Faults)}
	opts := Options{
		Apps: map[string]App{
			appCode: {
				AppKey: key, AppSecret: secret,
				CallbackDomains: []string{"SSO.example.gov.cn", "127.0.0.1:8080"},
				InAppKey:        inKey, InAppSecret: inSecret,
			},
			otherCode: {AppKey: otherKey, AppSecret: otherSecret, CallbackDomains: []string{"https://other.example.gov.cn/"}},
		},
		Now:    e.clock.Now,
		Faults: e.faults,
	}
	for _, m := range mutate {
		m(&opts)
	}
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim)
	t.Cleanup(e.srv.Close)
	return e
}

// get fetches a login-host URL (relative to the server, or absolute)
// without following redirects.
func (e *env) get(target string) (*http.Response, string) {
	e.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = e.srv.URL + target
	}
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, target, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (*http.Response, string) {
	e.t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// gatewayReq is one API call; zero fields get working defaults.
type gatewayReq struct {
	method, path string
	params       url.Values
	key, secret  string        // default the scan pair
	skew         time.Duration // signing time minus the simulator's clock
	ts, nonce    string        // override the computed headers
	sig          string        // override the signature
	query        bool          // POST: put the parameters in the URL instead of the body
	header       func(http.Header)
	ctx          context.Context
}

// ans is any answer of the API host.
type ans struct {
	status       int
	raw          string
	Success      bool   `json:"success"`
	Code         string `json:"Code"`
	Message      string `json:"Message"`
	ErrorCode    string `json:"errorCode"`
	ErrorMsg     string `json:"errorMsg"`
	RequestID    string `json:"_RequestId"`
	BizErrorCode string `json:"bizErrorCode"`
	Content      *struct {
		Success         bool            `json:"success"`
		Data            json.RawMessage `json:"data"`
		RequestID       string          `json:"requestId"`
		ResponseMessage string          `json:"responseMessage"`
		ResponseCode    string          `json:"responseCode"`
		BizErrorCode    string          `json:"bizErrorCode"`
	} `json:"content"`
}

func (e *env) call(r gatewayReq) ans {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.key == "" {
		r.key = key
	}
	if r.secret == "" {
		r.secret = secret
	}
	at := e.clock.Now().Add(r.skew)
	if r.ts == "" {
		r.ts = zhezhengding.Timestamp(at)
	}
	if r.nonce == "" {
		// The clock stands still: a counter, not zhezhengding.Nonce's 4
		// random digits, keeps the nonces unique.
		r.nonce = fmt.Sprintf("%013d%04d", at.UnixMilli(), e.nonceSeq.Add(1)%10000)
	}
	if r.sig == "" {
		r.sig = zhezhengding.Sign(r.secret, r.method, r.ts, r.nonce, r.path, r.params)
	}
	target := e.srv.URL + r.path
	var body io.Reader
	if r.method == http.MethodGet || r.query {
		if len(r.params) > 0 {
			target += "?" + r.params.Encode()
		}
	} else {
		body = strings.NewReader(r.params.Encode())
	}
	ctx := r.ctx
	if ctx == nil {
		ctx = e.t.Context()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	}
	req.Header.Set(zhezhengding.HeaderAPIKey, r.key)
	req.Header.Set(zhezhengding.HeaderTimestamp, r.ts)
	req.Header.Set(zhezhengding.HeaderVersion, zhezhengding.SignatureVersion)
	req.Header.Set(zhezhengding.HeaderNonce, r.nonce)
	req.Header.Set(zhezhengding.HeaderSignature, r.sig)
	if r.header != nil {
		r.header(req.Header)
	}
	resp, raw := e.do(req)
	a := ans{status: resp.StatusCode, raw: raw}
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			e.t.Errorf("%s %s: Content-Type %q", r.method, r.path, ct)
		}
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", r.method, r.path, err, raw)
		}
	}
	return a
}

// ok checks a success envelope and decodes content.data into v.
func (a ans) ok(t *testing.T, v any) {
	t.Helper()
	if !a.Success || a.Content == nil || !a.Content.Success || a.Content.ResponseCode != "0" ||
		a.Content.ResponseMessage != "OK" || a.Content.BizErrorCode != "0" || a.BizErrorCode != "0" || a.Content.RequestID == "" {
		t.Fatalf("want success, got HTTP %d %s", a.status, a.raw)
	}
	if v != nil {
		if err := json.Unmarshal(a.Content.Data, v); err != nil {
			t.Fatalf("data: %v\n%s", err, a.raw)
		}
	}
}

// biz checks a business error envelope.
func (a ans) biz(t *testing.T, code, msg string) {
	t.Helper()
	if a.status != http.StatusOK || !a.Success || a.Content == nil || a.Content.Success ||
		a.Content.ResponseCode != code || a.Content.BizErrorCode != code || a.BizErrorCode != code ||
		a.Content.Data != nil || a.Content.RequestID == "" || (msg != "" && a.Content.ResponseMessage != msg) {
		t.Fatalf("want business error %s %q, got HTTP %d %s", code, msg, a.status, a.raw)
	}
}

// gateway checks a gateway error body: HTTP 200, the superset shape, no
// content.
func (a ans) gateway(t *testing.T, code, msg string) {
	t.Helper()
	if a.status != http.StatusOK || a.Success || a.Content != nil || a.Code != code || a.Message != msg ||
		a.ErrorCode != code || a.ErrorMsg != msg || a.BizErrorCode != code || a.RequestID == "" {
		t.Fatalf("want gateway error %s %s, got HTTP %d %s", code, msg, a.status, a.raw)
	}
	var keys map[string]any
	_ = json.Unmarshal([]byte(a.raw), &keys)
	if len(keys) != 7 {
		t.Errorf("gateway error has keys %v, want the 7 of the superset", keys)
	}
}

// token gets the app token of a pair.
func (e *env) token(key, secret string) string {
	e.t.Helper()
	var d struct {
		AccessToken string `json:"accessToken"`
	}
	e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", key: key, secret: secret}).ok(e.t, &d)
	return d.AccessToken
}

// scan approves a full-page login of app as account and returns the code.
func (e *env) scan(app string, account int64) string {
	e.t.Helper()
	q := authQuery(app, callback, "s1", false)
	q.Set("account", strconv.FormatInt(account, 10))
	resp, body := e.get("/simulator/approve?" + q.Encode())
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("approve: HTTP %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u.Query().Get("code")
}

// userByCode redeems a scan code with the scan pair.
func (e *env) userByCode(token, code string) ans {
	e.t.Helper()
	return e.call(gatewayReq{path: "/rpc/oauth2/getuserinfo_bycode.json", params: url.Values{"access_token": {token}, "code": {code}}})
}

func authQuery(app, redirect, state string, embed bool) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {app}, "redirect_uri": {redirect},
		"scope": {"get_user_info"}, "authType": {"QRCODE"},
	}
	if embed {
		q.Set("embedMode", "true")
	}
	if state != "" {
		q.Set("state", state)
	}
	return q
}

func TestZhezhengdingSignatureVectors(t *testing.T) {
	const ts, nonce = "2024-01-01T12:00:00.000+08:00", "17040816000001234"
	tests := []struct {
		name    string
		method  string
		path    string
		params  url.Values
		sig     string
		wantBiz string // "" for success
	}{
		{
			name: "getuserinfo_bycode", method: http.MethodPost, path: "/rpc/oauth2/getuserinfo_bycode.json",
			params: url.Values{"access_token": {"app_0123456789abcdef0123456789abcdef"}, "code": {"4fa4fdd047db4e5c9c06335c6e6a9a000c0f8f01"}},
			sig:    "Z+ydcH3XTVPWgvQ+CW+jVbr8sR9O4sa/MzJ6t22//Z8=",
			// Past the gateway: the token is simply unknown here.
			wantBiz: "240133",
		},
		{
			name: "gettoken with params", method: http.MethodGet, path: "/gettoken.json",
			params: url.Values{"appkey": {"testkey"}, "appsecret": {"testsecret"}},
			sig:    "JYXINAeEVdvwlSnqYRHagpFAo/4nMky9yUeltV1aQ+Y=",
		},
		{
			name: "gettoken without params", method: http.MethodGet, path: "/gettoken.json",
			sig: "yLKcA/JylOVhfyponaMPoOhd0UbPmKVgQb9yg79kXmc=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t) // fresh: the vectors share a nonce
			a := e.call(gatewayReq{method: tt.method, path: tt.path, params: tt.params, ts: ts, nonce: nonce, sig: tt.sig})
			if tt.wantBiz != "" {
				a.biz(t, tt.wantBiz, "应用accessToken失效或不存在")
				return
			}
			var d struct {
				AccessToken string `json:"accessToken"`
			}
			a.ok(t, &d)
			if !tokenRE.MatchString(d.AccessToken) {
				t.Errorf("accessToken %q", d.AccessToken)
			}
		})
	}
}

func TestZhezhengdingLogin(t *testing.T) {
	tests := []struct {
		name         string
		query        url.Values
		autoApprove  int64
		noPermission bool
		embed        bool
		wantPrefix   string // of the Location
		wantState    string // "" when absent
		omitOption   bool   // Options.OmitEmbedState
		omitParam    bool   // omit_state=1 on the approval
	}{
		{name: "full page with state", query: authQuery(appCode, callback, "st-1/ä", false), wantPrefix: callback + "?code=", wantState: "st-1/ä"},
		{name: "full page without state", query: authQuery(appCode, callback, "", false), wantPrefix: callback + "?code="},
		{name: "callback with a query and a port", query: authQuery(appCode, "http://127.0.0.1:8080/cb?x=1", "s", false), wantPrefix: "http://127.0.0.1:8080/cb?x=1&code=", wantState: "s"},
		{name: "domain case-insensitive, any port", query: authQuery(appCode, "https://sso.EXAMPLE.gov.cn:8443/cb", "s", false), wantPrefix: "https://sso.EXAMPLE.gov.cn:8443/cb?code=", wantState: "s"},
		{name: "domain given as a URL", query: authQuery(otherCode, "https://other.example.gov.cn/cb", "s", false), wantPrefix: "https://other.example.gov.cn/cb?code=", wantState: "s"},
		{name: "embedded with state", query: authQuery(appCode, callback, "st-2", true), embed: true, wantState: "st-2"},
		{name: "embedded without state", query: authQuery(appCode, callback, "", true), embed: true},
		{name: "embedded, state left out (option)", query: authQuery(appCode, callback, "st-5", true), embed: true, omitOption: true},
		{name: "embedded, state left out (approval)", query: authQuery(appCode, callback, "st-6", true), embed: true, omitParam: true},
		{name: "full page keeps its state with the option", query: authQuery(appCode, callback, "st-7", false), omitOption: true, wantPrefix: callback + "?code=", wantState: "st-7"},
		{name: "auto-approve full page", query: authQuery(appCode, callback, "st-3", false), autoApprove: zhangWei, wantPrefix: callback + "?code=", wantState: "st-3"},
		{name: "auto-approve embedded", query: authQuery(appCode, callback, "st-4", true), autoApprove: zhangWei, embed: true, wantState: "st-4"},
		{name: "unknown app", query: authQuery("nobody_dingoa", callback, "s", false), noPermission: true},
		{name: "app key instead of app code", query: authQuery(key, callback, "s", false), noPermission: true},
		{name: "foreign redirect domain", query: authQuery(appCode, "https://evil.example.com/cb", "s", false), noPermission: true},
		{name: "subdomain of a callback domain", query: authQuery(appCode, "https://x.sso.example.gov.cn/cb", "s", false), noPermission: true},
		{name: "another app's domain", query: authQuery(appCode, "https://other.example.gov.cn/cb", "s", false), noPermission: true},
		{name: "wrong port of a host:port domain", query: authQuery(appCode, "http://127.0.0.1:9999/cb", "s", false), noPermission: true},
		{name: "non-http redirect", query: authQuery(appCode, "javascript://sso.example.gov.cn/%0aalert(1)", "s", false), noPermission: true},
		{name: "missing scope", query: func() url.Values {
			q := authQuery(appCode, callback, "s", false)
			q.Del("scope")
			return q
		}(), noPermission: true},
		{name: "auto-approve does not bypass checks", query: authQuery(appCode, "https://evil.example.com/cb", "s", false), autoApprove: zhangWei, noPermission: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.AutoApprove, o.OmitEmbedState = tt.autoApprove, tt.omitOption })
			authURL := e.srv.URL + "/oauth2/auth.htm?" + tt.query.Encode()
			resp, body := e.get(authURL)
			if tt.noPermission {
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" ||
					!strings.Contains(body, "<title>无权限访问</title>") || !strings.Contains(body, ">无权限访问<") {
					t.Fatalf("want 无权限访问, got HTTP %d %s", resp.StatusCode, body)
				}
				return
			}
			if tt.autoApprove == 0 {
				// The QR page: a fake QR and a link per test person.
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"`) {
					t.Fatalf("QR page: HTTP %d %s", resp.StatusCode, body)
				}
				if strings.Contains(body, "src=") || strings.Contains(body, "<link") {
					t.Error("QR page loads external assets")
				}
				m := regexp.MustCompile(`href="([^"]+)" data-account-id="` + strconv.Itoa(zhangWei) + `"`).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no link for account %d:\n%s", zhangWei, body)
				}
				base, _ := url.Parse(authURL)
				link, err := base.Parse(html.UnescapeString(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				if tt.omitParam {
					link.RawQuery += "&omit_state=1"
				}
				resp, body = e.get(link.String())
			}
			var code string
			if tt.embed {
				m := regexp.MustCompile(`window\.parent\.postMessage\(\{code: "([0-9a-f]{40})"(, state: "([^"]*)")?\}, "\*"\)`).FindStringSubmatch(body)
				if resp.StatusCode != http.StatusOK || m == nil {
					t.Fatalf("want the postMessage page, got HTTP %d %s", resp.StatusCode, body)
				}
				code = m[1]
				if gotState, hasState := m[3], m[2] != ""; gotState != tt.wantState || hasState != (tt.wantState != "") {
					t.Errorf("posted state %q (present %v), want %q", gotState, hasState, tt.wantState)
				}
			} else {
				loc := resp.Header.Get("Location")
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, tt.wantPrefix) {
					t.Fatalf("want 302 to %s…, got HTTP %d %q", tt.wantPrefix, resp.StatusCode, loc)
				}
				u, _ := url.Parse(loc)
				code = u.Query().Get("code")
				if _, has := u.Query()["state"]; u.Query().Get("state") != tt.wantState || has != (tt.wantState != "") {
					t.Errorf("redirect state in %q, want %q", loc, tt.wantState)
				}
			}
			if !hex40RE.MatchString(code) {
				t.Fatalf("code %q is not 40 lowercase hex", code)
			}
			// The code logs in the person who scanned.
			key, secret := key, secret
			if tt.query.Get("client_id") == otherCode {
				key, secret = otherKey, otherSecret
			}
			var u struct {
				AccountID int64 `json:"accountId"`
			}
			e.call(gatewayReq{
				path: "/rpc/oauth2/getuserinfo_bycode.json", key: key, secret: secret,
				params: url.Values{"access_token": {e.token(key, secret)}, "code": {code}},
			}).ok(t, &u)
			if u.AccountID != zhangWei {
				t.Errorf("accountId %d, want %d", u.AccountID, zhangWei)
			}
		})
	}
}

func TestZhezhengdingApproveErrors(t *testing.T) {
	e := newEnv(t)
	q := authQuery(appCode, callback, "s", false)
	tests := []struct {
		name    string
		method  string
		account string
		query   url.Values
		want    int
		body    string
	}{
		{name: "unknown account", method: http.MethodGet, account: "42", query: q, want: http.StatusBadRequest, body: "unknown account"},
		{name: "no account", method: http.MethodGet, query: q, want: http.StatusBadRequest, body: "unknown account"},
		{name: "tampered redirect", method: http.MethodGet, account: strconv.Itoa(zhangWei), query: authQuery(appCode, "https://evil.example.com/", "s", false), want: http.StatusOK, body: "无权限访问"},
		{name: "POST form", method: http.MethodPost, account: strconv.Itoa(zhangWei), query: q, want: http.StatusFound},
		{name: "PUT", method: http.MethodPut, account: strconv.Itoa(zhangWei), query: q, want: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range tt.query {
				form[k] = v
			}
			if tt.account != "" {
				form.Set("account", tt.account)
			}
			var req *http.Request
			if tt.method == http.MethodGet {
				req, _ = http.NewRequestWithContext(t.Context(), tt.method, e.srv.URL+"/simulator/approve?"+form.Encode(), nil)
			} else {
				req, _ = http.NewRequestWithContext(t.Context(), tt.method, e.srv.URL+"/simulator/approve", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, body := e.do(req)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.body) {
				t.Fatalf("HTTP %d %q, want %d containing %q", resp.StatusCode, body, tt.want, tt.body)
			}
		})
	}
}

func TestZhezhengdingUserInfo(t *testing.T) {
	tests := []struct {
		name    string
		account int64
		want    map[string]any
		absent  []string
	}{
		{
			name: "employee", account: zhangWei,
			want: map[string]any{
				"accountId": float64(zhangWei), "account": "zhangwei.sj", "lastName": "张伟", "nickNameCn": "张伟",
				"employeeCode": zhangWeiCode, "tenantUserId": "196729$71453920",
				"realmId": float64(196729), "tenantId": float64(196729), "realmName": "浙江省示范数据管理局",
				"tenantName": "浙江省示范数据管理局", "namespace": "local", "clientId": appCode,
			},
			absent: []string{"avatar", "openid", "email"},
		},
		{
			name: "super-admin has no employeeCode", account: superAdmin,
			want: map[string]any{
				"accountId": float64(superAdmin), "account": "admin12371", "lastName": "周俊",
				"tenantUserId": "12371$100135", "realmId": float64(12371), "tenantId": float64(12371),
				"tenantName": "杭州市模拟区人民政府", "namespace": "local",
			},
			absent: []string{"employeeCode", "avatar", "openid"},
		},
		{
			name: "with avatar", account: yangLei,
			want: map[string]any{
				"accountId": float64(yangLei), "nickNameCn": "磊哥", "tenantName": "宁波市示例教育局",
				"avatar": "https://simulator.invalid/avatar/90331207.png", "tenantUserId": "50023$90331207",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var got map[string]any
			e.userByCode(e.token(key, secret), e.scan(appCode, tt.account)).ok(t, &got)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present: %v", k, got[k])
				}
			}
		})
	}
}

func TestZhezhengdingCodes(t *testing.T) {
	const invalid = "code失效或不存在"
	tests := []struct {
		name string
		run  func(e *env, t *testing.T)
	}{
		{"single use", func(e *env, t *testing.T) {
			tok, code := e.token(key, secret), e.scan(appCode, zhangWei)
			e.userByCode(tok, code).ok(t, nil)
			e.userByCode(tok, code).biz(t, "240111", invalid)
		}},
		{"valid until just before expiry", func(e *env, t *testing.T) {
			code := e.scan(appCode, zhangWei)
			e.clock.Add(5*time.Minute - time.Second)
			e.userByCode(e.token(key, secret), code).ok(t, nil)
		}},
		{"expired", func(e *env, t *testing.T) {
			code := e.scan(appCode, zhangWei)
			e.clock.Add(5 * time.Minute)
			e.userByCode(e.token(key, secret), code).biz(t, "240111", invalid)
		}},
		{"unknown", func(e *env, t *testing.T) {
			e.userByCode(e.token(key, secret), strings.Repeat("ab", 20)).biz(t, "240111", invalid)
		}},
		{"missing", func(e *env, t *testing.T) {
			e.userByCode(e.token(key, secret), "").biz(t, "240111", invalid)
		}},
		{"another app's code is refused and left", func(e *env, t *testing.T) {
			code := e.scan(appCode, zhangWei)
			e.call(gatewayReq{
				path: "/rpc/oauth2/getuserinfo_bycode.json", key: otherKey, secret: otherSecret,
				params: url.Values{"access_token": {e.token(otherKey, otherSecret)}, "code": {code}},
			}).biz(t, "240111", invalid)
			e.userByCode(e.token(key, secret), code).ok(t, nil)
		}},
		{"in-app auth_code is not a scan code", func(e *env, t *testing.T) {
			code := e.inAppCode(inKey, zhangWei)
			e.userByCode(e.token(key, secret), code).biz(t, "240111", invalid)
		}},
		{"custom CodeTTL", func(e *env, t *testing.T) {
			e2 := newEnv(t, func(o *Options) { o.CodeTTL = time.Minute })
			code := e2.scan(appCode, zhangWei)
			e2.clock.Add(time.Minute)
			e2.userByCode(e2.token(key, secret), code).biz(t, "240111", invalid)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(newEnv(t), t) })
	}
}

func TestZhezhengdingToken(t *testing.T) {
	type tokenData struct {
		AccessToken string `json:"accessToken"`
		ExpiresIn   int64  `json:"expiresIn"`
	}
	t.Run("methods and parameters", func(t *testing.T) {
		tests := []struct {
			name   string
			method string
			params url.Values
		}{
			{"GET without parameters", http.MethodGet, nil},
			{"GET with appkey and appsecret", http.MethodGet, url.Values{"appkey": {key}, "appsecret": {secret}}},
			{"POST form with appkey and appsecret", http.MethodPost, url.Values{"appkey": {key}, "appsecret": {secret}}},
			{"POST without parameters", http.MethodPost, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t)
				a := e.call(gatewayReq{method: tt.method, path: "/gettoken.json", params: tt.params})
				var d tokenData
				a.ok(t, &d)
				if !tokenRE.MatchString(d.AccessToken) || d.ExpiresIn != 7200 || !strings.Contains(a.raw, `"expiresIn":7200`) {
					t.Errorf("token answer %s", a.raw)
				}
			})
		}
	})
	t.Run("reused within its lifetime", func(t *testing.T) {
		e := newEnv(t)
		var first, again, other, renewed tokenData
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, &first)
		e.clock.Add(100 * time.Second)
		e.call(gatewayReq{method: http.MethodPost, path: "/gettoken.json"}).ok(t, &again)
		if again.AccessToken != first.AccessToken || again.ExpiresIn != 7100 {
			t.Errorf("repeat call: %+v, want %s with 7100 s left", again, first.AccessToken)
		}
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", key: otherKey, secret: otherSecret}).ok(t, &other)
		if other.AccessToken == first.AccessToken {
			t.Error("two apps share a token")
		}
		e.clock.Add(7100 * time.Second)
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, &renewed)
		if renewed.AccessToken == first.AccessToken || renewed.ExpiresIn != 7200 {
			t.Errorf("after expiry: %+v, want a new token for 7200 s", renewed)
		}
		e.userByCode(first.AccessToken, e.scan(appCode, zhangWei)).biz(t, "240133", "应用accessToken失效或不存在")
		e.userByCode(renewed.AccessToken, e.scan(appCode, zhangWei)).ok(t, nil)
	})
	t.Run("custom TokenTTL", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.TokenTTL = time.Minute })
		var d tokenData
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, &d)
		if d.ExpiresIn != 60 {
			t.Errorf("expiresIn %d, want 60", d.ExpiresIn)
		}
	})
	t.Run("bad tokens", func(t *testing.T) {
		tests := []struct {
			name  string
			token func(e *env) string
		}{
			{"unknown", func(*env) string { return "app_0123456789abcdef0123456789abcdef" }},
			{"missing", func(*env) string { return "" }},
			{"another app's", func(e *env) string { return e.token(otherKey, otherSecret) }},
			{"the in-app pair's", func(e *env) string { return e.token(inKey, inSecret) }},
			{"expired", func(e *env) string {
				tok := e.token(key, secret)
				e.clock.Add(7200 * time.Second)
				return tok
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t)
				code := e.scan(appCode, zhangWei)
				e.userByCode(tt.token(e), code).biz(t, "240133", "应用accessToken失效或不存在")
			})
		}
	})
	t.Run("appkey or appsecret not matching", func(t *testing.T) {
		for _, params := range []url.Values{
			{"appkey": {otherKey}, "appsecret": {secret}},
			{"appkey": {key}, "appsecret": {"wrong"}},
			{"appsecret": {otherSecret}},
		} {
			e := newEnv(t)
			e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", params: params}).gateway(t, "OPF-B001-05-16-0009", "SignatureDoesNotMatch")
		}
	})
}

func TestZhezhengdingGateway(t *testing.T) {
	tokenGet := gatewayReq{method: http.MethodGet, path: "/gettoken.json"}
	with := func(r gatewayReq, f func(*gatewayReq)) gatewayReq { f(&r); return r }
	tests := []struct {
		name     string
		req      gatewayReq
		replay   bool   // send the request twice; the second answer counts
		wantCode string // "" for success
		wantMsg  string
	}{
		{name: "good", req: tokenGet},
		{name: "bad signature", req: with(tokenGet, func(r *gatewayReq) { r.secret = "not-the-secret" }), wantCode: "OPF-B001-05-16-0009", wantMsg: "SignatureDoesNotMatch"},
		{name: "signature over other parameters", req: with(tokenGet, func(r *gatewayReq) {
			r.sig = zhezhengding.Sign(secret, "GET", zhezhengding.Timestamp(testTime), "17040816000001111", "/gettoken.json", url.Values{"x": {"1"}})
			r.nonce = "17040816000001111"
		}), wantCode: "OPF-B001-05-16-0009", wantMsg: "SignatureDoesNotMatch"},
		{name: "signature of another method", req: with(tokenGet, func(r *gatewayReq) {
			r.sig = zhezhengding.Sign(secret, "POST", zhezhengding.Timestamp(testTime), "17040816000002222", "/gettoken.json", nil)
			r.nonce = "17040816000002222"
		}), wantCode: "OPF-B001-05-16-0009", wantMsg: "SignatureDoesNotMatch"},
		{name: "POST parameters in the URL", req: gatewayReq{path: "/rpc/oauth2/getuserinfo_bycode.json", params: url.Values{"access_token": {"app_x"}, "code": {"c"}}, query: true}, wantCode: "OPF-B001-05-16-0009", wantMsg: "SignatureDoesNotMatch"},
		{name: "unknown apiKey", req: with(tokenGet, func(r *gatewayReq) { r.key, r.secret = "nobody-Key0000", "x" }), wantCode: "OPF-B001-05-16-0003", wantMsg: "InvalidAccessKeyId.NotFound"},
		{name: "app code as apiKey", req: with(tokenGet, func(r *gatewayReq) { r.key = appCode }), wantCode: "OPF-B001-05-16-0003", wantMsg: "InvalidAccessKeyId.NotFound"},
		{name: "clock ahead", req: with(tokenGet, func(r *gatewayReq) { r.skew = 5*time.Minute + time.Millisecond }), wantCode: "OPF-B001-05-16-0007", wantMsg: "InvalidTimeStamp.Expired"},
		{name: "clock behind", req: with(tokenGet, func(r *gatewayReq) { r.skew = -6 * time.Minute }), wantCode: "OPF-B001-05-16-0007", wantMsg: "InvalidTimeStamp.Expired"},
		{name: "clock off within the window", req: with(tokenGet, func(r *gatewayReq) { r.skew = 5 * time.Minute }), wantCode: ""},
		{name: "timestamp in UTC", req: with(tokenGet, func(r *gatewayReq) { r.ts = "2024-01-01T04:00:00.000Z" }), wantCode: "OPF-B001-05-16-0006", wantMsg: "InvalidTimeStamp.Format"},
		{name: "timestamp without ms", req: with(tokenGet, func(r *gatewayReq) { r.ts = "2024-01-01T12:00:00+08:00" }), wantCode: "OPF-B001-05-16-0006", wantMsg: "InvalidTimeStamp.Format"},
		{name: "timestamp in ms", req: with(tokenGet, func(r *gatewayReq) { r.ts = "1704081600000" }), wantCode: "OPF-B001-05-16-0006", wantMsg: "InvalidTimeStamp.Format"},
		{name: "replayed nonce", req: tokenGet, replay: true, wantCode: "OPF-B001-05-16-0008", wantMsg: "SignatureNonceUsed"},
		{name: "missing signature", req: with(tokenGet, func(r *gatewayReq) { r.header = func(h http.Header) { h.Del(zhezhengding.HeaderSignature) } }), wantCode: "OPF-B001-05-16-0001", wantMsg: "MissingParameter"},
		{name: "missing apiKey", req: with(tokenGet, func(r *gatewayReq) { r.header = func(h http.Header) { h.Del(zhezhengding.HeaderAPIKey) } }), wantCode: "OPF-B001-05-16-0001", wantMsg: "MissingParameter"},
		{name: "missing version", req: with(tokenGet, func(r *gatewayReq) { r.header = func(h http.Header) { h.Del(zhezhengding.HeaderVersion) } }), wantCode: "OPF-B001-05-16-0001", wantMsg: "MissingParameter"},
		{name: "wrong version", req: with(tokenGet, func(r *gatewayReq) { r.header = func(h http.Header) { h.Set(zhezhengding.HeaderVersion, "2.0") } }), wantCode: "OPF-B001-05-16-0002", wantMsg: "InvalidSignatureVersion"},
		{name: "optional IP and MAC ignored", req: with(tokenGet, func(r *gatewayReq) {
			r.header = func(h http.Header) {
				h.Set(zhezhengding.HeaderIP, "10.0.0.1")
				h.Set(zhezhengding.HeaderMAC, "00:11:22:33:44:55")
			}
		})},
		{name: "GET on a POST API", req: gatewayReq{method: http.MethodGet, path: "/rpc/oauth2/getuserinfo_bycode.json"}, wantCode: "OPF-B001-05-16-0004", wantMsg: "UnsupportedHTTPMethod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := tt.req
			if tt.replay {
				r.nonce = "17040816000009876"
				e.call(r).ok(t, nil)
				e.clock.Add(time.Minute) // a new timestamp does not refresh the nonce
			}
			a := e.call(r)
			if tt.wantCode == "" {
				a.ok(t, nil)
				return
			}
			a.gateway(t, tt.wantCode, tt.wantMsg)
		})
	}
	t.Run("nonce is per apiKey", func(t *testing.T) {
		e := newEnv(t)
		nonce := "17040816000009876"
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", nonce: nonce}).ok(t, nil)
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", nonce: nonce, key: otherKey, secret: otherSecret}).ok(t, nil)
	})
	t.Run("a refused request does not burn its nonce", func(t *testing.T) {
		e := newEnv(t)
		nonce := "17040816000009876"
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", nonce: nonce, secret: "wrong"}).gateway(t, "OPF-B001-05-16-0009", "SignatureDoesNotMatch")
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", nonce: nonce}).ok(t, nil)
	})
	t.Run("custom ClockWindow", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.ClockWindow = time.Second })
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json", skew: 2 * time.Second}).gateway(t, "OPF-B001-05-16-0007", "InvalidTimeStamp.Expired")
	})
	t.Run("behind a path prefix", func(t *testing.T) {
		e := newEnv(t)
		mux := http.NewServeMux()
		mux.Handle("/zzd/", http.StripPrefix("/zzd", e.sim))
		srv := httptest.NewServer(mux)
		defer srv.Close()
		for i, signed := range []string{"/gettoken.json", "/zzd/gettoken.json"} {
			ts, nonce := zhezhengding.Timestamp(e.clock.Now()), "170408160000098"+strconv.Itoa(10+i)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/zzd/gettoken.json", nil)
			req.Header.Set(zhezhengding.HeaderAPIKey, key)
			req.Header.Set(zhezhengding.HeaderTimestamp, ts)
			req.Header.Set(zhezhengding.HeaderVersion, "1.0")
			req.Header.Set(zhezhengding.HeaderNonce, nonce)
			req.Header.Set(zhezhengding.HeaderSignature, zhezhengding.Sign(secret, "GET", ts, nonce, signed, nil))
			_, body := e.do(req)
			if !strings.HasPrefix(body, `{"success":true`) {
				t.Errorf("signed %s: %s", signed, body)
			}
		}
	})
}

func TestZhezhengdingFaults(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *env, t *testing.T)
	}{
		{"expire codes", func(e *env, t *testing.T) {
			tok, code := e.token(key, secret), e.scan(appCode, zhangWei)
			e.faults.ExpireCodes(true)
			e.userByCode(tok, code).biz(t, "240111", "code失效或不存在")
			e.call(gatewayReq{
				path: "/rpc/oauth2/dingtalk_app_user.json", key: inKey, secret: inSecret,
				params: url.Values{"access_token": {e.token(inKey, inSecret)}, "auth_code": {e.inAppCode(inKey, zhangWei)}},
			}).biz(t, "240111", "code失效或不存在")
			e.faults.ExpireCodes(false)
			e.userByCode(tok, code).ok(t, nil)
		}},
		{"bad auth", func(e *env, t *testing.T) {
			e.faults.BadAuth(true)
			e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).gateway(t, "OPF-B001-05-16-0009", "SignatureDoesNotMatch")
			e.call(gatewayReq{path: "/mozi/employee/getEmployeeByCode", key: inKey, secret: inSecret, params: url.Values{"tenantId": {"196729"}, "employeeCode": {zhangWeiCode}}}).
				gateway(t, "OPF-B001-05-16-0009", "SignatureDoesNotMatch")
			e.faults.BadAuth(false)
			e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, nil)
		}},
		{"server error", func(e *env, t *testing.T) {
			e.faults.ServerError(true)
			for _, path := range []string{"/gettoken.json", "/rpc/oauth2/getuserinfo_bycode.json", "/mozi/employee/getEmployeeByCode"} {
				a := e.call(gatewayReq{path: path})
				if a.status != http.StatusBadGateway || !strings.Contains(a.raw, "<title>502 Bad Gateway</title>") || !strings.Contains(a.raw, "Tengine") {
					t.Errorf("%s: HTTP %d %s", path, a.status, a.raw)
				}
			}
			// The login host keeps working.
			if resp, _ := e.get("/oauth2/auth.htm?" + authQuery(appCode, callback, "s", false).Encode()); resp.StatusCode != http.StatusOK {
				t.Errorf("QR page: HTTP %d", resp.StatusCode)
			}
			e.faults.ServerError(false)
			e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, nil)
		}},
		{"delay", func(e *env, t *testing.T) {
			e.faults.Delay(80 * time.Millisecond)
			start := time.Now()
			e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, nil)
			if d := time.Since(start); d < 80*time.Millisecond {
				t.Errorf("answered after %v, want at least 80ms", d)
			}
		}},
		{"delay respects the request context", func(e *env, t *testing.T) {
			e.faults.Delay(time.Minute)
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/gettoken.json", nil)
			start := time.Now()
			_, err := http.DefaultClient.Do(req)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want the deadline", err)
			}
			e.faults.Delay(0)
			e.srv.Close() // waits for the handler, which must have given up
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("handler kept sleeping for %v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(newEnv(t), t) })
	}
	t.Run("private faults", func(t *testing.T) {
		sim, err := New(Options{Apps: map[string]App{
			appCode: {AppKey: key, AppSecret: secret, CallbackDomains: []string{"x.example"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		sim.Faults().ServerError(true)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/gettoken.json", nil))
		if rec.Code != http.StatusBadGateway {
			t.Errorf("HTTP %d, want 502", rec.Code)
		}
	})
}

// inAppCode gets an in-app auth_code from the stand-in.
func (e *env) inAppCode(key string, account int64) string {
	e.t.Helper()
	resp, body := e.get("/simulator/inapp?app=" + url.QueryEscape(key) + "&account=" + strconv.FormatInt(account, 10))
	var d struct {
		Code     string `json:"code"`
		AuthCode string `json:"auth_code"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("inapp: HTTP %d %s", resp.StatusCode, body)
	}
	if d.Code != d.AuthCode || !hex40RE.MatchString(d.Code) {
		e.t.Fatalf("inapp: %s", body)
	}
	return d.Code
}

func TestZhezhengdingInApp(t *testing.T) {
	t.Run("login", func(t *testing.T) {
		e := newEnv(t)
		resp, _ := e.get("/simulator/inapp?app=" + inKey + "&account=" + strconv.Itoa(zhangWei))
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Error("no CORS header")
		}
		code := e.inAppCode(inKey, zhangWei)
		tok := e.token(inKey, inSecret)
		call := func(code string) ans {
			return e.call(gatewayReq{
				path: "/rpc/oauth2/dingtalk_app_user.json", key: inKey, secret: inSecret,
				params: url.Values{"access_token": {tok}, "auth_code": {code}},
			})
		}
		var u map[string]any
		call(code).ok(t, &u)
		if u["accountId"] != float64(zhangWei) || u["employeeCode"] != zhangWeiCode || u["tenantUserId"] != "196729$71453920" ||
			u["namespace"] != "local" || u["clientId"] != appCode || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(u["openid"].(string)) {
			t.Errorf("in-app user %v", u)
		}
		call(code).biz(t, "240111", "code失效或不存在")
		// The openid is stable for the pair and the person.
		var again map[string]any
		call(e.inAppCode(inKey, zhangWei)).ok(t, &again)
		if again["openid"] != u["openid"] {
			t.Errorf("openid changed: %v, %v", u["openid"], again["openid"])
		}
	})
	t.Run("expires after five minutes", func(t *testing.T) {
		e := newEnv(t)
		code := e.inAppCode(inKey, zhangWei)
		e.clock.Add(5 * time.Minute)
		e.call(gatewayReq{
			path: "/rpc/oauth2/dingtalk_app_user.json", key: inKey, secret: inSecret,
			params: url.Values{"access_token": {e.token(inKey, inSecret)}, "auth_code": {code}},
		}).biz(t, "240111", "code失效或不存在")
	})
	t.Run("scan pair refused", func(t *testing.T) {
		e := newEnv(t)
		e.call(gatewayReq{
			path:   "/rpc/oauth2/dingtalk_app_user.json",
			params: url.Values{"access_token": {e.token(key, secret)}, "auth_code": {e.inAppCode(inKey, zhangWei)}},
		}).biz(t, "240111", "code失效或不存在")
	})
	t.Run("stand-in errors", func(t *testing.T) {
		tests := []struct {
			name, query string
		}{
			{"scan AppKey", "app=" + key + "&account=" + strconv.Itoa(zhangWei)},
			{"unknown AppKey", "app=nobody&account=" + strconv.Itoa(zhangWei)},
			{"unknown account", "app=" + inKey + "&account=1"},
			{"no account and no auto-approve", "app=" + inKey},
		}
		e := newEnv(t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := e.get("/simulator/inapp?" + tt.query)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
					t.Errorf("HTTP %d %s", resp.StatusCode, body)
				}
			})
		}
	})
	t.Run("auto-approve account by default", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.AutoApprove = superAdmin })
		resp, body := e.get("/simulator/inapp?app=" + inKey)
		var d struct{ Code string }
		_ = json.Unmarshal([]byte(body), &d)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
		var u map[string]any
		e.call(gatewayReq{
			path: "/rpc/oauth2/dingtalk_app_user.json", key: inKey, secret: inSecret,
			params: url.Values{"access_token": {e.token(inKey, inSecret)}, "auth_code": {d.Code}},
		}).ok(t, &u)
		if _, has := u["employeeCode"]; u["accountId"] != float64(superAdmin) || has {
			t.Errorf("user %v", u)
		}
	})
}

func TestZhezhengdingEnrichment(t *testing.T) {
	const (
		tenant      = "196729"
		dataOrg     = "GO_5ebe2d4c74ea17a449535d4f242f28b4" // 数据资源处
		unitOrg     = "GO_e4ce172ce614ed6aad4165d043736dcc" // 浙江省示范数据管理局
		taskOrg     = "GO_51a2e417739e9e518a179de06015799b" // 数字化改革工作专班
		liuYangCode = "GE_aff3cb9a85fb4d9fca206566308ddd4a"
	)
	positions := "/mozi/employee/listEmployeePositionsByEmployeeCode"
	orgs := "/mozi/organization/listOrganizationsByCodes"
	employee := "/mozi/employee/getEmployeeByCode"
	tests := []struct {
		name    string
		path    string
		params  url.Values
		want    []map[string]any // list answers: these fields of each item, in order
		wantOne map[string]any   // object answers
		noData  bool
		wantBiz string
		scan    bool // with the scan-login pair
	}{
		{
			name: "the scan pair is refused", path: positions, scan: true,
			params:  url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}},
			wantBiz: "300037",
		},
		{
			name: "main position by default", path: positions,
			params: url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}},
			want: []map[string]any{{
				"organizationCode": dataOrg, "mainJob": true, "govEmpPosJob": "一级主任科员", "status": "A",
				"employeeCode": zhangWeiCode, "empPosUnitCode": unitOrg, "empPosInnerInstitutionCode": dataOrg,
				"orderInOrganization": float64(3), "empPosFaxNo": "",
			}},
		},
		{
			name: "all positions", path: positions,
			params: url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}, "employeePositionType": {"EMPLOYEE_POSITION_ALL"}},
			want:   []map[string]any{{"organizationCode": dataOrg, "mainJob": true}, {"organizationCode": taskOrg, "mainJob": false, "govEmpPosJob": "专班成员"}},
		},
		{
			name: "adjunct positions", path: positions,
			params: url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}, "employeePositionType": {"EMPLOYEE_POSITION_ADJUNCT"}},
			want:   []map[string]any{{"organizationCode": taskOrg}},
		},
		{
			name: "inactive positions hidden by default", path: positions,
			params: url.Values{"tenantId": {"12371"}, "employeeCode": {liuYangCode}},
			want:   []map[string]any{},
		},
		{
			name: "inactive positions with TOTAL", path: positions,
			params: url.Values{"tenantId": {"12371"}, "employeeCode": {liuYangCode}, "employeePositionStatus": {"TOTAL"}},
			want:   []map[string]any{{"status": "F", "govEmpPosJob": "科员"}},
		},
		{
			name: "positions in another tenant", path: positions,
			params: url.Values{"tenantId": {"12371"}, "employeeCode": {zhangWeiCode}},
			want:   []map[string]any{},
		},
		{name: "positions without tenantId", path: positions, params: url.Values{"employeeCode": {zhangWeiCode}}, wantBiz: "400"},
		{name: "positions with a bad tenantId", path: positions, params: url.Values{"tenantId": {"abc"}, "employeeCode": {zhangWeiCode}}, wantBiz: "400"},
		{name: "positions without employeeCode", path: positions, params: url.Values{"tenantId": {tenant}}, wantBiz: "400"},
		{name: "positions of a bad type", path: positions, params: url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}, "employeePositionType": {"X"}}, wantBiz: "400"},
		{
			name: "organizations by repeated codes", path: orgs,
			params: url.Values{"tenantId": {tenant}, "organizationCodes": {taskOrg, "GO_00000000000000000000000000000000", dataOrg, taskOrg, unitOrg}},
			want: []map[string]any{
				{"organizationCode": taskOrg, "organizationName": "数字化改革工作专班", "parentCode": unitOrg, "parentName": "浙江省示范数据管理局", "typeCode": "GOV_INTERNAL_INSTITUTION", "status": "A", "leaf": true},
				{"organizationCode": dataOrg, "organizationName": "数据资源处"},
				{"organizationCode": unitOrg, "organizationName": "浙江省示范数据管理局", "typeCode": "GOV_UNIT", "typeName": "单位", "leaf": false},
			},
		},
		{
			name: "organizations of another tenant", path: orgs,
			params: url.Values{"tenantId": {"50023"}, "organizationCodes": {dataOrg}},
			want:   []map[string]any{},
		},
		{name: "organizations without codes", path: orgs, params: url.Values{"tenantId": {tenant}}, wantBiz: "400"},
		{name: "organizations without tenantId", path: orgs, params: url.Values{"organizationCodes": {dataOrg}}, wantBiz: "400"},
		{
			name: "employee", path: employee,
			params:  url.Values{"tenantId": {tenant}, "employeeCode": {zhangWeiCode}},
			wantOne: map[string]any{"employeeName": "张伟", "employeeCode": zhangWeiCode, "status": "A", "empGender": "1", "gmtCreate": "2019-10-23 21:42:05"},
		},
		{
			name: "inactive employee", path: employee,
			params:  url.Values{"tenantId": {"12371"}, "employeeCode": {liuYangCode}},
			wantOne: map[string]any{"employeeName": "刘洋", "status": "F", "govEmpRemarks": "已离职"},
		},
		{name: "unknown employee", path: employee, params: url.Values{"tenantId": {tenant}, "employeeCode": {"GE_00000000000000000000000000000000"}}, noData: true},
		{name: "employee in another tenant", path: employee, params: url.Values{"tenantId": {"50023"}, "employeeCode": {zhangWeiCode}}, noData: true},
		{name: "employee without tenantId", path: employee, params: url.Values{"employeeCode": {zhangWeiCode}}, wantBiz: "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			// The enrichment calls need no access_token; one sent is ignored.
			params := url.Values{"access_token": {"app_whatever"}}
			for k, v := range tt.params {
				params[k] = v
			}
			req := gatewayReq{path: tt.path, params: params, key: inKey, secret: inSecret}
			if tt.scan {
				req.key, req.secret = "", ""
			}
			a := e.call(req)
			switch {
			case tt.wantBiz != "":
				a.biz(t, tt.wantBiz, "")
			case tt.noData:
				a.ok(t, nil)
				if a.Content.Data != nil {
					t.Errorf("data %s", a.Content.Data)
				}
			case tt.wantOne != nil:
				var got map[string]any
				a.ok(t, &got)
				for k, v := range tt.wantOne {
					if got[k] != v {
						t.Errorf("%s = %#v, want %#v", k, got[k], v)
					}
				}
			default:
				var got []map[string]any
				a.ok(t, &got)
				if got == nil || len(got) != len(tt.want) {
					t.Fatalf("got %d items, want %d: %s", len(got), len(tt.want), a.raw)
				}
				for i, w := range tt.want {
					for k, v := range w {
						if got[i][k] != v {
							t.Errorf("item %d: %s = %#v, want %#v", i, k, got[i][k], v)
						}
					}
				}
			}
		})
	}
}

func TestZhezhengdingPeopleFixture(t *testing.T) {
	p, err := DefaultPeople()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tenants) < 3 {
		t.Errorf("%d tenants, want at least 3", len(p.Tenants))
	}
	han := regexp.MustCompile(`\p{Han}`)
	var admins, employees int
	for _, a := range p.Accounts {
		if !han.MatchString(a.LastName) {
			t.Errorf("account %d: name %q is not Chinese", a.AccountID, a.LastName)
		}
		if a.EmployeeCode == "" {
			admins++
		} else {
			employees++
		}
	}
	if admins == 0 || employees < 3 || len(p.Positions) == 0 || len(p.Organizations) == 0 {
		t.Errorf("fixture: %d super-admins, %d employees, %d positions, %d organisations", admins, employees, len(p.Positions), len(p.Organizations))
	}
	// A fresh copy each time: changing one leaves the next alone.
	p.Accounts[0].LastName = "changed"
	if q, _ := DefaultPeople(); q.Accounts[0].LastName == "changed" {
		t.Error("DefaultPeople shares its data")
	}

	bad := []struct {
		name, json, want string
	}{
		{"unknown field", `{"tenants":[],"accounts":[],"bogus":1}`, "unknown field"},
		{"no accounts", `{"tenants":[{"tenantId":1,"realmId":1,"name":"t"}]}`, "no accounts"},
		{"every problem at once", `{"tenants":[{"tenantId":1,"realmId":1,"name":"t"}],"accounts":[
			{"accountId":1,"account":"a","lastName":"甲","tenantId":2,"employeeCode":"GE_1"},
			{"accountId":1,"account":"b","lastName":"乙","tenantId":1,"superAdmin":true,"employeeCode":"GE_15c0f83f6f32cd110ddd43eb2b4759e2"}]}`,
			"unknown tenant 2"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePeople([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.name == "every problem at once" {
				for _, w := range []string{"not GE_<32 hex>", "duplicate accountId", "super-admin has no employeeCode"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %v lacks %q", err, w)
					}
				}
			}
		})
	}
}

func TestNewZhezhengdingErrors(t *testing.T) {
	app := App{AppKey: key, AppSecret: secret, CallbackDomains: []string{"x.example"}}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no apps", Options{}, "no apps"},
		{"no secret", Options{Apps: map[string]App{"a": {AppKey: "k", CallbackDomains: []string{"x"}}}}, "key and secret are required"},
		{"no callback domains", Options{Apps: map[string]App{"a": {AppKey: "k", AppSecret: "s"}}}, "no callback domains"},
		{"AppKey used twice", Options{Apps: map[string]App{"a": app, "b": app}}, "used twice"},
		{"in-app key without secret", Options{Apps: map[string]App{"a": {AppKey: "k", AppSecret: "s", CallbackDomains: []string{"x"}, InAppKey: "i"}}}, "key and secret are required"},
		{"unknown auto-approve account", Options{Apps: map[string]App{"a": app}, AutoApprove: 7}, "no account 7"},
		{"bad people", Options{Apps: map[string]App{"a": app}, People: &People{}}, "no accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestZhezhengdingBoundedMemory checks that expired codes and old nonces
// are dropped.
func TestZhezhengdingBoundedMemory(t *testing.T) {
	e := newEnv(t)
	for range 50 {
		e.scan(appCode, zhangWei)
		e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, nil)
	}
	e.clock.Add(21 * time.Minute) // past the codes' TTL and 4×ClockWindow
	e.scan(appCode, zhangWei)
	e.call(gatewayReq{method: http.MethodGet, path: "/gettoken.json"}).ok(t, nil)
	e.sim.mu.Lock()
	defer e.sim.mu.Unlock()
	if n := len(e.sim.codes); n != 1 {
		t.Errorf("%d codes kept, want 1", n)
	}
	if n := len(e.sim.nonces[0]) + len(e.sim.nonces[1]); n != 1 {
		t.Errorf("%d nonces kept, want 1", n)
	}
	if n := len(e.sim.tokens); n != 1 {
		t.Errorf("%d tokens kept, want 1", n)
	}
}

// TestZhezhengdingConcurrent runs logins in parallel (for -race).
func TestZhezhengdingConcurrent(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5 {
				var u struct {
					AccountID int64 `json:"accountId"`
				}
				e.userByCode(e.token(key, secret), e.scan(appCode, yangLei)).ok(t, &u)
				if u.AccountID != yangLei {
					t.Errorf("accountId %d", u.AccountID)
				}
			}
		})
	}
	wg.Wait()
}

// scanOnPage opens a QR page and follows the link of account, returning
// the answer (302 or the postMessage page).
func (e *env) scanOnPage(pageURL string, account int64) (*http.Response, string) {
	e.t.Helper()
	resp, body := e.get(pageURL)
	m := regexp.MustCompile(`href="([^"]+)" data-account-id="` + strconv.FormatInt(account, 10) + `"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		e.t.Fatalf("QR page %s: HTTP %d %s", pageURL, resp.StatusCode, body)
	}
	base, _ := url.Parse(pageURL)
	link, err := base.Parse(html.UnescapeString(m[1]))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.get(link.String())
}

// TestZhezhengdingProviderExchange logs in through the real client,
// upstream/zhezhengding.Provider, against the simulator.
func TestZhezhengdingProviderExchange(t *testing.T) {
	const redirect = "https://sso.example.gov.cn/upstream/zzd/callback"
	req := upstream.LoginRequest{State: "opaque-state_1", RedirectURI: redirect, Locale: "zh-CN"}
	tests := []struct {
		name     string
		callback func(e *env, p *zhezhengding.Provider) url.Values
		fault    func(f *simkit.Faults)
		wantErr  error
		want     map[string]any // attributes
		absent   []string
		wantID   string
		wantAMR  string
	}{
		{
			name: "full page, employee with groups",
			callback: func(e *env, p *zhezhengding.Provider) url.Values {
				loginURL, err := p.LoginURL(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				resp, _ := e.scanOnPage(loginURL, zhangWei)
				u, _ := url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(u.String(), redirect+"?") || u.Query().Get("state") != req.State {
					t.Fatalf("scan: HTTP %d %q", resp.StatusCode, u)
				}
				return u.Query()
			},
			wantID: "71453920", wantAMR: "qr",
			want: map[string]any{"lastName": "张伟", "employeeCode": zhangWeiCode, "tenantId": "196729", "tenantUserId": "196729$71453920", "account": "zhangwei.sj"},
		},
		{
			name: "embedded, super-admin",
			callback: func(e *env, p *zhezhengding.Provider) url.Values {
				frameURL, origin, err := p.FrameURL(t.Context(), req)
				if err != nil || origin != e.srv.URL {
					t.Fatalf("FrameURL: origin %q, %v", origin, err)
				}
				_, body := e.scanOnPage(frameURL, superAdmin)
				m := regexp.MustCompile(`postMessage\(\{code: "([0-9a-f]{40})", state: "([^"]*)"\}, "\*"\)`).FindStringSubmatch(body)
				if m == nil || m[2] != req.State {
					t.Fatalf("postMessage page: %s", body)
				}
				return url.Values{"code": {m[1]}, "state": {m[2]}}
			},
			wantID: "100135", wantAMR: "qr",
			want:   map[string]any{"lastName": "周俊", "tenantId": "12371"},
			absent: []string{"employeeCode", "groups"},
		},
		{
			name: "in-app auth_code",
			callback: func(e *env, _ *zhezhengding.Provider) url.Values {
				return url.Values{"auth_code": {e.inAppCode(inKey, yangLei)}}
			},
			wantID: "90331207", wantAMR: "app",
			want: map[string]any{"lastName": "杨磊", "avatar": "https://simulator.invalid/avatar/90331207.png"},
		},
		{
			name: "code used twice",
			callback: func(e *env, p *zhezhengding.Provider) url.Values {
				cb := url.Values{"code": {e.scan(appCode, zhangWei)}}
				if _, err := p.Exchange(t.Context(), cb, redirect); err != nil {
					t.Fatal(err)
				}
				return cb
			},
			wantErr: upstream.ErrCodeInvalid,
		},
		{
			name: "codes expire",
			callback: func(e *env, _ *zhezhengding.Provider) url.Values {
				return url.Values{"code": {e.scan(appCode, zhangWei)}}
			},
			fault:   func(f *simkit.Faults) { f.ExpireCodes(true) },
			wantErr: upstream.ErrCodeInvalid,
		},
		{
			name: "gateway down",
			callback: func(e *env, _ *zhezhengding.Provider) url.Values {
				return url.Values{"code": {e.scan(appCode, zhangWei)}}
			},
			fault:   func(f *simkit.Faults) { f.ServerError(true) },
			wantErr: upstream.ErrUnavailable,
		},
		{
			name: "signature refused",
			callback: func(e *env, _ *zhezhengding.Provider) url.Values {
				return url.Values{"code": {e.scan(appCode, zhangWei)}}
			},
			fault:   func(f *simkit.Faults) { f.BadAuth(true) },
			wantErr: upstream.ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			p, err := zhezhengding.New(zhezhengding.Config{
				LoginHost: e.srv.URL, APIHost: e.srv.URL, AppCode: appCode,
				AppKey: key, AppSecret: secret, InAppKey: inKey, InAppSecret: inSecret,
				Enrich: true,
			}, e.srv.Client(), nil, e.clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			cb := tt.callback(e, p)
			if tt.fault != nil {
				tt.fault(e.faults)
			}
			id, err := p.Exchange(t.Context(), cb, redirect)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.ExternalID != tt.wantID || len(id.AMR) != 1 || id.AMR[0] != tt.wantAMR {
				t.Errorf("identity %s %v, want %s [%s]", id.ExternalID, id.AMR, tt.wantID, tt.wantAMR)
			}
			for k, v := range tt.want {
				if id.Attributes[k] != v {
					t.Errorf("%s = %#v, want %#v", k, id.Attributes[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := id.Attributes[k]; ok {
					t.Errorf("%s present: %#v", k, v)
				}
			}
			if tt.wantID == "71453920" {
				// The positions API lists the main job unless asked for all.
				if g, _ := id.Attributes["groups"].([]string); len(g) == 0 || g[0] != "数据资源处" {
					t.Errorf("groups %#v", id.Attributes["groups"])
				}
			}
		})
	}
}
