package dingtalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// mapClaims applies claims templates to attributes the way dingoidc's
// claims mapping does: missing keys give nothing, empty results are
// omitted, groups is split on newlines, email_verified is a boolean.
func mapClaims(t *testing.T, templates map[string]string, attrs map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for name, src := range templates {
		tpl, err := template.New(name).Option("missingkey=zero").Funcs(upstream.TemplateFuncs()).Parse(src)
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		var buf bytes.Buffer
		if err := tpl.Execute(&buf, attrs); err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		v := strings.TrimSpace(strings.ReplaceAll(buf.String(), "<no value>", ""))
		switch {
		case v == "":
		case name == "groups":
			out[name] = strings.Split(v, "\n")
		case name == "email_verified":
			out[name] = v == "true"
		default:
			out[name] = v
		}
	}
	if _, ok := out["email"]; ok {
		if _, set := out["email_verified"]; !set {
			out["email_verified"] = true
		}
	}
	return out
}

func TestLoginURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"corp, not preselected", nil,
			"/oauth2/auth?redirect_uri=https%3A%2F%2Fsso.example%2Flogin%2Fdt%2Fcallback&response_type=code&client_id=" + testClientID +
				"&scope=openid&state=st%2Fa%20te&prompt=consent"},
		{"corp preselected", func(c *Config) { c.PreselectCorp = true },
			"/oauth2/auth?redirect_uri=https%3A%2F%2Fsso.example%2Flogin%2Fdt%2Fcallback&response_type=code&client_id=" + testClientID +
				"&scope=openid%20corpid&state=st%2Fa%20te&prompt=consent&corpId=" + testCorpID},
		{"any DingTalk user", func(c *Config) { c.CorpID, c.AllowAnyDingTalkUser = "", true },
			"/oauth2/auth?redirect_uri=https%3A%2F%2Fsso.example%2Flogin%2Fdt%2Fcallback&response_type=code&client_id=" + testClientID +
				"&scope=openid&state=st%2Fa%20te&prompt=consent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			got, err := h.p.LoginURL(t.Context(), upstream.LoginRequest{
				State: "st/a te", RedirectURI: "https://sso.example/login/dt/callback", Locale: "zh-CN",
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := h.login.URL + tc.want; got != want {
				t.Errorf("login URL\n got %s\nwant %s", got, want)
			}
			u, _ := url.Parse(got)
			if s := u.Query().Get("state"); s != "st/a te" {
				t.Errorf("state decodes to %q", s)
			}
		})
	}
	h := newHarness(t, nil)
	if _, err := h.p.LoginURL(t.Context(), upstream.LoginRequest{RedirectURI: "https://sso.example/cb"}); err == nil {
		t.Error("no state: no error")
	}
}

