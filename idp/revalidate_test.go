package idp_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"net/url"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
)

// refresh posts a refresh_token grant for client and returns the answer.
func refresh(e *env, client, rt string) (int, map[string]any) {
	e.t.Helper()
	resp, m := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, client, testSecret)
	return resp.StatusCode, m
}

// TestLeaversLoseAccessZhezhengding: at a refresh more than
// revalidate_after (1h) after the last upstream check, the person is
// checked with the 浙政钉 simulator: an inactive employee's grant is
// revoked; an active one's refresh goes on and the check is recorded (the
// next refresh within the hour does not ask again); when the gateway is
// down the grant is kept and the log says so. Both backends (issue 15
// item 8).
func TestLeaversLoseAccessZhezhengding(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := &sims{}
			e := newEnv(t, b.open(t), withSimulators(s, false, dtAppMain, dtSecretMain))
			e.addClient(storage.Client{ID: "zzdapp", RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"}}, testSecret)
			app := e.rp("zzdapp", testSecret)

			leaver := simLogin(t, app, e.browser(), "82019102") // 刘洋: employee record inactive
			stayer := simLogin(t, app, e.browser(), "71453920") // 张伟: active
			// Within the hour: no check, the leaver still refreshes.
			status, m := refresh(e, "zzdapp", leaver.token.RefreshToken)
			if status != http.StatusOK {
				t.Fatalf("refresh within the hour: %d %v", status, m)
			}
			leaverRT := m["refresh_token"].(string)

			e.clock.Advance(2 * time.Hour)
			if status, m := refresh(e, "zzdapp", leaverRT); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Errorf("leaver's refresh: %d %v, want invalid_grant", status, m)
			}
			if !strings.Contains(e.logs.String(), "grant revoked at refresh") {
				t.Errorf("no log line for the revoked grant:\n%s", e.logs)
			}
			status, m = refresh(e, "zzdapp", stayer.token.RefreshToken)
			if status != http.StatusOK {
				t.Fatalf("active employee's refresh: %d %v", status, m)
			}
			if u, err := e.store.GetUser(t.Context(), "zzd_71453920"); err != nil || !u.LastCheckedAt.After(u.LastLoginAt) {
				t.Errorf("the check was not recorded: %+v %v", u, err)
			}

			// Within the hour of that check, with the gateway down: no
			// check at all. Past it: the grant is kept, the log says why.
			s.zzd.Faults().ServerError(true)
			status, m = refresh(e, "zzdapp", m["refresh_token"].(string))
			if status != http.StatusOK || strings.Contains(e.logs.String(), "keeping the grant") {
				t.Fatalf("refresh within the hour of the check: %d %v", status, m)
			}
			e.clock.Advance(2 * time.Hour)
			status, m = refresh(e, "zzdapp", m["refresh_token"].(string))
			if status != http.StatusOK {
				t.Fatalf("refresh with the gateway down: %d %v", status, m)
			}
			if !strings.Contains(e.logs.String(), "could not check the person with the upstream; keeping the grant") {
				t.Errorf("no log line for the kept grant:\n%s", e.logs)
			}
		})
	}
}

// TestLeaversLoseAccessDingTalk: a DingTalk member removed from the corp
// after logging in loses the grant at the first refresh past
// revalidate_after (the simulator behind the upstream is swapped for one
// whose address book no longer has them).
func TestLeaversLoseAccessDingTalk(t *testing.T) {
	const zhangsan = "QY7vA9rRRxK4nQcn6zdha8MiEiE"
	var current atomic.Pointer[http.Handler]
	before, err := dingtalksim.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	after, err := dingtalksim.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	for i := range after.People {
		if after.People[i].UnionID == zhangsan {
			delete(after.People[i].Orgs, dtCorpA)
		}
	}
	simBefore, err := dingtalksim.New(before)
	if err != nil {
		t.Fatal(err)
	}
	simAfter, err := dingtalksim.New(after)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = simBefore
	current.Store(&h)
	e := newEnv(t, backends()[0].open(t), func(e *env) {
		e.mux.Handle("/sim/dt/", http.StripPrefix("/sim/dt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*current.Load()).ServeHTTP(w, r)
		})))
		dp, err := dingtalk.New(dingtalk.Config{
			LoginHost: e.cfg.Issuer + "/sim/dt", APIHost: e.cfg.Issuer + "/sim/dt", OAPIHost: e.cfg.Issuer + "/sim/dt",
			ClientID: dtAppMain, ClientSecret: dtSecretMain, CorpID: dtCorpA,
		}, e.ts.Client(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Upstreams = []idp.UpstreamConfig{{ID: "dingtalk", Name: "钉钉", Provider: dp, RevalidateAfter: 30 * time.Minute}}
	})
	e.addClient(storage.Client{ID: "dtapp", RedirectURIs: []string{testRedirect}, Upstreams: []string{"dingtalk"}}, testSecret)
	l := simLogin(t, e.rp("dtapp", testSecret), e.browser(), zhangsan)

	e.clock.Advance(40 * time.Minute)
	status, m := refresh(e, "dtapp", l.token.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("member's refresh: %d %v", status, m)
	}
	var after2 http.Handler = simAfter
	current.Store(&after2) // zhangsan leaves the corp
	e.clock.Advance(40 * time.Minute)
	if status, m := refresh(e, "dtapp", m["refresh_token"].(string)); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("leaver's refresh: %d %v, want invalid_grant", status, m)
	}
}
