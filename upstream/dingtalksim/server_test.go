package dingtalksim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// Fixture values (testdata/dingtalk_*.json).
const (
	corpA      = "ding5f3e2a7c9b1d4e60" // 杭州演示科技有限公司
	corpB      = "dingc4a81e7f2b96d035" // 宁波示例贸易有限公司
	appMain    = "ding1bq7up081o21ln27" // corp A, Contact.User.Read + mobile
	secMain    = "puyP6Ol_OB3lMGEWMhOthEds21k4rXtbErreyelRIZmqUuS85ATZQzQoHSqy0_bX"
	appNoPerm  = "dingsz8v39719yo1hmml" // corp A, no permissions
	secNoPerm  = "X4TfmiAczR-m9ZiDkECzvtWmUH80jz_SDC84mlruWzA2Nn5m-qzb2ppTar-XXQ34"
	appB       = "ding881rbh98ipm1y6lq" // corp B
	secB       = "vUgXvs_cb60Wy1h03OWGUfYoVaRNNv_aMgZpNakl1I7FhpdNJHYAmANxtq_scPde"
	zhangsan   = "QY7vA9rRRxK4nQcn6zdha8MiEiE" // A member, admin
	lisi       = "p0yR133svQVbWv5xwxwcpARiEiE" // A member "manager4521", no e-mails, no avatar
	wangfang   = "gy1Qyfdeea0RTgWt8iHl62uiEiE" // A and B member
	zhaoliu    = "x98Qkxy2A27F7ncYsAp71jziEiE" // A member, inactive
	sunqi      = "EgEb0BWO7MdCQntBy8az9cDiEiE" // A external contact
	liuyang    = "IW2GN345Nf4tbREJallSSH5iEiE" // A member, two departments
	chenxiao   = "jT5Q7669tp1gWzEFPWYJ2CfiEiE" // B member only
	wushi      = "wcStM1PTr2q6y7fOUTj10i8iEiE" // in no corp
	callback   = "http://127.0.0.1:9999/callback/dingtalk"
	testPeople = 8
)

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a simulator on an httptest server and a client that does not
// follow redirects.
type env struct {
	sim    *Server
	srv    *httptest.Server
	client *http.Client
	clock  *clock
}

func newEnv(t *testing.T, edit func(*Options)) *env {
	t.Helper()
	clock := &clock{t: time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)}
	opts := Options{Now: clock.Now}
	if edit != nil {
		edit(&opts)
	}
	sim, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{sim: sim, srv: srv, client: client, clock: clock}
}

// do sends a request and returns the status, headers and body.
func (e *env) do(t *testing.T, method, path string, hdr http.Header, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// json sends v as a JSON body (GET without body when v is nil) and decodes
// a JSON object answer.
func (e *env) json(t *testing.T, method, path string, hdr http.Header, v any) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Content-Type", "application/json")
	}
	status, h, b := e.do(t, method, path, hdr, body)
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
	}
	return status, m
}

func authQuery(appKey, scope, state string) url.Values {
	return url.Values{
		"redirect_uri":  {callback},
		"response_type": {"code"},
		"client_id":     {appKey},
		"scope":         {scope},
		"state":         {state},
		"prompt":        {"consent"},
	}
}

// scan "scans" as unionID and returns the code from the redirect.
func (e *env) scan(t *testing.T, q url.Values, unionID string) string {
	t.Helper()
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("unionId", unionID)
	status, h, body := e.do(t, "GET", "/simulator/scan?"+q2.Encode(), nil, nil)
	if status != http.StatusFound {
		t.Fatalf("scan: status %d, body %s", status, body)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("authCode")
}

func (e *env) exchange(t *testing.T, appKey, secret, code string) (int, map[string]any) {
	t.Helper()
	return e.json(t, "POST", "/v1.0/oauth2/userAccessToken", nil, map[string]string{
		"clientId": appKey, "clientSecret": secret, "code": code, "grantType": "authorization_code",
	})
}

// login runs scan and exchange for the main app and returns the user token.
func (e *env) login(t *testing.T, appKey, secret, unionID string) map[string]any {
	t.Helper()
	code := e.scan(t, authQuery(appKey, "openid corpid", "s"), unionID)
	status, m := e.exchange(t, appKey, secret, code)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, m)
	}
	return m
}

func (e *env) usersMe(t *testing.T, token string) (int, map[string]any) {
	t.Helper()
	hdr := http.Header{}
	if token != "" {
		hdr.Set("x-acs-dingtalk-access-token", token)
	}
	return e.json(t, "GET", "/v1.0/contact/users/me", hdr, nil)
}

func (e *env) appToken(t *testing.T, appKey, secret string) string {
	t.Helper()
	status, m := e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appKey, "appSecret": secret})
	if status != http.StatusOK {
		t.Fatalf("accessToken: %d %v", status, m)
	}
	return m["accessToken"].(string)
}

// oapi posts body to an oapi path; the answer must be HTTP 200.
func (e *env) oapi(t *testing.T, path, token string, body any) map[string]any {
	t.Helper()
	status, m := e.json(t, "POST", path+"?access_token="+url.QueryEscape(token), nil, body)
	if status != http.StatusOK {
		t.Fatalf("%s: HTTP %d %v", path, status, m)
	}
	if _, ok := m["request_id"].(string); !ok {
		t.Errorf("%s: no request_id in %v", path, m)
	}
	return m
}

func errcode(m map[string]any) string { return fmt.Sprint(m["errcode"]) }

func result(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	if errcode(m) != "0" || m["errmsg"] != "ok" {
		t.Fatalf("want errcode 0, got %v", m)
	}
	r, ok := m["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result in %v", m)
	}
	return r
}

// wantAPIError checks an api.dingtalk.com error answer.
func wantAPIError(t *testing.T, status int, m map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || m["code"] != wantCode {
		t.Fatalf("got %d %v, want %d code %q", status, m, wantStatus, wantCode)
	}
	if id, _ := m["requestid"].(string); id == "" {
		t.Errorf("no lower-case requestid in %v", m)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("no message in %v", m)
	}
}

var scanLink = regexp.MustCompile(`<a href="([^"]+)" data-union-id="([^"]+)">`)