// TestFullFlow follows the login page's redirect and exchanges what comes
// back, reading authCode first and code when authCode is absent.
func TestFullFlow(t *testing.T) {
	h := newHarness(t, nil)
	h.set(func() { h.scanAs = "zhangsan" })
	const cb = "https://sso.example/login/dt/callback"
	loginURL, err := h.p.LoginURL(t.Context(), upstream.LoginRequest{State: "state-1", RedirectURI: cb})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, keep := range []string{"authCode", "code"} {
		t.Run(keep, func(t *testing.T) {
			resp, err := noRedirect.Get(loginURL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			back, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(back.String(), cb+"?") {
				t.Fatalf("login page sent the browser to %q (%v)", back, err)
			}
			q := back.Query()
			if q.Get("state") != "state-1" {
				t.Errorf("state %q", q.Get("state"))
			}
			if keep == "code" {
				q.Del("authCode")
			} else {
				q.Del("code")
			}
			id, err := h.p.Exchange(t.Context(), q, cb)
			if err != nil {
				t.Fatal(err)
			}
			if id.ExternalID != "z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ" {
				t.Errorf("ExternalID %q", id.ExternalID)
			}
		})
	}
}

func TestMemberLogin(t *testing.T) {
	h := newHarness(t, nil)
	attrs, err := h.signIn(t, "zhangsan")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"nick":           "张三",
		"avatarUrl":      "https://static-legacy.dingtalk.com/media/lADPDg7mViaksW3NBJPNBJI_1170_1171.jpg",
		"avatar":         "https://static-legacy.dingtalk.com/media/lADPDg7mViaksW3NBJPNBJI_1170_1171.jpg",
		"mobile":         "13800138000",
		"stateCode":      "86",
		"openId":         "Fs6aowRrjlDjg1IwCJtzwpiiEiE",
		"unionId":        "z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ",
		"personal_email": "zhangsan1988@qq.example",
		"corp_id":        testCorpID,
		"userid":         "manager4220",
		"username":       "manager4220",
		"contact_type":   "member",
		"name":           "张三",
		"org_email":      "zhangsan@corp.example",
		"work_email":     "zs@corp-directory.example",
		"job_number":     "A0042",
		"title":          "运维主管",
		"admin":          true,
		"roles":          []string{"主管理员", "运维负责人"},
		// 559126092 no longer exists (60003): left out of groups.
		"groups":   []string{"运维组", "平台研发部"},
		"dept_ids": []string{"559126090", "559126091", "559126092"},
	}
	if !reflect.DeepEqual(attrs, want) {
		t.Errorf("attributes\n got %#v\nwant %#v", attrs, want)
	}

	claims := mapClaims(t, h.p.DefaultClaims(), attrs)
	wantClaims := map[string]any{
		"name":               "张三",
		"nickname":           "张三",
		"preferred_username": "manager4220",
		"email":              "zhangsan@corp.example",
		"email_verified":     true,
		"phone_number":       "+86 13800138000",
		"picture":            "https://static-legacy.dingtalk.com/media/lADPDg7mViaksW3NBJPNBJI_1170_1171.jpg",
		"union_id":           "z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ",
		"userid":             "manager4220",
		"corp_id":            testCorpID,
		"job_number":         "A0042",
		"groups":             []string{"运维组", "平台研发部"},
	}
	if !reflect.DeepEqual(claims, wantClaims) {
		t.Errorf("claims\n got %#v\nwant %#v", claims, wantClaims)
	}

	// A second login reuses the app token and the department names.
	if _, err := h.signIn(t, "zhangsan"); err != nil {
		t.Fatal(err)
	}
	if n := h.count("/v1.0/oauth2/accessToken"); n != 1 {
		t.Errorf("%d app token calls, want 1", n)
	}
	if n := h.count("/topapi/v2/department/get"); n != 3 {
		t.Errorf("%d department calls, want 3 (cached)", n)
	}
	// After the cache's 10 minutes they are read again.
	h.clock.Add(11 * time.Minute)
	if _, err := h.signIn(t, "zhangsan"); err != nil {
		t.Fatal(err)
	}
	if n := h.count("/topapi/v2/department/get"); n != 6 {
		t.Errorf("%d department calls, want 6", n)
	}
}

// TestMemberWithoutASCIIUserID: no org e-mail (and the personal one is
// not trusted), a userid that is no username, so the template decides.
func TestMemberWithoutASCIIUserID(t *testing.T) {
	for _, tc := range []struct {
		name, template string
		want           any // preferred_username, nil for none
	}{
		{"no template", "", nil},
		{"job number", "{{ascii .job_number}}", "b-0043"},
		{"not ASCII-safe", "{{.name}}", nil},
		{"missing attribute", "{{.no_such}}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.UsernameTemplate = tc.template })
			attrs, err := h.signIn(t, "lisi")
			if err != nil {
				t.Fatal(err)
			}
			claims := mapClaims(t, h.p.DefaultClaims(), attrs)
			if got := claims["preferred_username"]; got != tc.want {
				t.Errorf("preferred_username %#v, want %#v", got, tc.want)
			}
			if _, ok := claims["email"]; ok {
				t.Errorf("email %v for a member without org_email (personal e-mail is not trusted with a corp)", claims["email"])
			}
			if claims["name"] != "李四" || claims["userid"] != "李四01" || claims["picture"] != nil {
				t.Errorf("claims %v", claims)
			}
			if !reflect.DeepEqual(claims["groups"], []string{"平台研发部"}) {
				t.Errorf("groups %v", claims["groups"])
			}
		})
	}
}

