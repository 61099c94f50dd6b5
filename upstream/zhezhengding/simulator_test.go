package zhezhengding_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// TestAgainstSimulator runs whole logins against upstream/zzdsim: the
// QR page's redirect, the in-app code, enrichment and the simulator's
// faults.
func TestAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	sim, p := e.sim, e.p
	scan := e.scan
	browser, srv := e.browser, e.srv

	t.Run("employee with groups", func(t *testing.T) {
		id, err := p.Exchange(t.Context(), scan(t, "71453920"), callback)
		if err != nil {
			t.Fatal(err)
		}
		groups, _ := id.Attributes["groups"].([]string)
		if id.ExternalID != "71453920" || id.Attributes["account"] != "zhangwei.sj" ||
			!slices.Equal(id.AMR, []string{"qr"}) || len(groups) == 0 || groups[0] != "数据资源处" {
			t.Errorf("identity %+v", id)
		}
	})
	t.Run("super-admin", func(t *testing.T) {
		id, err := p.Exchange(t.Context(), scan(t, "100135"), callback)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := id.Attributes["employeeCode"]; ok || id.Attributes["tenantId"] != "12371" {
			t.Errorf("identity %+v", id)
		}
	})
	t.Run("code used twice", func(t *testing.T) {
		cb := scan(t, "71453988")
		if _, err := p.Exchange(t.Context(), cb, callback); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exchange(t.Context(), cb, callback); !errors.Is(err, upstream.ErrCodeInvalid) {
			t.Errorf("err %v, want ErrCodeInvalid", err)
		}
	})
	t.Run("tenant not allowed", func(t *testing.T) {
		_, err := p.Exchange(t.Context(), scan(t, "90331207"), callback)
		if !errors.Is(err, upstream.ErrNotAllowed) || !strings.Contains(err.Error(), "50023") {
			t.Errorf("err %v, want ErrNotAllowed naming 50023", err)
		}
	})
	t.Run("in-app", func(t *testing.T) {
		resp, err := browser.PostForm(srv.URL+"/simulator/inapp", url.Values{"app": {inKey}, "account": {"82017734"}})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			AuthCode string `json:"auth_code"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || got.AuthCode == "" {
			t.Fatalf("inapp: %s, %v", resp.Status, err)
		}
		id, err := p.Exchange(t.Context(), url.Values{"auth_code": {got.AuthCode}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if id.ExternalID != "82017734" || !slices.Equal(id.AMR, []string{"app"}) || id.Attributes["openid"] == nil {
			t.Errorf("identity %+v", id)
		}
	})
	faults := []struct {
		name string
		set  func(on bool)
		want error
	}{
		{"expired codes", sim.Faults().ExpireCodes, upstream.ErrCodeInvalid},
		{"bad signatures", sim.Faults().BadAuth, upstream.ErrUnavailable},
		{"server errors", sim.Faults().ServerError, upstream.ErrUnavailable},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			cb := scan(t, "71453920")
			f.set(true)
			defer f.set(false)
			_, err := p.Exchange(t.Context(), cb, callback)
			if !errors.Is(err, f.want) {
				t.Errorf("err %v, want %v", err, f.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), cb.Get("code")) {
				t.Errorf("err %q shows the secret or the code", err)
			}
		})
	}
}

// The simulator's app of the tests against it.
const (
	appCode  = "dingoidc_dingoa"
	appKey   = "dingoidc-Sim01"
	secret   = "SimSecret0123456789abcdefghijklmnopqrstu"
	inKey    = "dingoidc_app-Sim02"
	inSecret = "SimInAppSecret0123456789abcdefghijklmno"
	callback = "https://sso.example.gov.cn/login/zzd/callback"
)

// simEnv is a provider talking to the 浙政钉 simulator.
type simEnv struct {
	sim     *zzdsim.Server
	srv     *httptest.Server
	p       *zhezhengding.Provider
	browser *http.Client
}

// newSimEnv starts the simulator (behind wrap, when not nil) and a
// provider of its app (config changed by edit, when not nil).
func newSimEnv(t *testing.T, edit func(*zhezhengding.Config), wrap func(http.Handler) http.Handler, simOpts ...func(*zzdsim.Options)) *simEnv {
	t.Helper()
	opts := zzdsim.Options{
		Apps: map[string]zzdsim.App{appCode: {
			AppKey: appKey, AppSecret: secret, InAppKey: inKey, InAppSecret: inSecret,
			CallbackDomains: []string{"sso.example.gov.cn"},
		}},
	}
	for _, o := range simOpts {
		o(&opts)
	}
	sim, err := zzdsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := zhezhengding.Config{
		LoginHost: srv.URL, APIHost: srv.URL, AppCode: appCode, AppKey: appKey, AppSecret: secret,
		InAppKey: inKey, InAppSecret: inSecret, Enrich: true, AllowedTenants: []int64{196729, 12371},
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := zhezhengding.New(cfg, srv.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := srv.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &simEnv{sim: sim, srv: srv, p: p, browser: browser}
}

// scan has the simulator's QR page approve a login as account and returns
// the callback's parameters.
func (e *simEnv) scan(t *testing.T, account string) url.Values {
	t.Helper()
	login, err := e.p.LoginURL(t.Context(), upstream.LoginRequest{State: "st-1", RedirectURI: callback})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(login)
	q := u.Query()
	q.Set("account", account)
	resp, err := e.browser.Get(e.srv.URL + "/simulator/approve?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), callback+"?") {
		t.Fatalf("approve: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != "st-1" {
		t.Fatalf("state %q", loc.Query().Get("state"))
	}
	return loc.Query()
}

// TestMisconfiguredAgainstSimulator: a refused key pair is the operator's
// to fix (ErrMisconfigured, which is also ErrUnavailable); a gateway
// outage is not.
func TestMisconfiguredAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	cb := e.scan(t, "71453920")
	e.sim.Faults().BadAuth(true)
	_, err := e.p.Exchange(t.Context(), cb, callback)
	if !errors.Is(err, upstream.ErrMisconfigured) || !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("bad signatures: err %v, want ErrMisconfigured", err)
	}
	e.sim.Faults().BadAuth(false)
	e.sim.Faults().ServerError(true)
	_, err = e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback)
	if !errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrMisconfigured) {
		t.Errorf("server errors: err %v, want ErrUnavailable only", err)
	}
	e.sim.Faults().ServerError(false)
	e2 := newSimEnv(t, func(c *zhezhengding.Config) { c.InAppKey, c.InAppSecret = "", "" }, nil)
	_, err = e2.p.Exchange(t.Context(), url.Values{"auth_code": {"0123456789abcdef"}}, "")
	if !errors.Is(err, upstream.ErrMisconfigured) {
		t.Errorf("in-app code without an in-app pair: err %v, want ErrMisconfigured", err)
	}
}
