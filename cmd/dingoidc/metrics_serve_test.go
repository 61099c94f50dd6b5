package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

// TestServeMetricsListen: with metrics_listen, /metrics is served there
// (with the Go runtime figures) and not on the main listener.
func TestServeMetricsListen(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("log: {format: json}\nlisten: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nrate_limits:\n  login: {rate: 10, burst: 20}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DINGOIDC_DATA_DIR": dir}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--config", cfgPath}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	// The listeners' addresses are in the log lines that announce them.
	addrs := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(addrs) < 2 {
		for _, l := range strings.Split(stderr.String(), "\n") {
			var rec struct{ Msg, Listen string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Listen != "" {
				addrs[rec.Msg] = rec.Listen
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not announce its listeners: %s", stderr.String())
		}
	}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("http://" + addrs["metrics serving"] + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "dingoidc_build_info{") || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "dingoidc_db_pool_open_connections") {
		t.Fatalf("metrics listener: %d\n%s", code, body)
	}
	if code, _ := get("http://" + addrs["dingoidc serving"] + "/metrics"); code != http.StatusNotFound {
		t.Errorf("main listener /metrics with metrics_listen set: %d, want 404", code)
	}
}

func TestMetricsAndRateLimitsConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"metrics_listen: nowhere\n", "metrics_listen: want host:port"},
		{"metrics_listen: :9090\nmetrics_public: true\n", "metrics_public: has no effect"},
		{"rate_limits:\n  token: {rate: -3}\n", "rate_limits.token.rate"},
		{"rate_limits:\n  login: {rate: 5, burst: 0}\n", "rate_limits.login.burst"},
		{"rate_limits:\n  logins: {rate: 5}\n", `unknown key "logins" in rate_limits`},
	} {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(p, func(k string) string { return map[string]string{"DINGOIDC_DATA_DIR": dir}[k] }, loadOptions{Dev: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.yaml, err, tc.want)
		}
	}
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("rate_limits:\n  token_client: {rate: 7, burst: 9}\nmetrics_listen: 127.0.0.1:9090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(p, func(k string) string { return map[string]string{"DINGOIDC_DATA_DIR": dir}[k] }, loadOptions{Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	rl := c.RateLimits.idp(true)
	if rl.TokenClient.Rate != 7 || rl.TokenClient.Burst != 9 || rl.Login.Rate != 50 || !rl.ExemptLoopback {
		t.Errorf("rate limits %+v", rl)
	}
	if m := c.MetricsServe.idp(); !m.Separate {
		t.Errorf("metrics %+v", m)
	}
}

// TestUpstreamCallsCounted: serve's upstreams get an HTTP client whose
// calls are counted under the entry's id.
func TestUpstreamCallsCounted(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"code":"ServiceUnavailable","message":"down"}`, http.StatusServiceUnavailable)
	}))
	defer api.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	yml := "issuer: https://sso.example.gov.cn\nupstreams:\n  - id: dt\n    type: dingtalk\n    name: 钉钉\n    client_id: dingabc\n    client_secret: s3cr3t\n    allow_any_dingtalk_user: true\n    api_host: " + api.URL + "\n    oapi_host: " + api.URL + "\n"
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p, func(k string) string { return map[string]string{"DINGOIDC_DATA_DIR": dir}[k] }, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := idp.NewMetrics()
	cfg.upstreamMetrics = m
	ups, err := cfg.buildUpstreams(t.Context(), upstreamDeps{HTTPClient: api.Client(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ups[0].Provider.Exchange(t.Context(), url.Values{"authCode": {"c0de"}, "code": {"c0de"}}, "https://sso.example.gov.cn/login/dt/callback"); err == nil {
		t.Fatal("exchange against a failing API succeeded")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `error="http_5xx",upstream="dt"}`) {
		t.Errorf("the upstream's calls are not counted:\n%s", rec.Body.String())
	}
}
