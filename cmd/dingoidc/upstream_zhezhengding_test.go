package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// zzdConfig is a serve config with one zhezhengding upstream whose
// type-specific keys are extra (indented as entry keys).
func zzdConfig(dataDir, extra string) string {
	return `issuer: https://sso.example.gov.cn
data_dir: ` + dataDir + `
secret_key: ` + testMasterKey + `
upstreams:
  - id: zzd
    type: zhezhengding
    name: 浙政钉
    claims:
      email: "{{.account}}@example.gov.cn"
` + extra
}

func TestZhezhengdingConfigProblems(t *testing.T) {
	secretFile := writeFile(t, "zzd-secret", "file-secret\n")
	emptyFile := writeFile(t, "empty", "\n")
	tests := []struct {
		name  string
		extra string
		want  []string // problem prefixes, in order
	}{
		{
			name:  "nothing set",
			extra: "",
			want: []string{
				"upstreams[0] (zzd).login_host: required",
				"upstreams[0] (zzd).api_host: required",
				"upstreams[0] (zzd).app_code: required",
				"upstreams[0] (zzd).app_key: required",
				"upstreams[0] (zzd).app_secret: required (or app_secret_file)",
			},
		},
		{
			name: "every problem at once",
			extra: `    login_host: login.dg-work.cn
    api_host: https://openplatform.dg-work.cn/
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret: inline-secret-value
    app_secret_file: ` + secretFile + `
    inapp_app_secret: lonely-inapp-secret
    allowed_tenants: [12371, 0]
    timeout: -1s
`,
			want: []string{
				`upstreams[0] (zzd).login_host: "login.dg-work.cn" must be an absolute https:// (or http://) URL`,
				`upstreams[0] (zzd).api_host: "https://openplatform.dg-work.cn/" must not end with '/'`,
				"upstreams[0] (zzd).allowed_tenants[1]: 0 is not a tenant id",
				"upstreams[0] (zzd).timeout: must not be negative",
				"upstreams[0] (zzd).app_secret: set only one of app_secret and app_secret_file",
				"upstreams[0] (zzd).inapp_app_key: required with inapp_app_secret or inapp_app_secret_file",
			},
		},
		{
			name: "secret files",
			extra: `    login_host: https://login.dg-work.cn
    api_host: https://openplatform.dg-work.cn
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret_file: ` + emptyFile + `
    inapp_app_key: myapp_app-XyZ
    inapp_app_secret_file: /nonexistent/zzd-inapp-secret
`,
			want: []string{
				"upstreams[0] (zzd).app_secret_file: secret file " + emptyFile + " is empty",
				"upstreams[0] (zzd).inapp_app_secret_file: read secret file:",
			},
		},
		{
			name: "unknown key",
			extra: `    login_host: https://login.dg-work.cn
    app_secrte: typo
`,
			want: []string{`line 11: unknown key "app_secrte" in upstream "zzd" (type zhezhengding)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "dingoidc.yaml", zzdConfig(t.TempDir(), tt.extra))
			_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
			for _, s := range []string{"inline-secret-value", "lonely-inapp-secret", "file-secret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the problems show a secret: %v", err)
				}
			}
		})
	}
}

func TestZhezhengdingUpstream(t *testing.T) {
	const (
		appSecret   = "ZzdAppSecret0123456789abcdefghijklmnopqr"
		inAppSecret = "ZzdInAppSecret0123456789abcdefghijklmnop"
	)
	// A gateway that checks the signature made with the secret from the
	// file (trimmed) and answers a token and a person.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		params := r.Form
		ts, nonce := r.Header.Get(zhezhengding.HeaderTimestamp), r.Header.Get(zhezhengding.HeaderNonce)
		if r.Header.Get(zhezhengding.HeaderAPIKey) != "myapp-AbCdEf" ||
			r.Header.Get(zhezhengding.HeaderSignature) != zhezhengding.Sign(appSecret, r.Method, ts, nonce, r.URL.Path, params) {
			fmt.Fprint(w, `{"success":false,"Code":"OPF-B001-05-16-0009","Message":"SignatureDoesNotMatch"}`)
			return
		}
		data := `{"accountId":42,"account":"zhangsan","lastName":"张三","tenantId":12371}`
		if r.URL.Path == "/gettoken.json" {
			data = `{"accessToken":"app_0123456789abcdef0123456789abcdef","expiresIn":7200}`
		}
		fmt.Fprintf(w, `{"success":true,"content":{"success":true,"data":%s,"responseCode":"0"}}`, data)
	}))
	t.Cleanup(gw.Close)

	secretFile := writeFile(t, "zzd-secret", "  "+appSecret+"\n")
	path := writeFile(t, "dingoidc.yaml", zzdConfig(t.TempDir(), `    login_host: https://login-pro.ding.zj.gov.cn
    api_host: `+gw.URL+`
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret_file: `+secretFile+`
    embed: true
    allowed_tenants: [12371]
    inapp_app_key: myapp_app-XyZ
    inapp_app_secret: `+inAppSecret+`
    enrich: false
    timeout: 5s
`))

	// config check: OK, nothing secret printed.
	for _, args := range [][]string{{"config", "check", "--config", path}, {"config", "check", "--config", path, "--json"}} {
		r := mustRun(t, fakeEnv{}, args...)
		out := r.stdout + r.stderr
		if strings.Contains(out, appSecret) || strings.Contains(out, inAppSecret) {
			t.Errorf("%s shows a secret:\n%s", strings.Join(args, " "), out)
		}
		if !strings.Contains(out, "zzd") || !strings.Contains(out, "zhezhengding") {
			t.Errorf("%s does not list the upstream:\n%s", strings.Join(args, " "), out)
		}
	}
	cfg, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, cfg)
		if strings.Contains(s, inAppSecret) || !strings.Contains(s, redacted) {
			t.Errorf("%s of the config: %s", verb, s)
		}
	}
	zc := cfg.Upstreams[0].Config.(*zhezhengding.Config)
	if zc.AppSecretFile != secretFile || zc.Timeout.String() != "5s" || len(zc.AllowedTenants) != 1 || !zc.Embed {
		t.Errorf("decoded %+v", zc)
	}

	// The provider it builds logs in with the secret from the file.
	ups, err := cfg.buildUpstreams(t.Context(), upstreamDeps{HTTPClient: gw.Client(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p := ups[0].Provider
	if p.Type() != "zhezhengding" || ups[0].Claims["email"] != "{{.account}}@example.gov.cn" {
		t.Errorf("upstream %+v", ups[0])
	}
	if e, ok := p.(upstream.Embedder); !ok || !e.Embedded() {
		t.Error("not embedded")
	}
	login, err := p.LoginURL(t.Context(), upstream.LoginRequest{State: "s", RedirectURI: "https://sso.example.gov.cn/cb"})
	if err != nil || !strings.HasPrefix(login, "https://login-pro.ding.zj.gov.cn/oauth2/auth.htm?response_type=code&client_id=myapp_dingoa&") {
		t.Errorf("login URL %s, %v", login, err)
	}
	id, err := p.Exchange(t.Context(), url.Values{"code": {"4fa4fdd047db4e5c9c06335c6e6a9a000c0f8f01"}}, "https://sso.example.gov.cn/cb")
	if err != nil {
		t.Fatal(err)
	}
	if id.ExternalID != "42" || id.Attributes["lastName"] != "张三" {
		t.Errorf("identity %+v", id)
	}
}

// TestZhezhengdingEnrichWarning: config check warns when enrich is on
// without the in-app pair (the scan pair is typically refused the
// organisation lookups), in text and JSON, and not when the pair is there.
func TestZhezhengdingEnrichWarning(t *testing.T) {
	base := `    login_host: https://login.dg-work.cn
    api_host: https://openplatform.dg-work.cn
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret: s3cr3t
    enrich: true
`
	const want = "upstreams[0] (zzd).enrich: without an in-app pair (inapp_app_key)"
	path := writeFile(t, "dingoidc.yaml", zzdConfig(t.TempDir(), base))
	r := mustRun(t, fakeEnv{}, "config", "check", "--config", path)
	if !strings.Contains(r.stdout, "warning: "+want) {
		t.Errorf("config check does not warn:\n%s", r.stdout)
	}
	rj := mustRun(t, fakeEnv{}, "config", "check", "--config", path, "--json")
	if !strings.Contains(rj.stdout, `"warnings"`) || !strings.Contains(rj.stdout, want) {
		t.Errorf("config check --json does not warn:\n%s", rj.stdout)
	}
	path = writeFile(t, "dingoidc.yaml", zzdConfig(t.TempDir(), base+"    inapp_app_key: myapp_app-XyZ\n    inapp_app_secret: s3cr3t2\n"))
	if r := mustRun(t, fakeEnv{}, "config", "check", "--config", path); strings.Contains(r.stdout, "warning") {
		t.Errorf("a warning with the in-app pair:\n%s", r.stdout)
	}
}
