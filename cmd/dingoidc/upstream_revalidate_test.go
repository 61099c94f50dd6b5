package main

import (
	"strings"
	"testing"
	"time"
)

// TestRevalidateAfterKey: revalidate_after is a common key of every
// upstream entry, at least a minute, passed to idp (0: its default, 1h).
func TestRevalidateAfterKey(t *testing.T) {
	entry := func(v string) string {
		return zzdConfig(t.TempDir(), `    login_host: https://login.dg-work.cn
    api_host: https://openplatform.dg-work.cn
    app_code: myapp_dingoa
    app_key: myapp-AbCdEf
    app_secret: s3cr3t
`+v)
	}
	cfg, err := loadConfig(writeFile(t, "dingoidc.yaml", entry("    revalidate_after: 2h\n")), fakeEnv{}.getenv, loadOptions{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Upstreams[0].RevalidateAfter.D(); got != 2*time.Hour {
		t.Errorf("revalidate_after %s, want 2h", got)
	}
	_, err = loadConfig(writeFile(t, "dingoidc.yaml", entry("    revalidate_after: 10s\n")), fakeEnv{}.getenv, loadOptions{Serve: true})
	if got := problems(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "upstreams[0] (zzd).revalidate_after: 10s is too short") {
		t.Errorf("problems %q", got)
	}
}
