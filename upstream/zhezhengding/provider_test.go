package zhezhengding

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

func TestLoginURLs(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Embed = true; c.LoginHost = "https://login.example.gov.cn:8443" })
	req := upstream.LoginRequest{State: "s t&ate", RedirectURI: "https://sso.example.gov.cn/login/zzd/callback", Locale: "zh-CN"}
	got, err := e.p.LoginURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://login.example.gov.cn:8443/oauth2/auth.htm?response_type=code&client_id=dingoidc_dingoa" +
		"&redirect_uri=https%3A%2F%2Fsso.example.gov.cn%2Flogin%2Fzzd%2Fcallback&scope=get_user_info&authType=QRCODE&state=s+t%26ate"
	if got != want {
		t.Errorf("LoginURL\n got %s\nwant %s", got, want)
	}
	if !e.p.Embedded() {
		t.Error("Embedded() = false with Embed set")
	}
	frame, origin, err := e.p.FrameURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	wantFrame := strings.Replace(want, "&authType=QRCODE", "&authType=QRCODE&embedMode=true", 1)
	if frame != wantFrame || origin != "https://login.example.gov.cn:8443" {
		t.Errorf("FrameURL = %s, %s\nwant %s", frame, origin, wantFrame)
	}
	u, _ := url.Parse(frame)
	if q := u.Query(); q.Get("state") != req.State || q.Get("redirect_uri") != req.RedirectURI || q.Get("embedMode") != "true" {
		t.Errorf("frame query %v", q)
	}
	if e.gw.count(tokenPath) != 0 {
		t.Error("building a login URL called the gateway")
	}
}

func TestOrigin(t *testing.T) {
	for host, want := range map[string]string{
		"https://login-pro.ding.zj.gov.cn":         "https://login-pro.ding.zj.gov.cn",
		"https://Login.DG-Work.cn:443":             "https://login.dg-work.cn",
		"http://127.0.0.1:8080/sim/zzd":            "http://127.0.0.1:8080",
		"http://[::1]:80":                          "http://[::1]",
		"https://login.example.gov.cn:8443/prefix": "https://login.example.gov.cn:8443",
	} {
		if got := origin(host); got != want {
			t.Errorf("origin(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestExchangeScan(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AllowedTenants = []int64{1, testTenant} })
	id, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
	if err != nil {
		t.Fatal(err)
	}
	if id.ExternalID != "90071992547409931" { // beyond float64's precision
		t.Errorf("ExternalID = %q", id.ExternalID)
	}
	if !slices.Equal(id.AMR, []string{"qr"}) {
		t.Errorf("AMR = %v", id.AMR)
	}
	want := map[string]any{
		"accountId": "90071992547409931", "account": "zhangsan", "lastName": "张三", "nickNameCn": "三哥",
		"employeeCode": "GE_4f1c2d9a0b3e4c5d8e7f6a5b4c3d2e1f", "tenantUserId": "196729$90071992547409931",
		"realmId": "196729", "tenantId": "196729", "realmName": "浙江省某某厅", "tenantName": "浙江省某某厅",
		"namespace": "local", "clientId": "dingoidc_dingoa", "avatar": "https://static.example.gov.cn/avatar/zhangsan.png",
	}
	if len(id.Attributes) != len(want) {
		t.Errorf("attributes %v", id.Attributes)
	}
	for k, v := range want {
		if id.Attributes[k] != v {
			t.Errorf("attribute %s = %#v, want %#v", k, id.Attributes[k], v)
		}
	}
	// The code went in the form body, with the token.
	e.gw.mu.Lock()
	params := e.gw.params[scanUserPath][0]
	e.gw.mu.Unlock()
	if len(params["code"]) != 1 || !strings.HasPrefix(firstOf(params["access_token"]), "app_") || len(params) != 2 {
		t.Errorf("getuserinfo_bycode params %v", params)
	}
}

func TestDefaultClaims(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Enrich = true })
	tests := []struct {
		name  string
		attrs map[string]any
		want  map[string]string
	}{
		{
			name: "employee with groups",
			attrs: map[string]any{
				"accountId": "90071992547409931", "account": "zhangsan", "lastName": "张三", "nickNameCn": "三哥",
				"employeeCode": "GE_1", "tenantId": "196729", "realmId": "196729", "tenantName": "某厅", "realmName": "某厅",
				"avatar": "https://a.example/x.png", "groups": []string{"办公室", "信息中心"},
			},
			want: map[string]string{
				"name": "张三", "nickname": "三哥", "preferred_username": "zhangsan", "employee_code": "GE_1",
				"account_id": "90071992547409931", "tenant_id": "196729", "tenant_name": "某厅",
				"picture": "https://a.example/x.png", "groups": "办公室\n信息中心",
			},
		},
		{
			name:  "super-admin, realm only",
			attrs: map[string]any{"accountId": "1", "account": "admin", "lastName": "管理员", "realmId": "7", "realmName": "某局"},
			want: map[string]string{
				"name": "管理员", "preferred_username": "admin", "account_id": "1", "tenant_id": "7", "tenant_name": "某局",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderClaims(t, e.p.DefaultClaims(), tt.attrs)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("claim %s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected claim %s = %q", k, v)
				}
			}
		})
	}
	if _, ok := e.p.DefaultClaims()["email"]; ok {
		t.Error("a default email claim: Zhezhengding has no e-mail addresses")
	}
}

