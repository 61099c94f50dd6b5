package idp_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/buildinfo"
)

// TestBuildInfoMetric: /metrics names the running version, so a dashboard
// shows which release each replica runs (docs/operations-backup.md,
// "Upgrading").
func TestBuildInfoMetric(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	_, body := e.browser().get(e.issuer + "/metrics")
	var line string
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, "dingoidc_build_info{") {
			line = strings.TrimSpace(l)
		}
	}
	if !strings.HasSuffix(line, "} 1") {
		t.Fatalf("no dingoidc_build_info{…} 1 line:\n%s", body)
	}
	// Labels in any order.
	for name, value := range map[string]string{"version": buildinfo.Version(), "goversion": buildinfo.GoVersion()} {
		if !regexp.MustCompile(`[{,]` + name + `="` + regexp.QuoteMeta(value) + `"[,}]`).MatchString(line) {
			t.Errorf("%s lacks %s=%q", line, name, value)
		}
	}
	if !strings.Contains(body, "# TYPE dingoidc_build_info gauge") {
		t.Errorf("dingoidc_build_info is not declared a gauge:\n%s", body)
	}
}