func TestDingTalkApproveFlow(t *testing.T) {
	e := newEnv(t, nil)
	q := authQuery(appMain, "openid corpid", "st-42/+=")
	q.Set("redirect_uri", callback+"?forward_url=https%3A%2F%2Fapp.example%2F")
	q.Set("corpId", corpA)
	status, h, body := e.do(t, "GET", "/oauth2/auth?"+q.Encode(), nil, nil)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("QR page: %d %s", status, h.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"张三", "吴十", "孙七（供应商）", "未加入任何组织", "（未激活）", "杭州演示科技有限公司", "dingoidc 扫码登录"} {
		if !strings.Contains(page, want) {
			t.Errorf("QR page lacks %q", want)
		}
	}
	if strings.Contains(page, "src=\"http") || strings.Contains(page, "<script src") || strings.Contains(page, "<link") {
		t.Error("QR page loads external assets")
	}
	links := map[string]string{}
	for _, m := range scanLink.FindAllStringSubmatch(page, -1) {
		// Links are relative to /oauth2/auth, so the page works under a prefix.
		links[m[2]] = strings.TrimPrefix(html.UnescapeString(m[1]), "..")
	}
	if len(links) != testPeople {
		t.Fatalf("QR page lists %d people, want %d", len(links), testPeople)
	}

	status, h, _ = e.do(t, "GET", links[zhangsan], nil, nil)
	if status != http.StatusFound {
		t.Fatalf("scan: status %d", status)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	got := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != callback {
		t.Errorf("redirected to %s", loc)
	}
	if got.Get("forward_url") != "https://app.example/" {
		t.Errorf("redirect_uri query lost: %s", loc.RawQuery)
	}
	code := got.Get("authCode")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(code) || got.Get("code") != code {
		t.Errorf("authCode %q, code %q: want the same 32 hex", code, got.Get("code"))
	}
	if got.Get("state") != "st-42/+=" {
		t.Errorf("state %q", got.Get("state"))
	}
	if i, j := strings.Index(loc.RawQuery, "authCode="), strings.Index(loc.RawQuery, "&code="); i < 0 || j < i {
		t.Errorf("want authCode then code: %s", loc.RawQuery)
	}

	status, m := e.exchange(t, appMain, secMain, code)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, m)
	}
	if m["expireIn"] != json.Number("7200") || m["corpId"] != corpA {
		t.Errorf("token answer %v: want expireIn 7200, corpId %s", m, corpA)
	}
	if _, ok := m["expiresIn"]; ok {
		t.Error("token answer says expiresIn, DingTalk says expireIn")
	}
	for _, k := range []string{"accessToken", "refreshToken"} {
		if s, _ := m[k].(string); len(s) != 32 {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	status, me := e.usersMe(t, m["accessToken"].(string))
	if status != http.StatusOK || me["unionId"] != zhangsan {
		t.Errorf("users/me: %d %v", status, me)
	}
}

func TestDingTalkTokenCorpID(t *testing.T) {
	tests := []struct {
		name, scope, corpID, person string
		want                        string // "" = no corpId key
	}{
		{"scope without corpid", "openid", corpA, zhangsan, ""},
		{"app corp", "openid corpid", "", zhangsan, corpA},
		{"requested corp", "openid corpid", corpB, wangfang, corpB},
		{"requested corp not theirs", "openid corpid", corpB, zhangsan, corpA},
		{"only another corp", "openid corpid", "", chenxiao, corpB},
		{"external contact only", "openid corpid", "", sunqi, ""},
		{"in no corp", "openid corpid", "", wushi, ""},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(appMain, tt.scope, "s")
			if tt.corpID != "" {
				q.Set("corpId", tt.corpID)
			}
			status, m := e.exchange(t, appMain, secMain, e.scan(t, q, tt.person))
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, m)
			}
			got, ok := m["corpId"]
			if tt.want == "" && ok || tt.want != "" && got != tt.want {
				t.Errorf("corpId = %v (present %v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestDingTalkAuthPageErrors(t *testing.T) {
	tests := []struct {
		name     string
		path     string // "/oauth2/auth" or a stand-in
		edit     func(url.Values)
		wantCode string
	}{
		{"unknown client_id", "/oauth2/auth", func(q url.Values) { q.Set("client_id", "dingnosuchapp0000000") }, "invalidClientId"},
		{"missing client_id", "/oauth2/auth", func(q url.Values) { q.Del("client_id") }, "invalidClientId"},
		{"foreign redirect domain", "/oauth2/auth", func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") }, "invalidRedirectUri"},
		{"subdomain of allowed", "/oauth2/auth", func(q url.Values) { q.Set("redirect_uri", "https://x.sso.example.com/cb") }, "invalidRedirectUri"},
		{"another app's domain", "/oauth2/auth", func(q url.Values) { q.Set("redirect_uri", "https://sso.nb-example.com/cb") }, "invalidRedirectUri"},
		{"javascript scheme", "/oauth2/auth", func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)//localhost") }, "invalidRedirectUri"},
		{"missing redirect_uri", "/oauth2/auth", func(q url.Values) { q.Del("redirect_uri") }, "invalidRedirectUri"},
		{"response_type token", "/oauth2/auth", func(q url.Values) { q.Set("response_type", "token") }, "invalidResponseType"},
		{"scope without openid", "/oauth2/auth", func(q url.Values) { q.Set("scope", "corpid") }, "invalidScope"},
		{"scan to foreign domain", "/simulator/scan", func(q url.Values) {
			q.Set("redirect_uri", "https://evil.example.com/cb")
			q.Set("unionId", zhangsan)
		}, "invalidRedirectUri"},
		{"scan as nobody", "/simulator/scan", func(q url.Values) { q.Set("unionId", "nobody") }, "unknownPerson"},
		{"cancel to foreign domain", "/simulator/cancel", func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") }, "invalidRedirectUri"},
	}
	e := newEnv(t, func(o *Options) { o.AutoApprove = zhangsan })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(appMain, "openid", "s")
			tt.edit(q)
			status, h, body := e.do(t, "GET", tt.path+"?"+q.Encode(), nil, nil)
			if status != http.StatusOK || h.Get("Location") != "" {
				t.Fatalf("status %d, Location %q: want an HTTP 200 page", status, h.Get("Location"))
			}
			meta := `<meta name="dingtalk-simulator-error" content="` + tt.wantCode + `">`
			if !strings.Contains(string(body), meta) {
				t.Errorf("page lacks %s:\n%s", meta, body)
			}
		})
	}
}

func TestDingTalkRedirectDomains(t *testing.T) {
	app := &App{RedirectDomains: []string{"sso.example.com", "127.0.0.1:8080", "https://Login.Example.org/x", "[::1]"}}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://sso.example.com/cb", true},
		{"http://SSO.example.com:8443/cb", true},
		{"http://127.0.0.1:8080/cb", true},
		{"http://127.0.0.1:8081/cb", false},
		{"https://login.example.org/other", true},
		{"http://[::1]:5556/cb", true},
		{"https://example.com/cb", false},
		{"https://sso.example.com.evil.net/cb", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := domainAllowed(app, u); got != tt.want {
			t.Errorf("%s: allowed %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func TestDingTalkCancel(t *testing.T) {
	e := newEnv(t, nil)
	status, h, _ := e.do(t, "GET", "/simulator/cancel?"+authQuery(appMain, "openid", "xyz").Encode(), nil, nil)
	if status != http.StatusFound {
		t.Fatalf("status %d", status)
	}
	loc, _ := url.Parse(h.Get("Location"))
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "xyz" || q.Get("authCode") != "" || q.Get("code") != "" {
		t.Errorf("cancel redirect %s", loc)
	}
}

func TestDingTalkAutoApprove(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AutoApprove = liuyang })
	q := authQuery(appMain, "openid corpid", "auto")
	status, h, _ := e.do(t, "GET", "/oauth2/auth?"+q.Encode(), nil, nil)
	if status != http.StatusFound {
		t.Fatalf("status %d, want an immediate 302", status)
	}
	loc, _ := url.Parse(h.Get("Location"))
	if loc.Query().Get("state") != "auto" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	status, m := e.exchange(t, appMain, secMain, loc.Query().Get("authCode"))
	if status != http.StatusOK || m["corpId"] != corpA {
		t.Fatalf("exchange: %d %v", status, m)
	}
	if _, me := e.usersMe(t, m["accessToken"].(string)); me["unionId"] != liuyang {
		t.Errorf("users/me %v, want 刘洋", me)
	}
}

func TestDingTalkUserAccessTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		// body builds the request from a fresh code for the main app.
		body       func(e *env, code string) any
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", func(_ *env, code string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secB, "code": code, "grantType": "authorization_code"}
		}, 400, "invalidClientIdOrSecret"},
		{"unknown client", func(_ *env, code string) any {
			return map[string]string{"clientId": "dingnosuch", "clientSecret": "x", "code": code, "grantType": "authorization_code"}
		}, 400, "invalidClientIdOrSecret"},
		{"missing clientId", func(_ *env, code string) any {
			return map[string]string{"clientSecret": secMain, "code": code, "grantType": "authorization_code"}
		}, 400, "MissingclientId"},
		{"missing grantType", func(_ *env, code string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "code": code}
		}, 400, "MissinggrantType"},
		{"unknown grantType", func(_ *env, code string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "code": code, "grantType": "password"}
		}, 400, "invalidGrantType"},
		{"not JSON", func(_ *env, code string) any { return json.RawMessage(`"code=` + code + `"`) }, 400, "InvalidParameter"},
		{"unknown code", func(_ *env, _ string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "code": "0123456789abcdef0123456789abcdef", "grantType": "authorization_code"}
		}, 400, "invalidParameter.authCode.notFound"},
		{"empty code", func(_ *env, _ string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "grantType": "authorization_code"}
		}, 400, "invalidParameter.authCode.notFound"},
		{"code used twice", func(e *env, code string) any {
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "code": code, "grantType": "authorization_code"}
		}, 400, "invalidParameter.authCode.notFound"},
		{"code expired", func(e *env, code string) any {
			e.clock.Advance(5*time.Minute + time.Second)
			return map[string]string{"clientId": appMain, "clientSecret": secMain, "code": code, "grantType": "authorization_code"}
		}, 400, "invalidParameter.authCode.notFound"},
		{"another app's code", func(_ *env, code string) any {
			return map[string]string{"clientId": appNoPerm, "clientSecret": secNoPerm, "code": code, "grantType": "authorization_code"}
		}, 400, "invalidParameter.authCode.notFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code := e.scan(t, authQuery(appMain, "openid", "s"), zhangsan)
			if tt.name == "code used twice" {
				if status, m := e.exchange(t, appMain, secMain, code); status != http.StatusOK {
					t.Fatalf("first exchange: %d %v", status, m)
				}
			}
			status, m := e.json(t, "POST", "/v1.0/oauth2/userAccessToken", nil, tt.body(e, code))
			wantAPIError(t, status, m, tt.wantStatus, tt.wantCode)
		})
	}
}