// renderClaims executes templates as idp does: missing keys give no claim.
func renderClaims(t *testing.T, templates map[string]string, attrs map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, src := range templates {
		tpl, err := template.New(name).Option("missingkey=zero").Parse(src)
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		var buf bytes.Buffer
		if err := tpl.Execute(&buf, attrs); err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		if v := strings.TrimSpace(strings.ReplaceAll(buf.String(), "<no value>", "")); v != "" {
			out[name] = v
		}
	}
	return out
}

func TestHeadersAndUniqueNonces(t *testing.T) {
	e := newTestEnv(t, nil) // the clock stands still: nonces must differ anyway
	for range 100 {
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatal(err)
		}
	}
	e.gw.mu.Lock()
	defer e.gw.mu.Unlock()
	if len(e.gw.requestHeaders) != 101 || len(e.gw.nonces) != 101 {
		t.Errorf("%d requests, %d distinct nonces; want 101 each", len(e.gw.requestHeaders), len(e.gw.nonces))
	}
	for _, h := range e.gw.requestHeaders {
		if h.Get(HeaderAPIKey) != testAppKey || h.Get(HeaderTimestamp) != "2024-01-01T12:00:00.000+08:00" ||
			h.Get(HeaderSignature) == "" || h.Get(HeaderVersion) != "1.0" {
			t.Errorf("headers %v", h)
			break
		}
		if !strings.HasPrefix(h.Get(HeaderNonce), "1704081600000") {
			t.Errorf("nonce %s does not start with the time in ms", h.Get(HeaderNonce))
		}
	}
}

