package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

const siteUpstream = "upstreams:\n  - {id: dev, type: dev, people: [{id: a, name: A}]}\n"

// TestConfigSite: branding and signin_log_retention reach the provider;
// a bad logo, colour or retention is a problem naming its key, all at once.
func TestConfigSite(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.svg")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>`
	if err := os.WriteFile(logo, []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "ok.yaml", siteUpstream+`secret_key: `+testMasterKey+`
branding: {name: 浙江省数据局, logo_file: `+logo+`, primary_color: "#c8102e"}
signin_log_retention: 2160h
`)
	c, err := loadConfig(path, fakeEnv{}.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ic, err := c.IDPConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ic.Branding.Name != "浙江省数据局" || string(ic.Branding.Logo) != svg || ic.Branding.PrimaryColor != "#c8102e" {
		t.Errorf("branding %+v", ic.Branding)
	}
	if ic.SignInLog.Retention != 90*24*time.Hour {
		t.Errorf("retention %s", ic.SignInLog.Retention)
	}

	// Unset: the provider's defaults (dingoidc's look, 180 days).
	c, err = loadConfig(writeFile(t, "plain.yaml", siteUpstream+"secret_key: "+testMasterKey+"\n"), fakeEnv{}.getenv, loadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ic, err = c.IDPConfig(nil); err != nil || ic.Branding.Name != "" || ic.SignInLog.Retention != 0 {
		t.Fatalf("%+v %v", ic, err)
	}
	ic.SetDefaults()
	if ic.SignInLog.Retention != idp.DefaultSignInRetention {
		t.Errorf("default retention %s", ic.SignInLog.Retention)
	}

	big := filepath.Join(dir, "big.png")
	if err := os.WriteFile(big, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, idp.MaxLogoSize)...), 0o644); err != nil {
		t.Fatal(err)
	}
	gif := filepath.Join(dir, "logo.gif")
	if err := os.WriteFile(gif, []byte("GIF89a..."), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ yaml, want string }{
		{"branding: {name: x, logo_file: " + filepath.Join(dir, "missing.png") + "}", "branding.logo_file: open "},
		{"branding: {name: x, logo_file: " + big + "}", "branding.logo_file: " + big + " is larger than 256 KiB"},
		{"branding: {name: x, logo_file: " + gif + "}", "branding.logo_file: not a PNG, JPEG or SVG image"},
		{"branding: {logo_file: " + logo + "}", "branding.name: required with a logo or a colour"},
		{`branding: {name: x, primary_color: "blue"}`, `branding.primary_color: "blue" is not a colour #rrggbb`},
		{"signin_log_retention: 1h", "signin_log_retention: must be at least 24h (got 1h)"},
		{"branding: {name: x, colour: red}", `unknown key "colour"`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, "bad.yaml", siteUpstream+tc.yaml+"\n"), fakeEnv{}.getenv, loadOptions{})
			got := problems(t, err)
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("problems %q, want one with %q", got, tc.want)
			}
		})
	}
}