func TestDingTalkCodeJustBeforeExpiry(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CodeTTL = time.Minute })
	code := e.scan(t, authQuery(appMain, "openid", "s"), zhangsan)
	e.clock.Advance(time.Minute - time.Second)
	if status, m := e.exchange(t, appMain, secMain, code); status != http.StatusOK {
		t.Fatalf("exchange within CodeTTL: %d %v", status, m)
	}
	code = e.scan(t, authQuery(appMain, "openid", "s"), zhangsan)
	e.clock.Advance(time.Minute)
	status, m := e.exchange(t, appMain, secMain, code)
	wantAPIError(t, status, m, 400, "invalidParameter.authCode.notFound")
}

func TestDingTalkUsersMe(t *testing.T) {
	tests := []struct {
		name       string
		app, sec   string
		person     string
		token      func(string) string // from the user token
		advance    time.Duration
		wantStatus int
		wantCode   string         // error code
		want       map[string]any // exact success answer
	}{
		{name: "full profile", app: appMain, sec: secMain, person: zhangsan, wantStatus: 200, want: map[string]any{
			"nick": "张三", "avatarUrl": "https://static-legacy.dingtalk.com/media/lADPD2eDSimulator01_240_240.jpg",
			"mobile": "13800138001", "stateCode": "86", "openId": "BS3w5ogvKNhoNokGPHtfpi8iEiE",
			"unionId": zhangsan, "email": "zhangsan@163.com",
		}},
		{name: "no email or avatar", app: appMain, sec: secMain, person: lisi, wantStatus: 200, want: map[string]any{
			"nick": "四哥", "mobile": "13800138002", "stateCode": "86", "openId": "fJq77iqsufFgkrXniKtDVBGiEiE", "unionId": lisi,
		}},
		{name: "outsider", app: appMain, sec: secMain, person: wushi, wantStatus: 200, want: map[string]any{
			"nick": "吴十", "mobile": "18800188008", "stateCode": "86", "openId": "z0aRxxhHPvgF19FFxNJsum7iEiE",
			"unionId": wushi, "email": "wushi@gmail.com",
		}},
		{name: "missing header", app: appMain, sec: secMain, person: zhangsan,
			token: func(string) string { return "" }, wantStatus: 400, wantCode: "AuthenticationFailed.MissingParameter"},
		{name: "bad token", app: appMain, sec: secMain, person: zhangsan,
			token: func(string) string { return "0123456789abcdef0123456789abcdef" }, wantStatus: 400, wantCode: "InvalidAuthentication"},
		{name: "expired token", app: appMain, sec: secMain, person: zhangsan,
			advance: 7200 * time.Second, wantStatus: 400, wantCode: "InvalidAuthentication"},
		{name: "app without Contact.User.Read", app: appNoPerm, sec: secNoPerm, person: zhangsan,
			wantStatus: 403, wantCode: "Forbidden.AccessDenied.AccessTokenPermissionDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tok := e.login(t, tt.app, tt.sec, tt.person)["accessToken"].(string)
			if tt.token != nil {
				tok = tt.token(tok)
			}
			e.clock.Advance(tt.advance)
			status, m := e.usersMe(t, tok)
			if tt.wantCode != "" {
				wantAPIError(t, status, m, tt.wantStatus, tt.wantCode)
				if tt.wantStatus == 403 {
					det, _ := m["accessdenieddetail"].(map[string]any)
					if !reflect.DeepEqual(det["requiredScopes"], []any{"Contact.User.Read"}) {
						t.Errorf("accessdenieddetail = %v", m["accessdenieddetail"])
					}
				}
				return
			}
			if status != tt.wantStatus || !reflect.DeepEqual(m, tt.want) {
				t.Errorf("got %d %v\nwant %v", status, m, tt.want)
			}
		})
	}
}