func TestTokenCachedAcrossConcurrentLogins(t *testing.T) {
	e := newTestEnv(t, nil)
	e.gw.setFault(tokenPath, faultSlow) // let the callers pile up
	codes := make([]string, 50)
	for i := range codes {
		codes[i] = e.gw.newCode("getuserinfo_bycode.json")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(codes))
	for i, c := range codes {
		wg.Go(func() { _, errs[i] = e.exchange(t, c) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := e.gw.count(tokenPath); n != 1 {
		t.Errorf("%d token calls for 50 concurrent logins, want 1", n)
	}
	if n := e.gw.count(scanUserPath); n != 50 {
		t.Errorf("%d user calls, want 50", n)
	}
}

func TestTokenRefreshedEarly(t *testing.T) {
	e := newTestEnv(t, nil)
	login := func() {
		t.Helper()
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name       string
		advance    time.Duration
		tokenFault fault
		wantTokens int
	}{
		{"first login fetches", 0, faultNone, 1},
		{"cached", 90 * time.Minute, faultNone, 1},
		// The gateway repeats the token with its remaining lifetime (23m).
		{"refreshed at 80% of 2h", 7 * time.Minute, faultNone, 2},
		{"cached for 80% of what remained", 10 * time.Minute, faultNone, 2},
		{"refresh fails, old token still valid", 10 * time.Minute, faultGateway, 3},
		{"retried on the next login", time.Minute, faultNone, 4},
	}
	for _, s := range steps {
		e.clock.Advance(s.advance)
		e.gw.setFault(tokenPath, s.tokenFault)
		login()
		if n := e.gw.count(tokenPath); n != s.wantTokens {
			t.Fatalf("%s: %d token calls, want %d", s.name, n, s.wantTokens)
		}
	}
	if !strings.Contains(e.logs.String(), "using the current one") {
		t.Errorf("no warning about the failed refresh:\n%s", e.logs)
	}

	// Past its expiry a token whose refresh fails is not used.
	e.clock.Advance(3 * time.Hour)
	e.gw.setFault(tokenPath, faultGateway)
	if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("err %v, want ErrUnavailable", err)
	}
}

func TestExpiresIn(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn any
		wantErr   bool
		refetch   time.Duration // still cached just before, refetched just after
	}{
		{"number", 7200, false, 96 * time.Minute},
		{"string", "7200", false, 96 * time.Minute},
		{"remaining lifetime", 600, false, 8 * time.Minute},
		{"float", 7200.0, false, 96 * time.Minute},
		{"missing", nil, true, 0},
		{"zero", 0, true, 0},
		{"not a number", "soon", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			e.gw.setExpiresIn(tt.expiresIn)
			_, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
			if tt.wantErr {
				if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, ErrUnexpectedAnswer) {
					t.Errorf("err %v, want ErrUnavailable with ErrUnexpectedAnswer", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.refetch - time.Second)
			e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
			if n := e.gw.count(tokenPath); n != 1 {
				t.Errorf("%d token calls before %s, want 1", n, tt.refetch)
			}
			e.clock.Advance(2 * time.Second)
			e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
			if n := e.gw.count(tokenPath); n != 2 {
				t.Errorf("%d token calls after %s, want 2", n, tt.refetch)
			}
		})
	}
}

func TestParseTokenCaptured(t *testing.T) {
	for _, f := range []string{"gettoken.json", "gettoken_string.json"} {
		data, err := ParseEnvelope(readTestdata(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tok, life, err := parseToken(data)
		if err != nil || tok != "app_0123456789abcdef0123456789abcdef" || life != 2*time.Hour {
			t.Errorf("%s: %q %s %v", f, tok, life, err)
		}
	}
}

func TestInvalidTokenRefreshedAndRetriedOnce(t *testing.T) {
	t.Run("revoked token", func(t *testing.T) {
		e := newTestEnv(t, nil)
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatal(err)
		}
		e.gw.revokeTokens()
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatal(err)
		}
		if tok, user := e.gw.count(tokenPath), e.gw.count(scanUserPath); tok != 2 || user != 3 {
			t.Errorf("%d token calls, %d user calls; want 2 and 3", tok, user)
		}
		// The new token is cached.
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil || e.gw.count(tokenPath) != 2 {
			t.Errorf("err %v, %d token calls", err, e.gw.count(tokenPath))
		}
	})
	t.Run("always refused", func(t *testing.T) {
		e := newTestEnv(t, nil)
		e.gw.setFault(scanUserPath, faultToken)
		_, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "240133") {
			t.Errorf("err %v, want ErrUnavailable with 240133", err)
		}
		if tok, user := e.gw.count(tokenPath), e.gw.count(scanUserPath); tok != 2 || user != 2 {
			t.Errorf("%d token calls, %d user calls; want 2 and 2 (one retry)", tok, user)
		}
		e.checkNoSecrets(t, "error", err.Error())
	})
}

// TestNonceTakenByAnotherReplica: replicas sharing an app_key make nonces
// unique each in its own process only, so the gateway may answer
// SignatureNonceUsed; the call is sent once more with a fresh nonce, and
// a second refusal is an outage, not a configuration problem.
func TestNonceTakenByAnotherReplica(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		e := newTestEnv(t, nil)
		e.gw.setFault(scanUserPath, faultNonceUsedOnce)
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatalf("a nonce refused once failed the login: %v", err)
		}
		if n := e.gw.count(scanUserPath); n != 2 {
			t.Errorf("%d user calls, want 2 (one retry)", n)
		}
	})
	t.Run("always", func(t *testing.T) {
		e := newTestEnv(t, nil)
		e.gw.setFault(scanUserPath, faultNonceUsed)
		_, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "0008") {
			t.Errorf("err %v, want ErrUnavailable with -0008", err)
		}
		if err != nil && strings.Contains(err.Error(), "check app_key") {
			t.Errorf("a reused nonce is blamed on the configuration: %v", err)
		}
		if n := e.gw.count(scanUserPath); n != 2 {
			t.Errorf("%d user calls, want 2 (one retry)", n)
		}
	})
}