// TestSyntheticEmail: the config's claims.email can give everybody an
// address.
func TestSyntheticEmail(t *testing.T) {
	h := newHarness(t, nil)
	tpl := h.p.DefaultClaims()
	tpl["email"] = "{{with .org_email}}{{.}}{{else}}{{with .job_number}}{{lower .}}@staff.example.com{{end}}{{end}}"
	for person, want := range map[string]string{"zhangsan": "zhangsan@corp.example", "lisi": "b-0043@staff.example.com"} {
		attrs, err := h.signIn(t, person)
		if err != nil {
			t.Fatal(err)
		}
		if got := mapClaims(t, tpl, attrs)["email"]; got != want {
			t.Errorf("%s: email %v, want %s", person, got, want)
		}
	}
}

func TestAnyDingTalkUser(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.CorpID, c.AllowAnyDingTalkUser = "", true
		c.UsernameTemplate = "{{lower .unionId}}"
	})
	attrs, err := h.signIn(t, "wangwu") // not in the corp: irrelevant here
	if err != nil {
		t.Fatal(err)
	}
	if n := h.count("/v1.0/oauth2/accessToken") + h.count("/topapi/user/getbyunionid"); n != 0 {
		t.Errorf("%d org calls without a corp", n)
	}
	claims := mapClaims(t, h.p.DefaultClaims(), attrs)
	want := map[string]any{
		"name":               "王五",
		"nickname":           "王五",
		"preferred_username": "wangwuunionidnotincorp00ie",
		"email":              "wangwu@163.example",
		"email_verified":     false,
		"phone_number":       "+86 13700137000",
		"picture":            "https://static-legacy.dingtalk.com/media/wangwu.jpg",
		"union_id":           "wangwuUnionIdNotInCorp00iE",
		// No corp_id: the token answer names one only for scope corpid,
		// and wangwu is in no organisation.
	}
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims\n got %#v\nwant %#v", claims, want)
	}
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name, person string
		mutate       func(*Config)
		kind         error
		detail       string
	}{
		{"not a member", "wangwu", nil, upstream.ErrNotAllowed, "not a member of corp " + testCorpID},
		{"external contact", "zhaoliu", nil, upstream.ErrNotAllowed, "external contact"},
		{"disabled", "sunqi", nil, upstream.ErrNotAllowed, "disabled"},
		{"bad secret", "zhangsan", func(c *Config) { c.ClientSecret = "wrong-secret-value" }, upstream.ErrUnavailable,
			`rejected client_id "` + testClientID + `" and its client_secret`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			_, err := h.signIn(t, tc.person)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %v, want %v with %q", err, tc.kind, tc.detail)
			}
			if strings.Contains(err.Error(), "wrong-secret-value") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestExternalContactAdmitted(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AdmitExternalContacts = true })
	attrs, err := h.signIn(t, "zhaoliu")
	if err != nil {
		t.Fatal(err)
	}
	if attrs["contact_type"] != "external" || attrs["userid"] != "0134560243351156789" || attrs["corp_id"] != testCorpID {
		t.Errorf("attributes %v", attrs)
	}
	if n := h.count("/topapi/v2/user/get"); n != 0 {
		t.Errorf("%d profile calls for an external contact", n)
	}
	// Members still log in as before.
	if _, err := h.signIn(t, "zhangsan"); err != nil {
		t.Fatal(err)
	}
}