func TestDingTalkUsersMeWithoutMobilePermission(t *testing.T) {
	fx, err := Fixture()
	if err != nil {
		t.Fatal(err)
	}
	a := fx.Apps[appMain]
	a.Permissions = []string{"Contact.User.Read"}
	fx.Apps[appMain] = a
	e := newEnv(t, func(o *Options) { o.Apps = fx.Apps })
	_, me := e.usersMe(t, e.login(t, appMain, secMain, zhangsan)["accessToken"].(string))
	if _, ok := me["mobile"]; ok || me["unionId"] != zhangsan {
		t.Errorf("users/me %v: want no mobile without Contact.User.mobile", me)
	}
}

func TestDingTalkAppAccessToken(t *testing.T) {
	e := newEnv(t, nil)
	status, m := e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain, "appSecret": secMain})
	if status != 200 || m["expireIn"] != json.Number("7200") || len(m) != 2 {
		t.Fatalf("accessToken: %d %v", status, m)
	}
	tok := m["accessToken"].(string)

	// The oapi host's gettoken issues (and renews) the same token.
	status, g := e.json(t, "GET", "/gettoken?appkey="+appMain+"&appsecret="+url.QueryEscape(secMain), nil, nil)
	if status != 200 || errcode(g) != "0" || g["access_token"] != tok || g["expires_in"] != json.Number("7200") {
		t.Fatalf("gettoken: %d %v, want token %s", status, g, tok)
	}
	e.clock.Advance(7000 * time.Second)
	if again := e.appToken(t, appMain, secMain); again != tok {
		t.Errorf("repeat call within the lifetime: new token")
	}
	e.clock.Advance(7199 * time.Second) // renewed at 7000 s: still alive
	if r := result(t, e.oapi(t, "/topapi/user/getbyunionid", tok, map[string]string{"unionid": zhangsan})); r["userid"] != "zhangsan" {
		t.Errorf("renewed token: %v", r)
	}
	e.clock.Advance(time.Second)
	if m := e.oapi(t, "/topapi/user/getbyunionid", tok, map[string]string{"unionid": zhangsan}); errcode(m) != "88" {
		t.Errorf("expired app token: %v", m)
	}
	if again := e.appToken(t, appMain, secMain); again == tok {
		t.Error("after expiry: the same token")
	}

	status, m = e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain, "appSecret": "wrong"})
	wantAPIError(t, status, m, 400, "invalidClientIdOrSecret")
	status, m = e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain})
	wantAPIError(t, status, m, 400, "MissingappSecret")
	status, g = e.json(t, "GET", "/gettoken?appkey="+appMain+"&appsecret=wrong", nil, nil)
	if status != 200 || errcode(g) != "40096" || g["errmsg"] == "" {
		t.Errorf("gettoken with a bad secret: %d %v", status, g)
	}
}

