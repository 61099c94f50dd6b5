package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/upstream"
)

// testMasterKey is a valid master key for tests.
var testMasterKey = keys.GenerateMasterKey()

// validConfig is a complete, valid config file for serve.
func validConfig(dataDir string) string {
	return `issuer: https://sso.example.gov.cn
data_dir: ` + dataDir + `
secret_key: ` + testMasterKey + `
upstreams:
  - id: dev
    type: dev
    name: Test people
clients:
  - id: grafana
    name: Grafana
    secret: grafana-secret-0123456789
    redirect_uris: [https://grafana.example.gov.cn/login/generic_oauth]
`
}

// problems returns the problem lines of a config error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *configError", err, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ce.problems)+1 {
		t.Fatalf("%d lines for %d problems:\n%s", len(lines), len(ce.problems), err)
	}
	out := make([]string, 0, len(ce.problems))
	for _, l := range lines[1:] {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

func TestConfigCheckOK(t *testing.T) {
	path := writeFile(t, "dingoidc.yaml", validConfig(t.TempDir()))
	r := mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path) // its upstream is type dev
	for _, want := range []string{"config OK", "https://sso.example.gov.cn", "dev: dev", "grafana: confidential"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output does not contain %q:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path, "--json")
	out := decodeJSON[struct {
		OK     bool `json:"ok"`
		Config struct {
			Issuer string `json:"issuer"`
		} `json:"config"`
	}](t, r.stdout)
	if !out.OK || out.Config.Issuer != "https://sso.example.gov.cn" {
		t.Errorf("config check --json: %s", r.stdout)
	}
}

func TestConfigListsEveryProblem(t *testing.T) {
	path := writeFile(t, "dingoidc.yaml", `issuer: https://sso.example.gov.cn/
storage: {driver: mysql}
secret_key: too-short
tokens: {code_ttl: 30m}
upstreams: [{id: dev, type: dev}]
clients:
  - id: bad id
    public: true
    redirect_uris: [https://app.example/cb]
`)
	r := runCLI(t, fakeEnv{}, "config", "check", "--config", path)
	got := problems(t, r.err)
	want := []string{
		"issuer must not end with '/'",
		"storage.driver:",
		"secret_key:",
		"tokens.code_ttl: must be at most 10m",
		"clients[0] (bad id).id:",
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if strings.Contains(r.err.Error(), "too-short") {
		t.Errorf("the error repeats the secret key: %v", r.err)
	}

	// --json lists them too.
	r = runCLI(t, fakeEnv{}, "config", "check", "--config", path, "--json")
	out := decodeJSON[struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}](t, r.stdout)
	if r.err == nil || out.OK || len(out.Problems) != 5 {
		t.Errorf("config check --json: err %v, output %s", r.err, r.stdout)
	}
}

func TestConfigUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // one per problem
	}{
		{
			name: "top level",
			yaml: "issuer: https://sso.example\nisuer: x\n",
			want: []string{`line 2: unknown key "isuer"`},
		},
		{
			name: "section",
			yaml: "storage:\n  driver: sqlite\n  drvier: postgres\ntokens: {id_token_tl: 1h}\n",
			want: []string{`line 3: unknown key "drvier" in storage`, `line 4: unknown key "id_token_tl" in tokens`},
		},
		{
			name: "client entry",
			yaml: "clients:\n  - id: app\n    redirect_uri: https://app.example/cb\n",
			want: []string{`line 3: unknown key "redirect_uri" in a clients entry`},
		},
		{
			name: "type-specific key",
			yaml: "upstreams:\n  - id: dev\n    type: dev\n    peeple: []\n",
			want: []string{`line 4: unknown key "peeple" in upstream "dev" (type dev)`},
		},
		{
			name: "every one at once",
			yaml: "foo: 1\nupstreams:\n  - id: dev\n    type: dev\n    bar: 2\nlog: {levle: debug}\n",
			want: []string{
				`line 1: unknown key "foo"`,
				`line 5: unknown key "bar" in upstream "dev" (type dev)`,
				`line 6: unknown key "levle" in log`,
			},
		},
		{
			name: "bad duration",
			yaml: "tokens:\n  session_ttl: 12 hours\n",
			want: []string{`line 2: invalid duration "12 hours"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "dingoidc.yaml", tt.yaml)
			_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(tt.want))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestConfigDevPeopleTakeAnyAttribute(t *testing.T) {
	path := writeFile(t, "dingoidc.yaml", `upstreams:
  - id: dev
    type: dev
    people:
      - {id: zhangsan, name: 张三, account: zhangsan, employeeCode: E001, tenantId: 12371}
      - {id: zhangsan, name: 李四}
`)
	_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	got := problems(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], `upstreams[0] (dev).people[1].id: "zhangsan" is used twice`) {
		t.Errorf("problems %q", got)
	}
}

func TestConfigIssuer(t *testing.T) {
	tests := []struct {
		issuer string
		want   string // "" when valid
	}{
		{"https://sso.example.gov.cn", ""},
		{"https://sso.example.gov.cn/oidc", ""},
		{"https://sso.example.gov.cn:8443", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://127.8.9.10", ""},
		{"http://[::1]:8080", ""},
		{"http://localhost:8080", ""},
		{"https://sso.example.gov.cn/", "issuer must not end with '/'"},
		{"https://sso.example.gov.cn/oidc/", "issuer must not end with '/'"},
		{"http://sso.example.gov.cn", "issuer: must use https"},
		{"http://10.0.0.1", "issuer: must use https"},
		{"http://localhost.example.com", "issuer: must use https"},
		{"https://sso.example.gov.cn?tenant=1", "issuer: must not have a query"},
		{"https://sso.example.gov.cn#x", "issuer: must not have a fragment"},
		{"sso.example.gov.cn", "issuer: must be an absolute https URL"},
		{"/oidc", "issuer: must be an absolute https URL"},
		{"ftp://sso.example.gov.cn", "issuer: must be an absolute https URL"},
		{"https://user:pw@sso.example.gov.cn", "issuer: must not contain user info"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			path := writeFile(t, "dingoidc.yaml", fmt.Sprintf("issuer: %q\n", tt.issuer))
			_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid issuer rejected: %v", err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("problems %q, want one starting %q", got, tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	secretFile := writeFile(t, "secret", "file-secret-0123456789\n")
	tests := []struct {
		name string
		yaml string // appended to a valid config
		want []string
	}{
		{"valid", "", nil},
		{"ttls too short", "tokens: {id_token_ttl: 1m, access_token_ttl: 4m59s, login_ttl: 0s}\n", []string{
			"tokens.id_token_ttl: must be at least 5m",
			"tokens.access_token_ttl: must be at least 5m",
			"tokens.login_ttl: must be positive",
		}},
		{"negative ttl", "tokens: {session_ttl: -1h, refresh_grace: -1s}\n", []string{
			"tokens.session_ttl: must be positive",
			"tokens.refresh_grace: must be between",
		}},
		{"refresh shorter than access", "tokens: {refresh_token_ttl: 10m, access_token_ttl: 1h}\n", []string{
			"tokens.refresh_token_ttl: must not be shorter",
		}},
		{"keys", "keys: {rotation_period: 2h, publish_ahead: 3h}\n", []string{
			"keys.publish_ahead: must be shorter",
		}},
		{"formats", "access_token_format: paseto\nlog: {level: loud, format: xml}\n", []string{
			"access_token_format: unknown format",
			"log.level: unknown level",
			"log.format: unknown format",
		}},
		{"postgres without dsn", "storage: {driver: postgres}\n", []string{
			"storage.dsn: required for the postgres driver",
		}},
		{"dsn for sqlite", "storage: {dsn: postgres://db/x}\n", []string{
			"storage.dsn: only used by the postgres driver",
		}},
		{"two master keys", "secret_key_file: /run/secrets/key\n", []string{
			"secret_key: set only one",
		}},
		{"upstreams", `  - {id: dev, type: dev}
  - {id: Bad_ID, type: dev}
  - {id: x, type: wechat}
  - {type: dev, bare_subject: true}
`, []string{
			`upstreams[1] (dev).id: "dev" is used twice`,
			`upstreams[2] (Bad_ID).id: "Bad_ID" must match`,
			`upstreams[3] (x).type: unknown type "wechat"`,
			"upstreams[4].id: required",
			"upstreams[4].bare_subject: only allowed with a single upstream",
		}},
		{"clients", `  - id: grafana
    secret: grafana-secret-0123456789
    redirect_uris: [https://g.example/cb]
  - id: short
    secret: abc
    redirect_uris: ["/relative", "https://app.example/cb#frag"]
    post_logout_redirect_uris: ["https:///nohost"]
  - id: both
    secret: 0123456789abcdef
    secret_file: ` + secretFile + `
    redirect_uris: [https://app.example/cb]
  - id: none
    redirect_uris: [https://app.example/cb]
  - id: pub
    public: true
    secret: 0123456789abcdef
    upstreams: [nowhere]
    access_token_format: macaroon
  - id: plus
    secret: abc+def/ghi=jklmnop
  - id: fromfile
    secret_file: ` + secretFile + `
    redirect_uris: [https://app.example/cb]
  - id: missingfile
    secret_file: /nonexistent/secret
    redirect_uris: [https://app.example/cb]
`, []string{
			`clients[1] (grafana).id: "grafana" is used twice`,
			"clients[2] (short).redirect_uris[0]: must be absolute",
			"clients[2] (short).redirect_uris[1]: must not have a fragment",
			"clients[2] (short).post_logout_redirect_uris[0]: must have a host",
			"clients[2] (short).secret: secret is 3 characters",
			"clients[3] (both).secret: set only one",
			"clients[4] (none).secret: required unless public",
			"clients[5] (pub).redirect_uris: at least one is required",
			`clients[5] (pub).access_token_format: unknown format "macaroon"`,
			`clients[5] (pub).upstreams: unknown upstream "nowhere"`,
			"clients[5] (pub).secret: a public client has no secret",
			"clients[6] (plus).redirect_uris: at least one is required",
			"clients[6] (plus).secret: secret may only use",
			"clients[8] (missingfile).secret_file: read secret file",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := validConfig(t.TempDir())
			if strings.HasPrefix(tt.yaml, "  - ") { // more list entries
				if strings.Contains(tt.want[0], "upstreams") {
					yml = strings.Replace(yml, "    name: Test people\n", "    name: Test people\n"+tt.yaml, 1)
				} else {
					yml += tt.yaml
				}
			} else {
				yml = tt.yaml + yml
			}
			path := writeFile(t, "dingoidc.yaml", yml)
			_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestConfigRequiredForServe(t *testing.T) {
	_, err := loadConfig("", fakeEnv{}.getenv, loadOptions{Serve: true})
	got := problems(t, err)
	want := []string{"issuer: required", "secret_key: required", "upstreams: at least one upstream"}
	if len(got) != len(want) {
		t.Fatalf("problems %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	// Admin commands need none of it.
	if _, err := loadConfig("", fakeEnv{}.getenv, loadOptions{}); err != nil {
		t.Errorf("defaults rejected for admin commands: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig("", fakeEnv{}.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" || cfg.DataDir != "./data" || cfg.Storage.Driver != "sqlite" ||
		cfg.Storage.Path != filepath.Join("data", "dingoidc.sqlite") || cfg.AccessTokenFormat != "opaque" ||
		cfg.Log.Level != "info" || cfg.Log.Format != "json" {
		t.Errorf("defaults %+v", cfg)
	}
	ic, err := (&FileConfig{SecretKey: Secret(testMasterKey), Tokens: cfg.Tokens}).IDPConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ic.IDTokenTTL != time.Hour || ic.AccessTokenTTL != time.Hour || ic.RefreshTTL != 720*time.Hour ||
		ic.SessionTTL != 12*time.Hour || ic.LoginTTL != 10*time.Minute || ic.CodeTTL != time.Minute ||
		ic.RefreshGrace != 10*time.Second || len(ic.MasterKey) != 32 {
		t.Errorf("idp config %+v", ic)
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	keyFile := writeFile(t, "master-key", testMasterKey+"\n")
	dsnFile := writeFile(t, "dsn", "postgres://dingoidc@db/dingoidc\n")
	path := writeFile(t, "dingoidc.yaml", `issuer: https://file.example
listen: ":1"
data_dir: /from/file
storage: {driver: sqlite}
secret_key: `+testMasterKey+`
access_token_format: jwt
log: {level: debug, format: text}
`)
	env := fakeEnv{
		"DINGOIDC_ISSUER":              "https://env.example",
		"DINGOIDC_LISTEN":              "127.0.0.1:9000",
		"DINGOIDC_DATA_DIR":            "/from/env",
		"DINGOIDC_STORAGE_DRIVER":      "postgres",
		"DINGOIDC_STORAGE_PATH":        "",
		"DINGOIDC_STORAGE_DSN_FILE":    dsnFile,
		"DINGOIDC_SECRET_KEY_FILE":     keyFile,
		"DINGOIDC_ACCESS_TOKEN_FORMAT": "opaque",
		"DINGOIDC_LOG_LEVEL":           "warn",
		"DINGOIDC_LOG_FORMAT":          "json",
	}
	cfg, err := loadConfig(path, env.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Issuer, cfg.Listen, cfg.DataDir, cfg.Storage.Driver, cfg.Storage.DSNFile,
		cfg.SecretKeyFile, string(cfg.SecretKey), cfg.AccessTokenFormat, cfg.Log.Level, cfg.Log.Format}
	want := []string{"https://env.example", "127.0.0.1:9000", "/from/env", "postgres", dsnFile,
		keyFile, "", "opaque", "warn", "json"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d = %q, want %q", i, got[i], want[i])
		}
	}
	dsn, err := cfg.DSN()
	if err != nil || dsn.Value() != "postgres://dingoidc@db/dingoidc" {
		t.Errorf("DSN() = %q, %v", dsn.Value(), err)
	}
	if _, err := cfg.MasterKey(); err != nil {
		t.Errorf("MasterKey: %v", err)
	}

	// The data_dir from the environment decides the default SQLite path.
	cfg, err = loadConfig("", fakeEnv{"DINGOIDC_DATA_DIR": "/srv/dingoidc"}.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Path != "/srv/dingoidc/dingoidc.sqlite" {
		t.Errorf("storage.path = %q", cfg.Storage.Path)
	}

	// Problems with values from the environment name the variable.
	_, err = loadConfig("", fakeEnv{"DINGOIDC_LOG_LEVEL": "loud", "DINGOIDC_ISSUER": "https://x.example/"}.getenv, loadOptions{})
	got = problems(t, err)
	if len(got) != 2 || !strings.Contains(got[0], "DINGOIDC_ISSUER") || !strings.HasPrefix(got[1], "log.level (DINGOIDC_LOG_LEVEL):") {
		t.Errorf("problems %q", got)
	}

	// Both forms of a secret from the environment conflict.
	_, err = loadConfig("", fakeEnv{"DINGOIDC_SECRET_KEY": testMasterKey, "DINGOIDC_SECRET_KEY_FILE": keyFile}.getenv, loadOptions{})
	got = problems(t, err)
	if len(got) != 1 || !strings.Contains(got[0], "set only one of secret_key (DINGOIDC_SECRET_KEY) and secret_key_file (DINGOIDC_SECRET_KEY_FILE)") {
		t.Errorf("problems %q", got)
	}
}

func TestSecretsRedacted(t *testing.T) {
	const (
		clientSecret = "grafana-client-secret-xyzzy"
		dsnPassword  = "hunter2-db-password"
	)
	path := writeFile(t, "dingoidc.yaml", `issuer: https://sso.example.gov.cn
storage:
  driver: postgres
  dsn: postgres://dingoidc:`+dsnPassword+`@db.example/dingoidc
secret_key: `+testMasterKey+`
upstreams: [{id: dev, type: dev}]
clients:
  - id: grafana
    secret: `+clientSecret+`
    redirect_uris: [https://grafana.example.gov.cn/cb]
`)
	secrets := []string{clientSecret, dsnPassword, testMasterKey}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret:\n%s", what, out)
			}
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s does not say %s:\n%s", what, redacted, out)
		}
	}

	r := mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path)
	check("config check", r.stdout+r.stderr)
	r = mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path, "--json")
	check("config check --json", r.stdout+r.stderr)

	cfg, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		check(verb, fmt.Sprintf(verb, cfg))
		check(verb+" of a value", fmt.Sprintf(verb, *cfg))
	}
	check("%q of a secret", fmt.Sprintf("%q %x %s", cfg.SecretKey, cfg.SecretKey, cfg.SecretKey))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "config", cfg, "key", cfg.SecretKey)
	check("slog JSON", buf.String())
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "config", cfg, "key", cfg.SecretKey, "client", cfg.Clients[0])
	check("slog text", buf.String())

	// The secrets are still there for whoever asks.
	if dsn, _ := cfg.DSN(); !strings.Contains(dsn.Value(), dsnPassword) {
		t.Error("DSN() lost the password")
	}
	if s, _ := cfg.Clients[0].secret(); s.Value() != clientSecret {
		t.Error("client secret lost")
	}
}

func TestDevMode(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg, err := loadConfig("", fakeEnv{"DINGOIDC_DATA_DIR": dataDir}.getenv, loadOptions{Serve: true, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "http://127.0.0.1:8080" || cfg.Listen != "127.0.0.1:8080" || cfg.Log.Format != "text" {
		t.Errorf("dev defaults: issuer %q listen %q log %q", cfg.Issuer, cfg.Listen, cfg.Log.Format)
	}
	ic, err := cfg.IDPConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.MasterKey) != 32 {
		t.Errorf("idp config: master key %d bytes", len(ic.MasterKey))
	}
	fi, err := os.Stat(filepath.Join(dataDir, "master-key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master-key mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := devMasterKey(dataDir)
	if err != nil || !bytes.Equal(again, ic.MasterKey) {
		t.Errorf("second devMasterKey differs (%v)", err)
	}

	// The dev issuer follows the listen port.
	cfg, err = loadConfig("", fakeEnv{"DINGOIDC_DATA_DIR": dataDir, "DINGOIDC_LISTEN": "127.0.0.1:9999"}.getenv,
		loadOptions{Serve: true, Dev: true})
	if err != nil || cfg.Issuer != "http://127.0.0.1:9999" {
		t.Errorf("issuer %q, %v", cfg.Issuer, err)
	}
}

// fakeProvider is an upstream.Provider for the factory test.
type fakeProvider struct{ token Secret }

func (fakeProvider) Type() string { return "fake" }
func (fakeProvider) LoginURL(context.Context, upstream.LoginRequest) (string, error) {
	return "https://login.example", nil
}
func (fakeProvider) Exchange(context.Context, url.Values, string) (*upstream.Identity, error) {
	return nil, upstream.ErrUnavailable
}
func (fakeProvider) DefaultClaims() map[string]string { return nil }

type fakeUpstreamConfig struct {
	Host      string `yaml:"host"`
	AppSecret Secret `yaml:"app_secret"`
	Nested    struct {
		Tenants []int `yaml:"tenants"`
	} `yaml:"nested"`
}

func (c *fakeUpstreamConfig) Validate() error {
	if c.Host == "" {
		return errors.New("host: required")
	}
	return nil
}

func (c *fakeUpstreamConfig) Open(context.Context, upstream.Deps) (upstream.Provider, error) {
	return fakeProvider{token: c.AppSecret}, nil
}

func TestUpstreamFactories(t *testing.T) {
	upstreamTypes["fake"] = func() upstream.Config { return new(fakeUpstreamConfig) }
	t.Cleanup(func() { delete(upstreamTypes, "fake") })

	path := writeFile(t, "dingoidc.yaml", `upstreams:
  - id: one
    type: fake
    name: One
    host: https://one.example
    app_secret: very-secret-app-secret
    nested: {tenants: [1, 2], tennants: [3]}
    claims: {email: "{{.account}}@example.gov.cn"}
  - id: two
    type: fake
`)
	_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	got := problems(t, err)
	if len(got) != 1 || got[0] != `line 7: unknown key "tennants" in upstream "one" (type fake) nested` {
		t.Fatalf("problems %q", got)
	}
	yml, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(yml, []byte(", tennants: [3]"), nil, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	got = problems(t, err)
	if len(got) != 1 || got[0] != "upstreams[1] (two).host: required" {
		t.Fatalf("problems %q", got)
	}
	if err := os.WriteFile(path, append(bytes.Replace(yml, []byte(", tennants: [3]"), nil, 1), "    host: https://two.example\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg, cfg.Upstreams, cfg); strings.Contains(s, "very-secret-app-secret") {
		t.Errorf("an upstream secret is printed: %s", s)
	}
	ups, err := cfg.buildUpstreams(t.Context(), upstreamDeps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 || ups[0].ID != "one" || ups[0].Name != "One" || ups[1].Name != "two" ||
		ups[0].Claims["email"] != "{{.account}}@example.gov.cn" ||
		ups[0].Provider.(fakeProvider).token.Value() != "very-secret-app-secret" {
		t.Errorf("upstreams %+v", ups)
	}
}