func TestExchangeErrors(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Config)
		path     string // fault on this path
		fault    fault
		callback func(g *simGateway) url.Values
		want     error
		wantMsg  []string
	}{
		{
			name:     "unknown code",
			callback: func(*simGateway) url.Values { return url.Values{"code": {randomHex(20)}} },
			want:     upstream.ErrCodeInvalid,
			wantMsg:  []string{"exchange scan code: upstream: login code expired or already used: POST /rpc/oauth2/getuserinfo_bycode.json: api error 240111 code失效或不存在"},
		},
		{
			name:     "no code",
			callback: func(*simGateway) url.Values { return url.Values{"state": {"x"}} },
			want:     upstream.ErrCodeInvalid,
		},
		{
			name:     "malformed code",
			callback: func(*simGateway) url.Values { return url.Values{"code": {"a b"}} },
			want:     upstream.ErrCodeInvalid,
		},
		{
			name:    "gateway error on the login call",
			path:    scanUserPath,
			fault:   faultGateway,
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"exchange scan code: upstream: temporarily unavailable: POST /rpc/oauth2/getuserinfo_bycode.json: gateway OPF-B001-05-16-0009 SignatureDoesNotMatch"},
		},
		{
			name:    "wrong app secret",
			edit:    func(c *Config) { c.AppSecret = "WrongWrongWrongWrongWrongWrongWrongWrong" },
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"get app token: POST /gettoken.json: gateway OPF-B001-05-16-0009 SignatureDoesNotMatch"},
		},
		{
			name:    "unknown app key",
			edit:    func(c *Config) { c.AppKey = "nobody-123" },
			want:    upstream.ErrMisconfigured,
			wantMsg: []string{"InvalidAccessKeyId.NotFound"}, // the simulator's choice: never captured
		},
		{
			name:    "gateway echoes its string to sign",
			path:    scanUserPath,
			fault:   faultEchoGateway,
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"[redacted]"},
		},
		{
			name:    "http 500",
			path:    scanUserPath,
			fault:   faultStatus500,
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"http 500: gateway ServiceUnavailable backend unavailable"},
		},
		{
			name:    "http 502 page",
			fault:   faultHTML502,
			want:    ErrUnexpectedAnswer,
			wantMsg: []string{"temporarily unavailable", "http 502: unexpected answer: not a JSON object"},
		},
		{
			name:    "login call times out",
			edit:    func(c *Config) { c.Timeout = 100 * time.Millisecond },
			path:    scanUserPath,
			fault:   faultHang,
			want:    context.DeadlineExceeded,
			wantMsg: []string{"temporarily unavailable", "POST /rpc/oauth2/getuserinfo_bycode.json: request failed"},
		},
		{
			name:    "token call times out",
			edit:    func(c *Config) { c.Timeout = 100 * time.Millisecond },
			path:    tokenPath,
			fault:   faultHang,
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"POST /gettoken.json: request failed"},
		},
		{
			name:    "user of the wrong shape",
			path:    scanUserPath,
			fault:   faultGarbage,
			want:    ErrUnexpectedAnswer,
			wantMsg: []string{"temporarily unavailable", "user data is not an object"},
		},
		{
			name:    "tenant not allowed",
			edit:    func(c *Config) { c.AllowedTenants = []int64{12371} },
			want:    upstream.ErrNotAllowed,
			wantMsg: []string{"tenant 196729 of account 90071992547409931 is not in allowed_tenants [12371]"},
		},
		{
			name: "in-app code without an in-app app",
			callback: func(g *simGateway) url.Values {
				return url.Values{"auth_code": {g.newAuthCode("dingtalk_app_user.json")}}
			},
			want:    upstream.ErrUnavailable,
			wantMsg: []string{"inapp_app_key"},
		},
		{
			name: "unknown in-app code",
			edit: func(c *Config) { c.InAppKey, c.InAppSecret = testInAppKey, testInAppSecret },
			callback: func(*simGateway) url.Values {
				return url.Values{"auth_code": {randomHex(16)}}
			},
			want:    upstream.ErrCodeInvalid,
			wantMsg: []string{"exchange in-app code:", "240111"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, tt.edit)
			e.gw.setFault(tt.path, tt.fault)
			cb := url.Values{"code": {e.gw.newCode("getuserinfo_bycode.json")}}
			if tt.callback != nil {
				cb = tt.callback(e.gw)
			}
			id, err := e.p.Exchange(t.Context(), cb, "https://sso.example.gov.cn/cb")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if id != nil {
				t.Errorf("an identity with an error: %+v", id)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
			kinds := 0
			for _, k := range []error{upstream.ErrCodeInvalid, upstream.ErrNotAllowed, upstream.ErrDenied, upstream.ErrUnavailable} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Errorf("error %q wraps %d upstream kinds, want 1", err, kinds)
			}
			e.checkNoSecrets(t, "error", err.Error())
			for _, v := range cb {
				for _, c := range v {
					if len(c) > 4 && strings.Contains(err.Error(), c) {
						t.Errorf("error %q contains the code", err)
					}
				}
			}
		})
	}
}

