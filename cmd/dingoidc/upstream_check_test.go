package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// TestUpstreamCheckCommand: dingoidc upstream check (and config check
// --online) against both simulators: every check passes when they are
// healthy; with a fault switched on, the failing checks say FAIL with what
// to fix and the command fails (exit status 1).
func TestUpstreamCheckCommand(t *testing.T) {
	const issuer = "https://sso.example.gov.cn"
	zzd, err := zzdsim.New(zzdsim.Options{Apps: map[string]zzdsim.App{"myapp_dingoa": {
		AppKey: "myapp-AbCdEf", AppSecret: "zzd-secret-0123456789abcdefghijklmnopqr",
		InAppKey: "myapp_app-XyZ", InAppSecret: "zzd-inapp-secret-0123456789abcdefghijk",
		CallbackDomains: []string{"sso.example.gov.cn"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	zs := httptest.NewServer(zzd)
	t.Cleanup(zs.Close)
	fx, err := dingtalksim.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	dt, err := dingtalksim.New(fx)
	if err != nil {
		t.Fatal(err)
	}
	ds := httptest.NewServer(dt)
	t.Cleanup(ds.Close)
	const dtApp = "ding1bq7up081o21ln27"
	cfg := `issuer: ` + issuer + `
data_dir: ` + t.TempDir() + `
secret_key: ` + testMasterKey + `
upstreams:
  - id: zzd
    type: zhezhengding
    login_host: ` + zs.URL + `
    api_host: ` + zs.URL + `
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret: zzd-secret-0123456789abcdefghijklmnopqr
    inapp_app_key: myapp_app-XyZ
    inapp_app_secret: zzd-inapp-secret-0123456789abcdefghijk
    enrich: true
    allowed_tenants: [196729]
  - id: dt
    type: dingtalk
    login_host: ` + ds.URL + `
    api_host: ` + ds.URL + `
    oapi_host: ` + ds.URL + `
    client_id: ` + dtApp + `
    client_secret: ` + fx.Apps[dtApp].AppSecret + `
    corp_id: ding5f3e2a7c9b1d4e60
`
	path := writeFile(t, "dingoidc.yaml", cfg)

	// hasLine reports a line of upstream id, verdict and a check name
	// starting with check.
	hasLine := func(out, id, verdict, check string) bool {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) > 2 && f[0] == id && f[1] == verdict && strings.HasPrefix(strings.Join(f[2:], " "), check) {
				return true
			}
		}
		return false
	}
	r := mustRun(t, fakeEnv{}, "upstream", "check", "--config", path)
	for _, want := range [][2]string{{"zzd", "login page"}, {"zzd", "clock"}, {"zzd", "organisation lookups"}, {"dt", "app token"}, {"dt", "membership lookup"}} {
		if !hasLine(r.stdout, want[0], "ok", want[1]) {
			t.Errorf("healthy: no ok line %q in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") {
		t.Errorf("healthy: a check failed:\n%s", r.stdout)
	}
	mustRun(t, fakeEnv{}, "config", "check", "--online", "--config", path)

	zzd.Faults().BadAuth(true)
	dt.Faults().ServerError(true)
	r = runCLI(t, fakeEnv{}, "upstream", "check", "--config", path)
	if r.err == nil || !strings.Contains(r.err.Error(), "will break logins") {
		t.Errorf("faults: err %v, want a failure", r.err)
	}
	if !hasLine(r.stdout, "zzd", "FAIL", "app token (scan-login pair app_key)") || !strings.Contains(r.stdout, "the key pair (or the clock) is wrong") ||
		!hasLine(r.stdout, "dt", "FAIL", "app token") {
		t.Errorf("faults: not named:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "zzd-secret") || strings.Contains(r.stdout, fx.Apps[dtApp].AppSecret) {
		t.Errorf("a secret is shown:\n%s", r.stdout)
	}
	r = runCLI(t, fakeEnv{}, "config", "check", "--online", "--json", "--config", path)
	if r.err == nil || !strings.Contains(r.stdout, `"upstream_checks"`) || !strings.Contains(r.stdout, `"fatal": true`) {
		t.Errorf("config check --online --json: err %v\n%s", r.err, r.stdout)
	}

	// One upstream by id; an unknown one.
	dt.Faults().ServerError(false)
	r = mustRun(t, fakeEnv{}, "upstream", "check", "--config", path, "dt")
	if strings.Contains(r.stdout, "zzd") {
		t.Errorf("upstream check dt checked zzd:\n%s", r.stdout)
	}
	if r := runCLI(t, fakeEnv{}, "upstream", "check", "--config", path, "nobody"); r.err == nil || !strings.Contains(r.err.Error(), `no upstream "nobody"`) {
		t.Errorf("unknown id: %v", r.err)
	}
}