func TestDingTalkGetByUnionID(t *testing.T) {
	tests := []struct {
		name, app, sec string
		body           any
		wantErrcode    string
		wantUserID     string
		wantType       string
	}{
		{"member", appMain, secMain, map[string]string{"unionid": zhangsan}, "0", "zhangsan", "0"},
		{"member with numeric-ish userid", appMain, secMain, map[string]string{"unionid": lisi}, "0", "manager4521", "0"},
		{"inactive member", appMain, secMain, map[string]string{"unionid": zhaoliu}, "0", "zhaoliu", "0"},
		{"external contact", appMain, secMain, map[string]string{"unionid": sunqi}, "0", "sunqi7031", "1"},
		{"in another corp only", appMain, secMain, map[string]string{"unionid": chenxiao}, "60121", "", ""},
		{"in no corp", appMain, secMain, map[string]string{"unionid": wushi}, "60121", "", ""},
		{"unknown unionid", appMain, secMain, map[string]string{"unionid": "nobody"}, "60121", "", ""},
		{"missing unionid", appMain, secMain, map[string]string{}, "40035", "", ""},
		{"corp B app", appB, secB, map[string]string{"unionid": wangfang}, "0", "wangfang", "0"},
		{"corp B app, A member", appB, secB, map[string]string{"unionid": zhangsan}, "60121", "", ""},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.oapi(t, "/topapi/user/getbyunionid", e.appToken(t, tt.app, tt.sec), tt.body)
			if errcode(m) != tt.wantErrcode {
				t.Fatalf("got %v, want errcode %s", m, tt.wantErrcode)
			}
			if tt.wantErrcode != "0" {
				if _, ok := m["result"]; ok || m["errmsg"] == "" {
					t.Errorf("error answer %v", m)
				}
				return
			}
			r := result(t, m)
			if r["userid"] != tt.wantUserID || fmt.Sprint(r["contact_type"]) != tt.wantType || len(r) != 2 {
				t.Errorf("result %v, want userid %s contact_type %s", r, tt.wantUserID, tt.wantType)
			}
		})
	}

	t.Run("form body", func(t *testing.T) {
		tok := e.appToken(t, appMain, secMain)
		hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded;charset=utf-8"}}
		status, _, b := e.do(t, "POST", "/topapi/user/getbyunionid?access_token="+tok, hdr, strings.NewReader("unionid="+liuyang))
		if status != 200 || !strings.Contains(string(b), `"userid":"liuyang"`) {
			t.Errorf("form body: %d %s", status, b)
		}
	})
}

func TestDingTalkUserGet(t *testing.T) {
	e := newEnv(t, nil)
	tokA, tokB := e.appToken(t, appMain, secMain), e.appToken(t, appB, secB)

	r := result(t, e.oapi(t, "/topapi/v2/user/get", tokA, map[string]string{"userid": "zhangsan", "language": "zh_CN"}))
	want := map[string]any{
		"userid": "zhangsan", "unionid": zhangsan, "name": "张三",
		"avatar": "https://static-legacy.dingtalk.com/media/lADPD2eDSimulator01_240_240.jpg",
		"mobile": "13800138001", "state_code": "86", "email": "zhangsan@hzdemo.com.cn", "org_email": "zhangsan@hzdemo.com.cn",
		"job_number": "HZ0001", "title": "研发工程师", "dept_id_list": []any{json.Number("3")},
		"active": true, "admin": true,
		"role_list": []any{
			map[string]any{"id": json.Number("1001"), "name": "主管理员", "group_name": "默认"},
			map[string]any{"id": json.Number("3101"), "name": "研发", "group_name": "职务"},
		},
	}
	for k, v := range want {
		if !reflect.DeepEqual(r[k], v) {
			t.Errorf("user/get %s = %#v, want %#v", k, r[k], v)
		}
	}
	for _, k := range []string{"hide_mobile", "telephone", "work_place", "remark", "dept_order_list", "leader_in_dept", "boss", "senior", "real_authed", "exclusive_account"} {
		if _, ok := r[k]; !ok {
			t.Errorf("user/get lacks %s", k)
		}
	}

	tests := []struct {
		name, token string
		body        any
		wantErrcode string
		check       func(t *testing.T, r map[string]any)
	}{
		{"numeric userid, no mails", tokA, map[string]string{"userid": "manager4521"}, "0", func(t *testing.T, r map[string]any) {
			if r["name"] != "李四" || r["title"] != "产品总监" || r["avatar"] != "" {
				t.Errorf("%v", r)
			}
			for _, k := range []string{"org_email", "email"} {
				if _, ok := r[k]; ok {
					t.Errorf("%s present: %v", k, r[k])
				}
			}
			if !reflect.DeepEqual(r["role_list"], []any{map[string]any{"id": json.Number("3102"), "name": "主管", "group_name": "职务"}}) {
				t.Errorf("role_list %v", r["role_list"])
			}
		}},
		{"digits userid", tokA, map[string]string{"userid": "0158213560761164"}, "0", func(t *testing.T, r map[string]any) {
			if r["unionid"] != wangfang || !reflect.DeepEqual(r["role_list"], []any{}) {
				t.Errorf("%v", r)
			}
		}},
		{"two departments", tokA, map[string]string{"userid": "liuyang"}, "0", func(t *testing.T, r map[string]any) {
			if !reflect.DeepEqual(r["dept_id_list"], []any{json.Number("6"), json.Number("3")}) {
				t.Errorf("dept_id_list %v", r["dept_id_list"])
			}
		}},
		{"inactive", tokA, map[string]string{"userid": "zhaoliu"}, "0", func(t *testing.T, r map[string]any) {
			if r["active"] != false {
				t.Errorf("active %v", r["active"])
			}
		}},
		{"external contact", tokA, map[string]string{"userid": "sunqi7031"}, "60121", nil},
		{"other corp's userid", tokA, map[string]string{"userid": "chenxiao"}, "60121", nil},
		{"unknown", tokA, map[string]string{"userid": "nobody"}, "60121", nil},
		{"missing userid", tokA, map[string]string{"language": "zh_CN"}, "40035", nil},
		{"corp B record", tokB, map[string]string{"userid": "wangfang"}, "0", func(t *testing.T, r map[string]any) {
			if r["unionid"] != wangfang || r["title"] != "兼职顾问" || r["job_number"] != "NB0107" {
				t.Errorf("%v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.oapi(t, "/topapi/v2/user/get", tt.token, tt.body)
			if errcode(m) != tt.wantErrcode {
				t.Fatalf("got %v, want errcode %s", m, tt.wantErrcode)
			}
			if tt.check != nil {
				tt.check(t, result(t, m))
			}
		})
	}
}

func TestDingTalkDepartmentGet(t *testing.T) {
	e := newEnv(t, nil)
	tokA, tokB := e.appToken(t, appMain, secMain), e.appToken(t, appB, secB)
	tests := []struct {
		name, token  string
		body         any
		wantErrcode  string
		wantName     string
		wantParentID string // "" = absent
	}{
		{"leaf", tokA, map[string]any{"dept_id": 3, "language": "zh_CN"}, "0", "平台研发部", "2"},
		{"child of root", tokA, map[string]any{"dept_id": 2}, "0", "研发中心", "1"},
		{"root", tokA, map[string]any{"dept_id": 1}, "0", "杭州演示科技有限公司", ""},
		{"id as string", tokA, map[string]any{"dept_id": "6"}, "0", "财务部", "1"},
		{"corp B", tokB, map[string]any{"dept_id": 3}, "0", "华东大区", "2"},
		{"unknown", tokA, map[string]any{"dept_id": 99}, "60003", "", ""},
		{"not a number", tokA, map[string]any{"dept_id": "研发"}, "40035", "", ""},
		{"missing", tokA, map[string]any{}, "40035", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.oapi(t, "/topapi/v2/department/get", tt.token, tt.body)
			if errcode(m) != tt.wantErrcode {
				t.Fatalf("got %v, want errcode %s", m, tt.wantErrcode)
			}
			if tt.wantErrcode != "0" {
				return
			}
			r := result(t, m)
			p, ok := r["parent_id"]
			if r["name"] != tt.wantName || tt.wantParentID == "" && ok || tt.wantParentID != "" && fmt.Sprint(p) != tt.wantParentID {
				t.Errorf("result %v, want name %s parent %q", r, tt.wantName, tt.wantParentID)
			}
			if _, ok := r["dept_id"].(json.Number); !ok {
				t.Errorf("dept_id %v not a number", r["dept_id"])
			}
		})
	}
}

func TestDingTalkBadAppToken(t *testing.T) {
	e := newEnv(t, nil)
	userTok := e.login(t, appMain, secMain, zhangsan)["accessToken"].(string)
	paths := []string{"/topapi/user/getbyunionid", "/topapi/v2/user/get", "/topapi/v2/department/get", "/topapi/v2/user/getuserinfo"}
	tokens := map[string]string{
		"missing":                 "",
		"garbage":                 "0123456789abcdef0123456789abcdef",
		"user token as app token": userTok,
	}
	for _, p := range paths {
		for name, tok := range tokens {
			t.Run(p+"/"+name, func(t *testing.T) {
				m := e.oapi(t, p, tok, map[string]any{"unionid": zhangsan, "userid": "zhangsan", "dept_id": 1, "code": "x"})
				if errcode(m) != "88" || m["sub_code"] != "40014" || m["sub_msg"] == "" || m["errmsg"] == "" {
					t.Errorf("got %v, want errcode 88 sub_code 40014", m)
				}
			})
		}
	}
}

func TestDingTalkRefreshToken(t *testing.T) {
	e := newEnv(t, nil)
	first := e.login(t, appMain, secMain, wangfang)
	refresh := func(appKey, secret, tok string) (int, map[string]any) {
		return e.json(t, "POST", "/v1.0/oauth2/userAccessToken", nil, map[string]string{
			"clientId": appKey, "clientSecret": secret, "refreshToken": tok, "grantType": "refresh_token",
		})
	}
	e.clock.Advance(7200 * time.Second) // the access token has expired
	if status, _ := e.usersMe(t, first["accessToken"].(string)); status != 400 {
		t.Fatalf("expired access token: %d", status)
	}
	status, m := refresh(appMain, secMain, first["refreshToken"].(string))
	if status != 200 || m["expireIn"] != json.Number("7200") || m["corpId"] != corpA || m["accessToken"] == first["accessToken"] || m["refreshToken"] == first["refreshToken"] {
		t.Fatalf("refresh: %d %v", status, m)
	}
	if status, me := e.usersMe(t, m["accessToken"].(string)); status != 200 || me["unionId"] != wangfang {
		t.Errorf("users/me with the refreshed token: %d %v", status, me)
	}

	tests := []struct {
		name, app, sec, tok string
		advance             time.Duration
	}{
		{"used refresh token", appMain, secMain, first["refreshToken"].(string), 0},
		{"another app", appNoPerm, secNoPerm, m["refreshToken"].(string), 0},
		{"unknown", appMain, secMain, "0123456789abcdef0123456789abcdef", 0},
		{"empty", appMain, secMain, "", 0},
		{"expired after 30 days", appMain, secMain, m["refreshToken"].(string), 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			status, m := refresh(tt.app, tt.sec, tt.tok)
			wantAPIError(t, status, m, 400, "invalidRefreshToken")
		})
	}
	status, m = refresh(appMain, "wrong", "x")
	wantAPIError(t, status, m, 400, "invalidClientIdOrSecret")
}

