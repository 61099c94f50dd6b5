package dingtalk

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
)

func TestInAppLogin(t *testing.T) {
	h := newHarness(t, nil)
	id, err := h.p.Exchange(t.Context(), url.Values{"auth_code": {h.issueInAppCode("zhangsan")}, "state": {"s"}}, "https://sso.example/cb")
	if err != nil {
		t.Fatal(err)
	}
	if id.ExternalID != "z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ" || !reflect.DeepEqual(id.AMR, []string{"app"}) {
		t.Errorf("identity %q %v", id.ExternalID, id.AMR)
	}
	for k, v := range map[string]any{
		"unionId": "z21HjQliSzpw0YWCNxmii6u2Os62cZ62iSZ", "userid": "manager4220", "username": "manager4220",
		"name": "张三", "org_email": "zhangsan@corp.example", "contact_type": "member", "corp_id": testCorpID,
	} {
		if got := id.Attributes[k]; !reflect.DeepEqual(got, v) {
			t.Errorf("attribute %s = %#v, want %#v", k, got, v)
		}
	}
	if !reflect.DeepEqual(id.Attributes["groups"], []string{"运维组", "平台研发部"}) {
		t.Errorf("groups %v", id.Attributes["groups"])
	}
	if n := h.count("/v1.0/oauth2/userAccessToken") + h.count("/v1.0/contact/users/me"); n != 0 {
		t.Errorf("in-app login made %d scan-login calls", n)
	}
}

func TestInAppRefused(t *testing.T) {
	cases := []struct {
		name string
		code func(h *harness) string
		want error
	}{
		{"unknown code", func(*harness) string { return "nosuchcode0000" }, upstream.ErrCodeInvalid},
		{"malformed code", func(*harness) string { return "bad code" }, upstream.ErrCodeInvalid},
		{"used twice", func(h *harness) string {
			c := h.issueInAppCode("lisi")
			if _, err := h.p.Exchange(t.Context(), url.Values{"auth_code": {c}}, ""); err != nil {
				t.Fatal(err)
			}
			return c
		}, upstream.ErrCodeInvalid},
		{"disabled member", func(h *harness) string { return h.issueInAppCode("sunqi") }, upstream.ErrNotAllowed},
		{"app token refused", func(h *harness) string {
			h.set(func() { h.serverError["/v1.0/oauth2/accessToken"] = true })
			return h.issueInAppCode("zhangsan")
		}, upstream.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			_, err := h.p.Exchange(t.Context(), url.Values{"auth_code": {c.code(h)}}, "")
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			h.noSecrets(t, "error", fmt.Sprintf("%v", err))
		})
	}
}

func TestInAppScript(t *testing.T) {
	cases := []struct {
		name       string
		mutate     func(*Config)
		wantURL    string
		wantCorp   string
		wantOK     bool
		wantErrKey string
	}{
		{"default script", nil, DefaultJSAPIURL, testCorpID, true, ""},
		{"mirrored script", func(c *Config) { c.JSAPIURL = "https://cdn.gov.example/dd/dingtalk.open.js?v=3" }, "https://cdn.gov.example/dd/dingtalk.open.js?v=3", testCorpID, true, ""},
		{"no corp: no in-app", func(c *Config) { c.CorpID, c.AllowAnyDingTalkUser = "", true }, "", "", false, ""},
		{"plain http", func(c *Config) { c.JSAPIURL = "http://cdn.example/dd.js" }, "", "", false, "jsapi_url"},
		{"relative", func(c *Config) { c.JSAPIURL = "/dd.js" }, "", "", false, "jsapi_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, nil)
			cfg := f.config()
			if c.mutate != nil {
				c.mutate(&cfg)
			}
			p, err := New(cfg, nil, nil, nil)
			if c.wantErrKey != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrKey+":") {
					t.Fatalf("err %v, want one about %s", err, c.wantErrKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, corp, ok := p.InAppScript()
			if u != c.wantURL || corp != c.wantCorp || ok != c.wantOK {
				t.Errorf("InAppScript() = %q, %q, %v", u, corp, ok)
			}
		})
	}
}

func TestInAppWithoutCorp(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CorpID, c.AllowAnyDingTalkUser = "", true })
	_, err := h.p.Exchange(t.Context(), url.Values{"auth_code": {"abc123"}}, "")
	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
}

// Without inapp: true an in-app code is never redeemed (a code harvested
// from someone's app must not log them in), and no in-app page is offered.
func TestInAppOffByDefault(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InApp = false })
	if _, _, ok := h.p.InAppScript(); ok {
		t.Error("in-app login offered without inapp: true")
	}
	_, err := h.p.Exchange(t.Context(), url.Values{"auth_code": {"0123456789abcdef"}, "state": {"s"}}, "https://sso.example/cb")
	if !errors.Is(err, upstream.ErrCodeInvalid) {
		t.Fatalf("auth_code without inapp: %v", err)
	}
}
