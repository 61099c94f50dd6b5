package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
)

// dingtalkYAML is a config file whose only upstream is the DingTalk entry
// upstream (indented by four spaces under "- id: dt").
func dingtalkYAML(upstream string) string {
	return `issuer: https://sso.example.gov.cn
secret_key: ` + testMasterKey + `
upstreams:
  - id: dt
    type: dingtalk
    name: 钉钉
` + upstream
}

func TestDingTalkConfigValidation(t *testing.T) {
	secretFile := writeFile(t, "dt-secret", "dt-file-secret-0123456789\n")
	emptyFile := writeFile(t, "empty", "\n")
	tests := []struct {
		name string
		yaml string
		want []string // problems, in order (prefix of each line)
	}{
		{"valid", "    client_id: dingabc\n    client_secret_file: " + secretFile + "\n    corp_id: ding0123\n", nil},
		{"valid, any user", "    client_id: dingabc\n    client_secret: inline-secret\n    allow_any_dingtalk_user: true\n", nil},
		{"everything wrong", `    login_host: http://login.example
    api_host: not a url
    client_secret: inline-secret
    client_secret_file: ` + secretFile + `
    preselect_corp: true
    admit_external_contacts: true
    timeout: -5s
    username_template: "{{.job_number"
`, []string{
			"upstreams[0] (dt).client_secret: set only one of client_secret and client_secret_file",
			"upstreams[0] (dt).corp_id: required: the organisation whose members may log in (or allow_any_dingtalk_user: true",
			"upstreams[0] (dt).login_host: want https (http only for loopback)",
			"upstreams[0] (dt).api_host: want an absolute https URL",
			"upstreams[0] (dt).client_id: required",
			"upstreams[0] (dt).admit_external_contacts: only means something with corp_id",
			"upstreams[0] (dt).preselect_corp: needs corp_id",
			"upstreams[0] (dt).timeout: must not be negative",
			"upstreams[0] (dt).username_template: template: username_template:1: unclosed action",
		}},
		{"no secret", "    client_id: dingabc\n    corp_id: ding0123\n", []string{
			"upstreams[0] (dt).client_secret: required",
		}},
		{"empty secret file", "    client_id: dingabc\n    client_secret_file: " + emptyFile + "\n    corp_id: ding0123\n", []string{
			"upstreams[0] (dt).client_secret_file: secret file " + emptyFile + " is empty",
		}},
		{"missing secret file", "    client_id: dingabc\n    client_secret_file: /nonexistent/dt\n    corp_id: ding0123\n", []string{
			"upstreams[0] (dt).client_secret_file: read secret file",
		}},
		{"corp and anybody", "    client_id: dingabc\n    client_secret: s\n    corp_id: ding0123\n    allow_any_dingtalk_user: true\n", []string{
			"upstreams[0] (dt).allow_any_dingtalk_user: contradicts corp_id",
		}},
		{"timeout too long", "    client_id: dingabc\n    client_secret: s\n    corp_id: ding0123\n    timeout: 1h\n", []string{
			"upstreams[0] (dt).timeout: must be at most 2m",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "dingoidc.yaml", dingtalkYAML(tc.yaml))
			_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d\n got %s\nwant %s…", i, got[i], tc.want[i])
				}
			}
			if strings.Contains(err.Error(), "inline-secret") || strings.Contains(err.Error(), "dt-file-secret") {
				t.Errorf("a secret is shown:\n%v", err)
			}
		})
	}

	t.Run("unknown key", func(t *testing.T) {
		path := writeFile(t, "dingoidc.yaml", dingtalkYAML("    client_id: dingabc\n    client_secret: s\n    corpid: ding0123\n"))
		_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
		got := problems(t, err)
		if len(got) != 1 || !strings.Contains(got[0], `unknown key "corpid" in upstream "dt" (type dingtalk)`) {
			t.Errorf("problems %q", got)
		}
	})
}

