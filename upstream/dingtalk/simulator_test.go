package dingtalk_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
)

// Apps and corp of the simulator's embedded fixture.
const (
	simApp       = "ding1bq7up081o21ln27" // has Contact.User.Read
	simAppNoPerm = "dingsz8v39719yo1hmml" // has no permission
	simCorp      = "ding5f3e2a7c9b1d4e60"
	simCallback  = "https://sso.example.com/login/dt/callback"
)

// simEnv is a provider talking to the DingTalk simulator.
type simEnv struct {
	sim *dingtalksim.Server
	srv *httptest.Server
	p   *dingtalk.Provider
}

func newSimEnv(t *testing.T, appKey string) *simEnv {
	t.Helper()
	return newSimEnvBehind(t, appKey, nil)
}

// newSimEnvBehind is newSimEnv with the simulator behind wrap (nil: none).
func newSimEnvBehind(t *testing.T, appKey string, wrap func(http.Handler) http.Handler) *simEnv {
	t.Helper()
	return newSimEnvWith(t, appKey, nil, wrap)
}

// newSimEnvWith is newSimEnvBehind with the fixture changed by edit (nil:
// none).
func newSimEnvWith(t *testing.T, appKey string, edit func(*dingtalksim.Options), wrap func(http.Handler) http.Handler) *simEnv {
	t.Helper()
	fx, err := dingtalksim.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&fx)
	}
	sim, err := dingtalksim.New(fx)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p, err := dingtalk.New(dingtalk.Config{
		LoginHost: srv.URL, APIHost: srv.URL, OAPIHost: srv.URL,
		ClientID: appKey, ClientSecret: fx.Apps[appKey].AppSecret,
		CorpID: simCorp, PreselectCorp: true,
	}, srv.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, srv: srv, p: p}
}

// scan opens the login page's URL at the simulator's scan (or cancel)
// endpoint as unionID and returns the callback's parameters.
func (e *simEnv) scan(t *testing.T, endpoint, unionID string) url.Values {
	t.Helper()
	loginURL, err := e.p.LoginURL(t.Context(), upstream.LoginRequest{State: "st-1", RedirectURI: simCallback})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loginURL)
	if u.Path != "/oauth2/auth" {
		t.Fatalf("login URL %s", loginURL)
	}
	q := u.Query()
	q.Set("unionId", unionID)
	u.Path, u.RawQuery = endpoint, q.Encode()
	c := e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), simCallback+"?") {
		t.Fatalf("%s answered %d, Location %q", endpoint, resp.StatusCode, resp.Header.Get("Location"))
	}
	if back.Query().Get("state") != "st-1" {
		t.Errorf("state %q", back.Query().Get("state"))
	}
	return back.Query()
}

func TestAgainstSimulator(t *testing.T) {
	e := newSimEnv(t, simApp)
	t.Run("member", func(t *testing.T) {
		id, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/scan", "QY7vA9rRRxK4nQcn6zdha8MiEiE"), simCallback)
		if err != nil {
			t.Fatal(err)
		}
		a := id.Attributes
		if id.ExternalID != "QY7vA9rRRxK4nQcn6zdha8MiEiE" || a["userid"] != "zhangsan" || a["username"] != "zhangsan" ||
			a["org_email"] != "zhangsan@hzdemo.com.cn" || a["job_number"] != "HZ0001" || a["corp_id"] != simCorp ||
			a["name"] != "张三" || !slices.Equal(a["groups"].([]string), []string{"平台研发部"}) {
			t.Errorf("identity %s %#v", id.ExternalID, a)
		}
	})
	t.Run("code fallback", func(t *testing.T) {
		cb := e.scan(t, "/simulator/scan", "IW2GN345Nf4tbREJallSSH5iEiE")
		cb.Del("authCode")
		id, err := e.p.Exchange(t.Context(), cb, simCallback)
		if err != nil {
			t.Fatal(err)
		}
		if g, _ := id.Attributes["groups"].([]string); len(g) != 2 {
			t.Errorf("groups %v", id.Attributes["groups"])
		}
	})
	t.Run("code reused", func(t *testing.T) {
		cb := e.scan(t, "/simulator/scan", "p0yR133svQVbWv5xwxwcpARiEiE")
		if _, err := e.p.Exchange(t.Context(), cb, simCallback); err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.Exchange(t.Context(), cb, simCallback); !errors.Is(err, upstream.ErrCodeInvalid) {
			t.Errorf("reused code: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		_, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/cancel", "QY7vA9rRRxK4nQcn6zdha8MiEiE"), simCallback)
		if !errors.Is(err, upstream.ErrDenied) {
			t.Errorf("error %v", err)
		}
	})
	for _, tc := range []struct{ name, unionID, detail string }{
		{"inactive", "x98Qkxy2A27F7ncYsAp71jziEiE", "disabled"},
		{"external contact", "EgEb0BWO7MdCQntBy8az9cDiEiE", "external contact"},
		{"other corp", "jT5Q7669tp1gWzEFPWYJ2CfiEiE", "not a member of corp " + simCorp},
		{"no corp", "wcStM1PTr2q6y7fOUTj10i8iEiE", "not a member of corp " + simCorp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/scan", tc.unionID), simCallback)
			if !errors.Is(err, upstream.ErrNotAllowed) || !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %v, want ErrNotAllowed with %q", err, tc.detail)
			}
		})
	}
	t.Run("bad credentials", func(t *testing.T) {
		cb := e.scan(t, "/simulator/scan", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
		e.sim.Faults().BadAuth(true)
		defer e.sim.Faults().BadAuth(false)
		_, err := e.p.Exchange(t.Context(), cb, simCallback)
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "rejected client_id") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		cb := e.scan(t, "/simulator/scan", "QY7vA9rRRxK4nQcn6zdha8MiEiE")
		e.sim.Faults().ServerError(true)
		defer e.sim.Faults().ServerError(false)
		if _, err := e.p.Exchange(t.Context(), cb, simCallback); !errors.Is(err, upstream.ErrUnavailable) {
			t.Errorf("error %v", err)
		}
	})
}

func TestAgainstSimulatorMissingPermission(t *testing.T) {
	e := newSimEnv(t, simAppNoPerm)
	_, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/scan", "QY7vA9rRRxK4nQcn6zdha8MiEiE"), simCallback)
	if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "app lacks permission Contact.User.Read") {
		t.Errorf("error %v", err)
	}
}
