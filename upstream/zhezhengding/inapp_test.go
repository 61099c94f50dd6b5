package zhezhengding

import (
	"fmt"
	"strings"
	"testing"
)

func TestInAppScript(t *testing.T) {
	withInApp := func(c *Config) { c.InAppKey, c.InAppSecret = "inapp-Key01", "inappsecret" }
	cases := []struct {
		name     string
		edit     func(*Config)
		wantURL  string
		wantCorp string
		wantOK   bool
	}{
		{"no in-app pair", nil, "", "", false},
		{"default script", withInApp, DefaultJSAPIURL, "", true},
		{"mirror and corp", func(c *Config) {
			withInApp(c)
			c.JSAPIURL, c.InAppCorpID = "https://mirror.zj.gov.example/gdt/index.js?v=1", "196729"
		}, "https://mirror.zj.gov.example/gdt/index.js?v=1", "196729", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, c.edit)
			u, corp, ok := e.p.InAppScript()
			if u != c.wantURL || corp != c.wantCorp || ok != c.wantOK {
				t.Errorf("InAppScript() = %q, %q, %v", u, corp, ok)
			}
		})
	}
}

func TestInAppConfigInvalid(t *testing.T) {
	cases := []struct {
		name, key string
		edit      func(*Config)
	}{
		{"relative script", "jsapi_url", func(c *Config) { c.JSAPIURL = "/index.js" }},
		{"script with credentials", "jsapi_url", func(c *Config) { c.JSAPIURL = "https://u:p@cdn.example/index.js" }},
		{"plain http script off loopback", "jsapi_url", func(c *Config) { c.JSAPIURL = "http://cdn.example/index.js" }},
		{"corp without in-app pair", "inapp_corp_id", func(c *Config) { c.InAppCorpID = "196729" }},
		{"corp with space", "inapp_corp_id", func(c *Config) { c.InAppKey, c.InAppSecret, c.InAppCorpID = "k", "s", "19 6" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{LoginHost: "https://login.example", APIHost: "https://api.example", AppCode: "a_dingoa", AppKey: "k", AppSecret: "s"}
			c.edit(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.key+":") {
				t.Errorf("Validate() = %v, want a problem with %s", err, c.key)
			}
		})
	}
}

// TestDefaultJSAPIVersion: the default gdt JSAPI is a version production
// pages load, not one below 1.9.24, under which the published package
// warns (docs/upstreams.md §1, In-app login).
func TestDefaultJSAPIVersion(t *testing.T) {
	var major, minor, patch int
	if _, err := fmt.Sscanf(DefaultJSAPIURL, "https://g.alicdn.com/gdt/jsapi/%d.%d.%d/index.js", &major, &minor, &patch); err != nil {
		t.Fatalf("DefaultJSAPIURL %s: %v", DefaultJSAPIURL, err)
	}
	if v := [3]int{major, minor, patch}; v != [3]int{1, 9, 35} && v != [3]int{1, 9, 43} {
		t.Errorf("default JSAPI %d.%d.%d, want one seen in production (1.9.35 or 1.9.43)", major, minor, patch)
	}
}