// TestDingTalkUpstreamBuilt loads a config, builds the upstream, and runs
// a login against a fake DingTalk to see the secret file's content used
// (read at build) and never shown.
func TestDingTalkUpstreamBuilt(t *testing.T) {
	const fileSecret = "dt-file-secret-0123456789"
	var gotSecrets []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		gotSecrets = append(gotSecrets, in["clientSecret"])
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":"invalidAuthCode","requestid":"r1","message":"不合法的临时授权码"}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "dt-secret")
	if err := os.WriteFile(secretFile, []byte("old-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "dingoidc.yaml", dingtalkYAML(`    client_id: dingabc
    client_secret_file: `+secretFile+`
    corp_id: ding0123
    preselect_corp: true
    api_host: `+api.URL+`
    login_host: http://127.0.0.1:1/sim
    timeout: 5s
    username_template: "{{ascii .job_number}}"
    claims: {email: "{{.job_number}}@staff.example.com"}
`))
	cfg, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	// The file is read when the upstream is built, not when loaded.
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ups, err := cfg.buildUpstreams(t.Context(), upstreamDeps{
		HTTPClient: http.DefaultClient, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].ID != "dt" || ups[0].Name != "钉钉" || ups[0].Claims["email"] != "{{.job_number}}@staff.example.com" {
		t.Fatalf("upstreams %+v", ups)
	}
	p, ok := ups[0].Provider.(*dingtalk.Provider)
	if !ok || p.Type() != "dingtalk" {
		t.Fatalf("provider %T", ups[0].Provider)
	}
	loginURL, err := p.LoginURL(t.Context(), upstream.LoginRequest{State: "s", RedirectURI: "https://sso.example.gov.cn/login/dt/callback"})
	if err != nil || !strings.HasPrefix(loginURL, "http://127.0.0.1:1/sim/oauth2/auth?") ||
		!strings.Contains(loginURL, "client_id=dingabc") || !strings.Contains(loginURL, "&corpId=ding0123") {
		t.Errorf("login URL %s (%v)", loginURL, err)
	}
	_, err = p.Exchange(t.Context(), url.Values{"authCode": {"used-code"}}, "")
	if !errors.Is(err, upstream.ErrCodeInvalid) {
		t.Errorf("exchange: %v", err)
	}
	if !slices.Equal(gotSecrets, []string{fileSecret}) {
		t.Errorf("DingTalk got client secrets %q, want the file's", gotSecrets)
	}

	// Never shown: not in the config's printing, logging or config check.
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v", cfg, cfg.Upstreams, cfg), fmt.Sprint(err), logs.String(),
	} {
		if strings.Contains(s, fileSecret) || strings.Contains(s, "used-code") {
			t.Errorf("a secret is shown: %s", s)
		}
	}
}

func TestDingTalkInlineSecretRedacted(t *testing.T) {
	const inline = "inline-dingtalk-secret-42"
	path := writeFile(t, "dingoidc.yaml", dingtalkYAML("    client_id: dingabc\n    client_secret: "+inline+"\n    corp_id: ding0123\n"))
	cfg, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "config", cfg, "upstream", cfg.Upstreams[0])
	r := mustRun(t, fakeEnv{}, "config", "check", "--config", path)
	rj := mustRun(t, fakeEnv{}, "config", "check", "--config", path, "--json")
	for what, s := range map[string]string{
		"%v":                    fmt.Sprintf("%v", cfg),
		"%+v":                   fmt.Sprintf("%+v", cfg.Upstreams),
		"%#v":                   fmt.Sprintf("%#v", cfg),
		"upstream config":       fmt.Sprintf("%v %+v", cfg.Upstreams[0].Config, cfg.Upstreams[0].Config),
		"slog":                  buf.String(),
		"config check":          r.stdout + r.stderr,
		"config check --json":   rj.stdout + rj.stderr,
		"provider config print": fmt.Sprintf("%v %#v", *cfg.Upstreams[0].Config.(*dingtalk.Config), *cfg.Upstreams[0].Config.(*dingtalk.Config)),
	} {
		if strings.Contains(s, inline) {
			t.Errorf("%s shows the secret:\n%s", what, s)
		}
	}
	if s := cfg.Upstreams[0].Config.(*dingtalk.Config).ClientSecret; s != inline {
		t.Error("the secret is lost")
	}
}