func TestDingTalkInAppCode(t *testing.T) {
	e := newEnv(t, nil)
	tokA, tokB := e.appToken(t, appMain, secMain), e.appToken(t, appB, secB)
	inapp := func(t *testing.T, corpID, unionID string) (int, map[string]any) {
		t.Helper()
		return e.json(t, "GET", "/simulator/inapp?"+url.Values{"corpId": {corpID}, "unionId": {unionID}}.Encode(), nil, nil)
	}
	code := func(t *testing.T, corpID, unionID string) string {
		t.Helper()
		status, m := inapp(t, corpID, unionID)
		c, _ := m["code"].(string)
		if status != 200 || len(c) != 32 {
			t.Fatalf("inapp: %d %v", status, m)
		}
		return c
	}
	getuserinfo := func(t *testing.T, tok, c string) map[string]any {
		t.Helper()
		return e.oapi(t, "/topapi/v2/user/getuserinfo", tok, map[string]string{"code": c})
	}

	t.Run("admin", func(t *testing.T) {
		c := code(t, corpA, zhangsan)
		r := result(t, getuserinfo(t, tokA, c))
		want := map[string]any{"userid": "zhangsan", "unionid": zhangsan, "name": "张三", "sys": true, "sys_level": json.Number("1"), "associated_unionid": ""}
		for k, v := range want {
			if !reflect.DeepEqual(r[k], v) {
				t.Errorf("%s = %v, want %v", k, r[k], v)
			}
		}
		if d, _ := r["device_id"].(string); d == "" {
			t.Error("no device_id")
		}
		if m := getuserinfo(t, tokA, c); errcode(m) != "40078" {
			t.Errorf("second use: %v", m)
		}
	})
	t.Run("sub-admin in corp B", func(t *testing.T) {
		r := result(t, getuserinfo(t, tokB, code(t, corpB, chenxiao)))
		if r["userid"] != "chenxiao" || r["sys_level"] != json.Number("2") {
			t.Errorf("%v", r)
		}
	})
	t.Run("plain member", func(t *testing.T) {
		r := result(t, getuserinfo(t, tokA, code(t, corpA, lisi)))
		if r["userid"] != "manager4521" || r["sys"] != false || r["sys_level"] != json.Number("0") {
			t.Errorf("%v", r)
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := code(t, corpA, zhangsan)
		e.clock.Advance(5 * time.Minute)
		if m := getuserinfo(t, e.appToken(t, appMain, secMain), c); errcode(m) != "40078" {
			t.Errorf("%v", m)
		}
	})
	t.Run("another corp's app", func(t *testing.T) {
		c := code(t, corpA, wangfang)
		if m := getuserinfo(t, e.appToken(t, appB, secB), c); errcode(m) != "40078" {
			t.Errorf("%v", m)
		}
		if r := result(t, getuserinfo(t, e.appToken(t, appMain, secMain), c)); r["userid"] != "0158213560761164" {
			t.Errorf("the right app after a wrong one: %v", r)
		}
	})
	for _, tt := range []struct{ name, corp, person string }{
		{"not a member", corpA, wushi},
		{"external contact", corpA, sunqi},
		{"member elsewhere", corpA, chenxiao},
		{"unknown corp", "dingnosuchcorp", zhangsan},
		{"unknown person", corpA, "nobody"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, m := inapp(t, tt.corp, tt.person)
			if status != 400 || m["errorCode"] == nil || m["errorMessage"] == nil {
				t.Errorf("%d %v", status, m)
			}
		})
	}
}

