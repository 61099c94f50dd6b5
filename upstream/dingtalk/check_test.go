package dingtalk_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
)

// TestCheckAgainstSimulator: the go-live checks pass against a healthy
// simulator and name the fault when one is switched on (issue 15 item 10).
func TestCheckAgainstSimulator(t *testing.T) {
	cases := []struct {
		name   string
		app    string
		edit   func(*dingtalksim.Options)
		before func(e *simEnv)
		check  string // the failing check's name starts so; "" for none
		detail string
	}{
		{name: "healthy", app: simApp},
		{name: "wrong client_secret", app: simApp, edit: func(o *dingtalksim.Options) {
			a := o.Apps[simApp]
			a.AppSecret = "another-secret-than-the-config's-0123456789"
			o.Apps[simApp] = a
		}, check: "app token", detail: "rejected client_id"},
		{name: "no qyapi_get_member", app: simApp, edit: func(o *dingtalksim.Options) {
			a := o.Apps[simApp]
			a.Permissions = slices.DeleteFunc(slices.Clone(a.Permissions), func(p string) bool { return p == "qyapi_get_member" })
			o.Apps[simApp] = a
		}, check: "membership lookup", detail: "qyapi_get_member"},
		{name: "api host down", app: simApp, before: func(e *simEnv) { e.sim.Faults().ServerError(true) },
			check: "app token", detail: "server error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx, err := dingtalksim.Fixture()
			if err != nil {
				t.Fatal(err)
			}
			secret := fx.Apps[c.app].AppSecret // the config's, before any edit
			e := newSimEnvWith(t, c.app, c.edit, nil)
			p, err := dingtalk.New(dingtalk.Config{
				LoginHost: e.srv.URL, APIHost: e.srv.URL, OAPIHost: e.srv.URL,
				ClientID: c.app, ClientSecret: secret, CorpID: simCorp,
			}, e.srv.Client(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.before != nil {
				c.before(e)
			}
			results := p.Check(t.Context(), upstream.CheckRequest{RedirectURI: simCallback})
			var failed []upstream.CheckResult
			for _, r := range results {
				if !r.OK {
					failed = append(failed, r)
				}
			}
			if c.check == "" {
				if len(failed) > 0 || len(results) < 3 {
					t.Errorf("healthy: %+v", results)
				}
				return
			}
			if len(failed) != 1 || !strings.HasPrefix(failed[0].Name, c.check) || !failed[0].Fatal || !strings.Contains(failed[0].Detail, c.detail) {
				t.Errorf("failed checks %+v, want one fatal %q saying %q", failed, c.check, c.detail)
			}
		})
	}
}