func TestCallback(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name string
		cb   url.Values
		kind error
	}{
		{"cancelled", url.Values{"error": {"access_denied"}, "state": {"s"}}, upstream.ErrDenied},
		{"no code", url.Values{"state": {"s"}}, upstream.ErrDenied},
		{"unknown code", url.Values{"authCode": {"no-such-code"}}, upstream.ErrCodeInvalid},
		{"absurd code", url.Values{"authCode": {strings.Repeat("x", 600)}}, upstream.ErrCodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.p.Exchange(t.Context(), tc.cb, "https://sso.example/cb")
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error %v, want %v", err, tc.kind)
			}
		})
	}
	if n := h.count("/v1.0/oauth2/userAccessToken"); n != 1 {
		t.Errorf("%d token calls, want 1 (only the unknown code)", n)
	}
}

func TestReusedCode(t *testing.T) {
	h := newHarness(t, nil)
	code := h.issueCode("zhangsan")
	cb := url.Values{"authCode": {code}, "state": {"s"}}
	if _, err := h.p.Exchange(t.Context(), cb, ""); err != nil {
		t.Fatal(err)
	}
	_, err := h.p.Exchange(t.Context(), cb, "")
	if !errors.Is(err, upstream.ErrCodeInvalid) {
		t.Fatalf("second use: %v, want ErrCodeInvalid", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "invalidParameter.authCode.notFound" || ae.RequestID == "" {
		t.Errorf("APIError %+v", ae)
	}
	h.noSecrets(t, "error", err.Error())
}

func TestMissingPermissionNamed(t *testing.T) {
	h := newHarness(t, nil)
	h.set(func() { h.meForbidden = true })
	_, err := h.signIn(t, "zhangsan")
	if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "app lacks permission Contact.User.Read") {
		t.Fatalf("error %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || !slices.Equal(ae.RequiredScopes, []string{"Contact.User.Read"}) {
		t.Errorf("APIError %+v", ae)
	}
}

func TestOAPIErrorsClassified(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"oapi_error_bad_appkey.json", `rejected client_id "` + testClientID + `"`},
		{"oapi_error_no_permission.json", "app lacks the permission for look up unionid"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			h := newHarness(t, nil)
			h.set(func() {
				h.people["zhangsan"] = fakePerson{Me: h.people["zhangsan"].Me, GetByUnionID: testdata(t, tc.file)}
			})
			_, err := h.signIn(t, "zhangsan")
			if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrUnavailable with %q", err, tc.want)
			}
			var oe *OAPIError
			if !errors.As(err, &oe) {
				t.Errorf("no *OAPIError in %v", err)
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	for _, path := range []string{
		"/v1.0/oauth2/userAccessToken", "/v1.0/contact/users/me", "/v1.0/oauth2/accessToken",
		"/topapi/user/getbyunionid", "/topapi/v2/user/get", "/topapi/v2/department/get",
	} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, nil)
			h.set(func() { h.serverError[path] = true })
			_, err := h.signIn(t, "zhangsan")
			if !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("error %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	for _, path := range []string{
		"/v1.0/oauth2/userAccessToken", "/v1.0/contact/users/me", "/v1.0/oauth2/accessToken",
		"/topapi/user/getbyunionid", "/topapi/v2/user/get", "/topapi/v2/department/get",
	} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
			h.set(func() { h.delay[path] = 2 * time.Second })
			start := time.Now()
			_, err := h.signIn(t, "zhangsan")
			if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), "no answer within 50ms") {
				t.Fatalf("error %v, want an ErrUnavailable timeout", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s", d)
			}
			if strings.Contains(err.Error(), "access_token=") {
				t.Errorf("error shows the app token's query: %v", err)
			}
		})
	}
	// The person's own deadline counts too.
	h := newHarness(t, nil)
	h.set(func() { h.delay["/v1.0/contact/users/me"] = 2 * time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := h.p.Exchange(ctx, url.Values{"authCode": {h.issueCode("zhangsan")}}, "")
	if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		me   map[string]any
	}{
		{"no unionId", map[string]any{"nick": "x"}},
		{"unionId of the wrong type", map[string]any{"unionId": []int{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.CorpID, c.AllowAnyDingTalkUser = "", true })
			h.set(func() { h.people["zhangsan"] = fakePerson{Me: tc.me} })
			_, err := h.signIn(t, "zhangsan")
			if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, errShape) {
				t.Fatalf("error %v", err)
			}
		})
	}
	t.Run("profile of another person", func(t *testing.T) {
		h := newHarness(t, nil)
		p := h.people["zhangsan"]
		p.UserGet = h.people["lisi"].UserGet
		p.GetByUnionID = h.people["lisi"].GetByUnionID
		h.set(func() { h.people["zhangsan"] = p })
		_, err := h.signIn(t, "zhangsan")
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "another person") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("HTML from a proxy", func(t *testing.T) {
		srv := newHTMLServer(t)
		h := newHarness(t, nil)
		cfg := h.p.cfg
		cfg.APIHost = srv
		p, err := New(cfg, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Exchange(t.Context(), url.Values{"authCode": {"c0de"}}, "")
		if !errors.Is(err, upstream.ErrUnavailable) || strings.Contains(err.Error(), "<html>") {
			t.Fatalf("error %v", err)
		}
	})
}

func newHTMLServer(t *testing.T) string {
	t.Helper()
	srv := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
	}))
	return srv
}