func TestDingTalkFaults(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*simkit.Faults)
		check func(t *testing.T, e *env)
	}{
		{"expireCodes", func(f *simkit.Faults) { f.ExpireCodes(true) }, func(t *testing.T, e *env) {
			code := e.scan(t, authQuery(appMain, "openid", "s"), zhangsan)
			status, m := e.exchange(t, appMain, secMain, code)
			wantAPIError(t, status, m, 400, "invalidParameter.authCode.notFound")
			_, ia := e.json(t, "GET", "/simulator/inapp?corpId="+corpA+"&unionId="+zhangsan, nil, nil)
			tok := e.appToken(t, appMain, secMain)
			if m := e.oapi(t, "/topapi/v2/user/getuserinfo", tok, map[string]any{"code": ia["code"]}); errcode(m) != "40078" {
				t.Errorf("in-app code: %v", m)
			}
			e.sim.Faults().ExpireCodes(false)
			if status, m := e.exchange(t, appMain, secMain, code); status != 200 {
				t.Errorf("after the fault: %d %v", status, m)
			}
		}},
		{"badAuth", func(f *simkit.Faults) {}, func(t *testing.T, e *env) {
			tok := e.appToken(t, appMain, secMain)
			code := e.scan(t, authQuery(appMain, "openid", "s"), zhangsan)
			e.sim.Faults().BadAuth(true)
			status, m := e.exchange(t, appMain, secMain, code)
			wantAPIError(t, status, m, 400, "invalidClientIdOrSecret")
			status, m = e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain, "appSecret": secMain})
			wantAPIError(t, status, m, 400, "invalidClientIdOrSecret")
			if _, g := e.json(t, "GET", "/gettoken?appkey="+appMain+"&appsecret="+url.QueryEscape(secMain), nil, nil); errcode(g) != "40096" {
				t.Errorf("gettoken: %v", g)
			}
			// Tokens already issued keep working, as with a rotated secret.
			if r := result(t, e.oapi(t, "/topapi/user/getbyunionid", tok, map[string]string{"unionid": zhangsan})); r["userid"] != "zhangsan" {
				t.Errorf("%v", r)
			}
		}},
		{"serverError", func(f *simkit.Faults) { f.ServerError(true) }, func(t *testing.T, e *env) {
			status, m := e.exchange(t, appMain, secMain, "x")
			wantAPIError(t, status, m, 500, "unknownError")
			status, m = e.usersMe(t, "x")
			wantAPIError(t, status, m, 500, "unknownError")
			for _, p := range []string{"/gettoken?appkey=a&appsecret=b", "/topapi/user/getbyunionid?access_token=x"} {
				method := "POST"
				if strings.HasPrefix(p, "/gettoken") {
					method = "GET"
				}
				status, h, b := e.do(t, method, p, nil, strings.NewReader(`{}`))
				if status != 502 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "502 Bad Gateway") {
					t.Errorf("%s: %d %s %s", p, status, h.Get("Content-Type"), b)
				}
			}
			// The pages keep working.
			if status, _, _ := e.do(t, "GET", "/oauth2/auth?"+authQuery(appMain, "openid", "s").Encode(), nil, nil); status != 200 {
				t.Errorf("QR page: %d", status)
			}
		}},
		{"delay", func(f *simkit.Faults) { f.Delay(80 * time.Millisecond) }, func(t *testing.T, e *env) {
			start := time.Now()
			status, m := e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain, "appSecret": secMain})
			if status != 200 || time.Since(start) < 80*time.Millisecond {
				t.Errorf("api: %d %v after %v", status, m, time.Since(start))
			}
			start = time.Now()
			e.oapi(t, "/topapi/user/getbyunionid", m["accessToken"].(string), map[string]string{"unionid": zhangsan})
			if time.Since(start) < 80*time.Millisecond {
				t.Errorf("oapi answered after %v", time.Since(start))
			}
			// A caller that gives up is not kept waiting.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			rec := httptest.NewRecorder()
			start = time.Now()
			e.sim.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/v1.0/contact/users/me", nil))
			if time.Since(start) > 50*time.Millisecond || rec.Body.Len() != 0 {
				t.Errorf("cancelled request: %v, body %q", time.Since(start), rec.Body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &simkit.Faults{}
			e := newEnv(t, func(o *Options) { o.Faults = f })
			if e.sim.Faults() != f {
				t.Fatal("simkit.Faults() is not the options' set")
			}
			tt.setup(f)
			tt.check(t, e)
		})
	}
}

func TestDingTalkUnknownPath(t *testing.T) {
	e := newEnv(t, nil)
	status, m := e.json(t, "GET", "/v1.0/contact/users/QY7vA9rRRxK4nQcn6zdha8MiEiE", nil, nil)
	wantAPIError(t, status, m, 404, "InvalidAction.NotFound")
}

