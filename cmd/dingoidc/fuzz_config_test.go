package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoadConfig: any YAML file either loads into a config that validates,
// or is refused with a readable error; never a panic. Seeds: the shipped
// example configs.
func FuzzLoadConfig(f *testing.F) {
	for _, p := range []string{"../../deploy/config.example.yaml", "../../deploy/kubernetes/config.yaml", "../../deploy/packaging/config.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b), false)
		}
	}
	for _, s := range []string{
		"", "issuer: https://sso.example\n", "listen: [1]\n", "tokens: {id_token_ttl: -1h}\n", "upstreams: [{id: dev, type: dev}]\n",
		"rate_limits: {login: {rate: .nan, burst: 1}}\n", "rate_limits: {token: {rate: .inf}}\n", "metrics_listen: ':'\n",
		"clients: [{id: a, redirect_uris: ['http://x']}]\n", "a: &a [*a, *a]\n", "issuer: !!binary aGk=\n", "<<: {listen: ':1'}\n",
		"tokens:\n  session_ttl: 99999999999999h\n", "trusted_proxies: ['::/0', 'x']\n",
	} {
		f.Add(s, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, yml string, dev bool) {
		p := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DINGOIDC_DATA_DIR": filepath.Join(dir, "data")}
		c, err := loadConfig(p, func(k string) string { return env[k] }, loadOptions{Dev: dev})
		if err != nil {
			if msg := err.Error(); msg == "" || !utf8.ValidString(msg) && utf8.ValidString(yml) {
				t.Fatalf("unreadable error %q", msg)
			}
			return
		}
		if err := c.Validate(false); err != nil {
			t.Fatalf("loaded, then invalid: %v", err)
		}
		if rl := c.RateLimits.idp(dev); len(rl.Problems()) > 0 {
			t.Fatalf("rate limits loaded with problems %q", rl.Problems())
		}
		if strings.TrimSpace(c.Listen) == "" {
			t.Fatal("no listen address after defaults")
		}
	})
}
