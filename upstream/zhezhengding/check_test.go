package zhezhengding_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// TestCheckAgainstSimulator: the go-live checks pass against a healthy
// simulator and name the fault when one is switched on (issue 15 item 10).
func TestCheckAgainstSimulator(t *testing.T) {
	type fault struct {
		name     string
		edit     func(*zhezhengding.Config)
		simOpts  []func(*zzdsim.Options)
		before   func(e *simEnv)
		redirect string
		check    string // the failing check's name starts so
		fatal    bool
		detail   string
	}
	ours := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	faults := []fault{
		{name: "healthy"},
		{name: "callback domain not registered", redirect: "https://other.example.org/login/zzd/callback",
			check: "login page", fatal: true, detail: "无权限访问"},
		{name: "wrong app_code", edit: func(c *zhezhengding.Config) { c.AppCode = "wrong_dingoa" },
			check: "login page", fatal: true, detail: "无权限访问"},
		{name: "wrong key pair", before: func(e *simEnv) { e.sim.Faults().BadAuth(true) },
			check: "app token (scan-login", fatal: true, detail: "key pair"},
		{name: "gateway clock ahead", simOpts: []func(*zzdsim.Options){func(o *zzdsim.Options) {
			o.Now = func() time.Time { return ours.Add(10 * time.Minute) }
		}}, check: "clock", fatal: true, detail: "set clock_offset to 10m"},
		{name: "gateway clock a little ahead", simOpts: []func(*zzdsim.Options){func(o *zzdsim.Options) {
			o.Now = func() time.Time { return ours.Add(time.Minute) }
		}}, check: "clock", fatal: false, detail: "consider clock_offset 1m"},
		{name: "scan pair refused the organisation lookups", edit: func(c *zhezhengding.Config) { c.InAppKey, c.InAppSecret = "", "" },
			check: "organisation lookups", fatal: false, detail: "300037"},
		{name: "gateway down", before: func(e *simEnv) { e.sim.Faults().ServerError(true) },
			check: "app token (scan-login", fatal: true, detail: "http 502"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			e := newSimEnv(t, f.edit, nil, f.simOpts...)
			if f.simOpts != nil {
				// Both clocks fixed: the skew is exactly the simulator's.
				p, err := zhezhengding.New(zhezhengding.Config{
					LoginHost: e.srv.URL, APIHost: e.srv.URL, AppCode: appCode, AppKey: appKey, AppSecret: secret,
				}, e.srv.Client(), nil, func() time.Time { return ours })
				if err != nil {
					t.Fatal(err)
				}
				e.p = p
			}
			if f.before != nil {
				f.before(e)
			}
			redirect := callback
			if f.redirect != "" {
				redirect = f.redirect
			}
			results := e.p.Check(t.Context(), upstream.CheckRequest{RedirectURI: redirect})
			var failed []upstream.CheckResult
			for _, r := range results {
				if !r.OK {
					failed = append(failed, r)
				}
			}
			if f.check == "" {
				if len(failed) > 0 || len(results) < 4 {
					t.Errorf("healthy: %+v", results)
				}
				return
			}
			var found bool
			for _, r := range failed {
				if strings.HasPrefix(r.Name, f.check) {
					found = true
					if r.Fatal != f.fatal || !strings.Contains(r.Detail, f.detail) {
						t.Errorf("%s: fatal %v, detail %q; want fatal %v and %q", r.Name, r.Fatal, r.Detail, f.fatal, f.detail)
					}
				}
			}
			if !found {
				t.Errorf("no failed check %q in %+v", f.check, results)
			}
		})
	}
}