func TestDingTalkBoundedMemory(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxEntries = 3 })
	var codes []string
	for range 10 {
		codes = append(codes, e.scan(t, authQuery(appMain, "openid", "s"), zhangsan))
		e.clock.Advance(time.Second)
	}
	e.sim.mu.Lock()
	n := e.sim.codes.len()
	e.sim.mu.Unlock()
	if n > 3 {
		t.Errorf("%d codes kept, want at most 3", n)
	}
	if status, m := e.exchange(t, appMain, secMain, codes[0]); status != 400 {
		t.Errorf("oldest code: %d %v, want forgotten", status, m)
	}
	if status, m := e.exchange(t, appMain, secMain, codes[9]); status != 200 {
		t.Errorf("newest code: %d %v", status, m)
	}
}

func TestDingTalkConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	people := []string{zhangsan, lisi, wangfang, liuyang, zhaoliu}
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			p := people[i%len(people)]
			tok := e.login(t, appMain, secMain, p)["accessToken"].(string)
			if status, me := e.usersMe(t, tok); status != 200 || me["unionId"] != p {
				t.Errorf("users/me: %d %v", status, me)
			}
			app := e.appToken(t, appMain, secMain)
			if m := e.oapi(t, "/topapi/user/getbyunionid", app, map[string]string{"unionid": p}); errcode(m) != "0" {
				t.Errorf("getbyunionid: %v", m)
			}
		})
	}
}

func TestDingTalkFixture(t *testing.T) {
	fx, err := Fixture()
	if err != nil {
		t.Fatal(err)
	}
	var inactive, external, outsiders, multi []string
	for _, p := range fx.People {
		if len(p.Orgs) == 0 {
			outsiders = append(outsiders, p.Nick)
		}
		if len(p.Orgs) > 1 {
			multi = append(multi, p.Nick)
		}
		for _, m := range p.Orgs {
			if !m.Active {
				inactive = append(inactive, m.Name)
			}
			if m.ContactType == 1 {
				external = append(external, m.Name)
			}
		}
	}
	got := [][]string{inactive, external, outsiders, multi}
	want := [][]string{{"赵六"}, {"孙七（供应商）"}, {"吴十"}, {"王芳"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inactive, external, outsiders, multi-corp = %v, want %v", got, want)
	}
	if len(fx.People) != testPeople || len(fx.Apps) != 3 || len(fx.Corps) != 2 {
		t.Errorf("%d people, %d apps, %d corps", len(fx.People), len(fx.Apps), len(fx.Corps))
	}
	if !slices.Contains(fx.Apps[appMain].Permissions, "Contact.User.Read") || len(fx.Apps[appNoPerm].Permissions) != 0 {
		t.Error("app permissions changed")
	}
	// A fresh copy each time.
	fx.People[0].Nick = "changed"
	fx2, _ := Fixture()
	if fx2.People[0].Nick == "changed" {
		t.Error("Fixture shares its copy")
	}
}

func TestDingTalkOptionsValidation(t *testing.T) {
	fixture := func(t *testing.T) Options {
		t.Helper()
		fx, err := Fixture()
		if err != nil {
			t.Fatal(err)
		}
		return fx
	}
	tests := []struct {
		name string
		edit func(*Options)
		want []string // all in the error
	}{
		{"app in unknown corp", func(o *Options) {
			o.Apps["dingx"] = App{AppSecret: "s", CorpID: "nope"}
		}, []string{`app "dingx": unknown corp "nope"`}},
		{"several problems at once", func(o *Options) {
			o.Apps["dingy"] = App{CorpID: corpA}
			o.People = append(o.People, Person{UnionID: zhangsan, OpenID: "o", Nick: "x"})
			o.AutoApprove = "ghost"
		}, []string{`app "dingy": empty AppSecret`, `unionId twice`, `AutoApprove: unknown unionId "ghost"`}},
		{"member of unknown department", func(o *Options) {
			o.People = append(o.People, Person{UnionID: "u1", OpenID: "o1", Nick: "n", Orgs: map[string]Member{
				corpA: {UserID: "newbie", Name: "新人", DeptIDList: []int64{42}, ContactType: 2},
			}})
		}, []string{"unknown department 42", "contact_type 2"}},
		{"duplicate userid", func(o *Options) {
			o.People = append(o.People, Person{UnionID: "u2", OpenID: "o2", Nick: "n", Orgs: map[string]Member{
				corpA: {UserID: "zhangsan", Name: "张三二"},
			}})
		}, []string{`userid "zhangsan" twice`}},
		{"department cycle", func(o *Options) {
			c := o.Corps[corpB]
			c.Departments = append(c.Departments, Department{ID: 7, Name: "甲", ParentID: 8}, Department{ID: 8, Name: "乙", ParentID: 7})
			o.Corps[corpB] = c
		}, []string{"cycle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fixture(t)
			tt.edit(&o)
			_, err := New(o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}

	t.Run("root department added", func(t *testing.T) {
		sim, err := New(Options{
			Apps:   map[string]App{"k": {AppSecret: "s", CorpID: "c"}},
			Corps:  map[string]Corp{"c": {Name: "小公司", Departments: []Department{{ID: 2, Name: "部门", ParentID: 1}}}},
			People: []Person{},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := sim.corps["c"].depts[1].Name; got != "小公司" {
			t.Errorf("root %q", got)
		}
	})
}

func TestDingTalkScanByPost(t *testing.T) {
	e := newEnv(t, nil)
	form := authQuery(appMain, "openid", "posted")
	form.Set("unionId", lisi)
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	status, h, _ := e.do(t, "POST", "/simulator/scan", hdr, strings.NewReader(form.Encode()))
	if status != http.StatusFound {
		t.Fatalf("status %d", status)
	}
	loc, _ := url.Parse(h.Get("Location"))
	if loc.Query().Get("state") != "posted" {
		t.Fatalf("redirect %s", loc)
	}
	if status, m := e.exchange(t, appMain, secMain, loc.Query().Get("code")); status != 200 {
		t.Errorf("exchange: %d %v", status, m)
	}
}

func TestDingTalkOAPIBadBody(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.appToken(t, appMain, secMain)
	hdr := http.Header{"Content-Type": {"application/json"}}
	status, _, b := e.do(t, "POST", "/topapi/user/getbyunionid?access_token="+tok, hdr, strings.NewReader(`{"unionid":`))
	if status != 200 || !strings.Contains(string(b), `"errcode":40035`) {
		t.Errorf("%d %s", status, b)
	}
}
