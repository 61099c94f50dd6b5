package main

import (
	"strings"
	"testing"
)

func TestConfigTrustedProxies(t *testing.T) {
	path := writeFile(t, "dingoidc.yaml", `trusted_proxies: [10.0.0.0/8, 192.0.2.7, not-a-proxy, 300.0.0.0/8]
upstreams:
  - {id: dev, type: dev, people: [{id: a, name: A}]}
`)
	_, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	got := problems(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], "trusted_proxies: ") ||
		!strings.Contains(got[0], `"not-a-proxy"`) || !strings.Contains(got[0], `"300.0.0.0/8"`) {
		t.Fatalf("problems %q", got)
	}

	env := fakeEnv{"DINGOIDC_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}
	c, err := loadConfig(writeFile(t, "ok.yaml", "upstreams:\n  - {id: dev, type: dev, people: [{id: a, name: A}]}\n"), env.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.TrustedProxies, "|") != "10.0.0.0/8|127.0.0.1" {
		t.Errorf("from env: %q", c.TrustedProxies)
	}
	if ic := c.tokenSettings(); len(ic.TrustedProxies) != 2 {
		t.Errorf("not passed to the provider: %q", ic.TrustedProxies)
	}
}
