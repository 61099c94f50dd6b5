package idp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/buildinfo"
)

// TestBuildInfoMetric: /metrics names the running version, so a dashboard
// shows which release each replica runs (docs/operations-backup.md, upgrades).
func TestBuildInfoMetric(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	_, body := e.browser().get(e.issuer + "/metrics")
	want := fmt.Sprintf("dingoidc_build_info{version=%q,goversion=%q} 1", buildinfo.Version(), buildinfo.GoVersion())
	if !strings.Contains(body, want) {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
	if !strings.Contains(body, "# TYPE dingoidc_build_info gauge") {
		t.Errorf("dingoidc_build_info is not declared a gauge:\n%s", body)
	}
}