func TestAPIErrorTyped(t *testing.T) {
	e := newTestEnv(t, nil)
	_, err := e.exchange(t, "0000000000000000000000000000000000000000")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "240111" || ae.Message != "code失效或不存在" || ae.RequestID == "" {
		t.Fatalf("err %v, want an *APIError 240111", err)
	}
	e.gw.setFault(scanUserPath, faultGateway)
	_, err = e.exchange(t, "0000000000000000000000000000000000000000")
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != "OPF-B001-05-16-0009" || ge.Message != "SignatureDoesNotMatch" {
		t.Fatalf("err %v, want a *GatewayError", err)
	}
}

func TestSuperAdminWithoutEmployeeCode(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Enrich = true; c.AllowedTenants = []int64{testTenant} })
	id, err := e.exchange(t, e.gw.newCode("getuserinfo_superadmin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if id.ExternalID != "11000021" || id.Attributes["account"] != "admin_zj" {
		t.Errorf("identity %+v", id)
	}
	if _, ok := id.Attributes["employeeCode"]; ok {
		t.Error("an employeeCode appeared")
	}
	if _, ok := id.Attributes["groups"]; ok {
		t.Error("groups without an employeeCode")
	}
	if n := e.gw.count(positionsPath); n != 0 {
		t.Errorf("%d position lookups without an employeeCode", n)
	}
	claims := renderClaims(t, e.p.DefaultClaims(), id.Attributes)
	if _, ok := claims["employee_code"]; ok || claims["name"] != "管理员" || claims["tenant_id"] != "196729" {
		t.Errorf("claims %v", claims)
	}
	if strings.Contains(e.logs.String(), "WARN") {
		t.Errorf("warnings for a super-admin:\n%s", e.logs)
	}
}

func TestInAppLogin(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.InAppKey, c.InAppSecret = testInAppKey, testInAppSecret })
	// A scan first: the two apps have their own tokens.
	if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		id, err := e.p.Exchange(t.Context(), url.Values{"auth_code": {e.gw.newAuthCode("dingtalk_app_user.json")}}, "")
		if err != nil {
			t.Fatal(err)
		}
		openid, _ := id.Attributes["openid"].(string)
		if id.ExternalID != "5550001" || !slices.Equal(id.AMR, []string{"app"}) ||
			len(openid) != 32 || id.Attributes["lastName"] != "李四" {
			t.Errorf("identity %+v", id)
		}
	}
	for key, want := range map[string]int{
		testAppKey + " " + tokenPath:       1,
		testInAppKey + " " + tokenPath:     1,
		testInAppKey + " " + inAppUserPath: 2,
		testAppKey + " " + inAppUserPath:   0,
	} {
		if n := e.gw.count(key); n != want {
			t.Errorf("%d calls %s, want %d", n, key, want)
		}
	}
}