// TestAppTokenSharedByConcurrentLogins: 50 logins at once, one app token.
func TestAppTokenSharedByConcurrentLogins(t *testing.T) {
	h := newHarness(t, nil)
	h.set(func() { h.delay["/v1.0/oauth2/accessToken"] = 100 * time.Millisecond })
	const n = 50
	codes := make([]string, n)
	for i := range codes {
		codes[i] = h.issueCode("zhangsan")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = h.p.Exchange(t.Context(), url.Values{"authCode": {codes[i]}}, "")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if c := h.count("/v1.0/oauth2/accessToken"); c != 1 {
		t.Errorf("%d app token calls, want 1", c)
	}
	if c := h.count("/topapi/v2/department/get"); c > 3 {
		t.Errorf("%d department calls, want at most 3", c)
	}
	if c := h.count("/topapi/user/getbyunionid"); c != n {
		t.Errorf("%d membership calls, want %d", c, n)
	}
}

// TestAppTokenRenewal: renewed before it expires, renewed at once when
// DingTalk refuses it (errcode 88 / sub_code 40014), and an early renewal
// that fails keeps the still-valid token.
func TestAppTokenRenewal(t *testing.T) {
	h := newHarness(t, nil)
	login := func() {
		t.Helper()
		if _, err := h.signIn(t, "zhangsan"); err != nil {
			t.Fatal(err)
		}
	}
	calls := func(want int) {
		t.Helper()
		if got := h.count("/v1.0/oauth2/accessToken"); got != want {
			t.Errorf("%d app token calls, want %d", got, want)
		}
	}
	login()
	calls(1)

	h.clock.Add(100 * time.Minute) // 2h token, renewed 10 minutes early
	login()
	calls(1)
	h.clock.Add(11 * time.Minute)
	login()
	calls(2)

	// DingTalk forgets the token: one refusal, one renewal, success.
	h.revokeAppTokens()
	before := h.count("/topapi/user/getbyunionid")
	login()
	calls(3)
	if got := h.count("/topapi/user/getbyunionid") - before; got != 2 {
		t.Errorf("%d membership calls, want 2 (refused, retried)", got)
	}
	if !strings.Contains(h.logs.String(), "refused the app token") {
		t.Error("the renewal is not logged")
	}

	// Renewal due but DingTalk's token endpoint is down: the current
	// token, still valid, goes on working.
	h.clock.Add(115 * time.Minute)
	h.set(func() { h.serverError["/v1.0/oauth2/accessToken"] = true })
	login()
	calls(4)
	// Once expired, logins fail until the endpoint is back.
	h.clock.Add(10 * time.Minute)
	if _, err := h.signIn(t, "zhangsan"); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("expired token, endpoint down: %v", err)
	}
	h.set(func() { h.serverError["/v1.0/oauth2/accessToken"] = false })
	login()
}

// TestAppTokenRefusedTwice: a token refused even when fresh is reported,
// not retried forever.
func TestAppTokenRefusedTwice(t *testing.T) {
	h := newHarness(t, nil)
	h.set(func() {
		h.people["zhangsan"] = fakePerson{Me: h.people["zhangsan"].Me, GetByUnionID: testdata(t, "oapi_error_bad_token.json")}
	})
	_, err := h.signIn(t, "zhangsan")
	if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "refused a fresh app token") {
		t.Fatalf("error %v", err)
	}
	if n := h.count("/topapi/user/getbyunionid"); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestNoRedirects(t *testing.T) {
	var hit bool
	evil := httptestServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	api := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	f := newFake(t, nil)
	cfg := f.config()
	cfg.APIHost = api
	p, err := New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Exchange(t.Context(), url.Values{"authCode": {"c0de"}}, "")
	if !errors.Is(err, upstream.ErrUnavailable) || hit {
		t.Errorf("error %v, redirect followed %t", err, hit)
	}
}

func TestDefaultClaimsParse(t *testing.T) {
	for _, corp := range []string{"", testCorpID} {
		p, err := New(Config{ClientID: "k", ClientSecret: "s", CorpID: corp, AllowAnyDingTalkUser: corp == ""}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		tpl := p.DefaultClaims()
		for _, name := range slices.Sorted(maps.Keys(tpl)) {
			if _, err := template.New(name).Funcs(upstream.TemplateFuncs()).Parse(tpl[name]); err != nil {
				t.Errorf("corp %q claim %s: %v", corp, name, err)
			}
		}
		// Nothing at all gives no claims.
		if c := mapClaims(t, tpl, map[string]any{}); len(c) != 0 {
			t.Errorf("claims of nothing: %v", c)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{
		LoginHost: "ftp://login", APIHost: "http://api.dingtalk.com", OAPIHost: "https://oapi/?x=1",
		ClientSecret: "has space", AllowAnyDingTalkUser: true, PreselectCorp: true, AdmitExternalContacts: true,
		Timeout: -time.Second, UsernameTemplate: "{{.x",
	}.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		keys = append(keys, strings.SplitN(e.Error(), ":", 2)[0])
	}
	want := []string{"login_host", "api_host", "oapi_host", "client_id", "client_secret",
		"admit_external_contacts", "preselect_corp", "timeout", "username_template"}
	if !slices.Equal(keys, want) {
		t.Errorf("problems %q\nwant keys %q\n%v", keys, want, err)
	}
	if strings.Contains(err.Error(), "has space") {
		t.Errorf("the secret is shown: %v", err)
	}
	ok := Config{ClientID: "k", ClientSecret: "s", AllowAnyDingTalkUser: true, LoginHost: "http://127.0.0.1:9/sim/"}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
	d := ok.withDefaults()
	if d.LoginHost != "http://127.0.0.1:9/sim" || d.APIHost != DefaultAPIHost || d.OAPIHost != DefaultOAPIHost || d.Timeout != DefaultTimeout {
		t.Errorf("defaults %+v", d)
	}
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New accepts an empty config")
	}
}

func TestConfigRedacted(t *testing.T) {
	c := Config{ClientID: "k", ClientSecret: testClientSecret}
	var buf bytes.Buffer
	logger := slogJSON(&buf)
	logger.Info("cfg", "cfg", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(), buf.String()} {
		if strings.Contains(s, testClientSecret) || !strings.Contains(s, "[redacted]") {
			t.Errorf("not redacted: %s", s)
		}
	}
}