func TestEnrichment(t *testing.T) {
	t.Run("groups, organisations cached", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.Enrich = true })
		for i := range 2 {
			id, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
			if err != nil {
				t.Fatal(err)
			}
			groups, _ := id.Attributes["groups"].([]string)
			if !slices.Equal(groups, []string{"办公室", "信息中心"}) { // main job first
				t.Errorf("login %d: groups %#v", i, id.Attributes["groups"])
			}
		}
		if p, o := e.gw.count(positionsPath), e.gw.count(organizationsPath); p != 2 || o != 1 {
			t.Errorf("%d position and %d organisation lookups, want 2 and 1", p, o)
		}
		e.gw.mu.Lock()
		pos, orgs := e.gw.params[positionsPath][0], e.gw.params[organizationsPath][0]
		e.gw.mu.Unlock()
		if len(pos) != 4 || firstOf(pos["employeeCode"]) != "GE_4f1c2d9a0b3e4c5d8e7f6a5b4c3d2e1f" || firstOf(pos["tenantId"]) != "196729" ||
			firstOf(pos["employeePositionType"]) != "EMPLOYEE_POSITION_ALL" || firstOf(pos["employeePositionStatus"]) != "A" {
			t.Errorf("position lookup params %v", pos)
		}
		if codes := orgs["organizationCodes"]; len(orgs) != 2 || len(codes) != 2 || firstOf(orgs["tenantId"]) != "196729" {
			t.Errorf("organisation lookup params %v", orgs)
		}
		// The names expire.
		e.clock.Advance(orgCacheTTL + time.Second)
		if _, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json")); err != nil {
			t.Fatal(err)
		}
		if o := e.gw.count(organizationsPath); o != 2 {
			t.Errorf("%d organisation lookups after the TTL, want 2", o)
		}
	})
	for _, tt := range []struct {
		name  string
		path  string
		fault fault
	}{
		{"positions fail", positionsPath, faultStatus500},
		{"organisations time out", organizationsPath, faultHang},
		{"positions of the wrong shape", positionsPath, faultGarbage},
		{"gateway error", organizationsPath, faultGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, func(c *Config) { c.Enrich = true; c.Timeout = 100 * time.Millisecond })
			e.gw.setFault(tt.path, tt.fault)
			id, err := e.exchange(t, e.gw.newCode("getuserinfo_bycode.json"))
			if err != nil {
				t.Fatalf("an enrichment failure failed the login: %v", err)
			}
			if _, ok := id.Attributes["groups"]; ok {
				t.Errorf("groups %v", id.Attributes["groups"])
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "organisations unavailable") ||
				!strings.Contains(logs, "upstream_type=zhezhengding") {
				t.Errorf("no warning:\n%s", logs)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := Config{
		LoginHost: "https://login.dg-work.cn", APIHost: "https://openplatform.dg-work.cn",
		AppCode: "x_dingoa", AppKey: "x-abc", AppSecret: "s",
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"valid", func(*Config) {}, nil},
		{"http and a path prefix", func(c *Config) { c.APIHost = "http://127.0.0.1:8080/sim/zzd" }, nil},
		{"empty", func(c *Config) { *c = Config{} }, []string{
			"login_host: required", "api_host: required", "app_code: required", "app_key: required", "app_secret: required",
		}},
		{"bad hosts", func(c *Config) { c.LoginHost = "login.dg-work.cn"; c.APIHost = "https://openplatform.dg-work.cn/" }, []string{
			`login_host: "login.dg-work.cn" must be an absolute https:// (or http://) URL`,
			`api_host: "https://openplatform.dg-work.cn/" must not end with '/'`,
		}},
		{"query", func(c *Config) { c.APIHost = "https://a.example?x=1" }, []string{"api_host: \"https://a.example?x=1\" must not have a query or fragment"}},
		{"half an in-app pair", func(c *Config) { c.InAppKey = "k" }, []string{"inapp_app_secret: required with inapp_app_key"}},
		{"other half", func(c *Config) { c.InAppSecret = "s" }, []string{"inapp_app_key: required with inapp_app_secret"}},
		{"tenants", func(c *Config) { c.AllowedTenants = []int64{5, 0, 5} }, []string{
			"allowed_tenants[1]: 0 is not a tenant id", "allowed_tenants[2]: 5 is listed twice",
		}},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"timeout: must not be negative"}},
		{"spaces", func(c *Config) { c.AppKey = "a b"; c.Scope = "a b" }, []string{
			"app_key: must not contain spaces or control characters", "scope: must not contain spaces or control characters",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %q, want prefix %q", got[i], tt.want[i])
				}
			}
		})
	}
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New accepted an empty config")
	}
}

func TestNonceSource(t *testing.T) {
	n := newNonceSource()
	at := time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 12000 { // more than one millisecond can hold
		s := n.next(at)
		if seen[s] || !nonceRE.MatchString(s) {
			t.Fatalf("nonce %q repeated or malformed", s)
		}
		seen[s] = true
	}
	// A clock going back does not reuse nonces.
	if s := n.next(at.Add(-time.Hour)); seen[s] {
		t.Fatalf("nonce %q repeated", s)
	}
}

// The AppSecret never travels in a URL: gateway and proxy access logs
// record URLs.
func TestAppSecretNotInURL(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer ts.Close()
	p, err := New(Config{LoginHost: ts.URL, APIHost: ts.URL, AppCode: "a_dingoa", AppKey: "k-1", AppSecret: "s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr"}, ts.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Exchange(t.Context(), url.Values{"code": {"4fa4fdd047db4e5c9c06335c6e6a9a000c0f8f01"}}, ts.URL+"/cb")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no request made")
	}
	for _, u := range seen {
		if strings.Contains(u, "s3cr3t") || strings.Contains(u, "appsecret") {
			t.Errorf("secret in URL %s", u)
		}
	}
}
