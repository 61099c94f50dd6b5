package idp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
)

func TestConfigDefaultsAndRules(t *testing.T) {
	var c idp.Config
	c.SetDefaults()
	if c.IDTokenTTL != idp.DefaultIDTokenTTL || c.RefreshMaxTTL != idp.DefaultRefreshMaxTTL ||
		c.RefreshGrace != idp.DefaultRefreshGrace || c.DefaultAccessTokenFormat != "opaque" {
		t.Errorf("defaults %+v", c)
	}
	if p := c.SettingProblems(nil); len(p) != 0 {
		t.Errorf("defaults break the rules: %v", p)
	}

	c.IDTokenTTL, c.LoginTTL, c.RefreshTTL = time.Minute, 2*time.Hour, 30*time.Minute
	c.DefaultAccessTokenFormat = "paseto"
	var got []string
	for _, p := range c.SettingProblems(func(f string) string { return "<" + f + ">" }) {
		got = append(got, p.Error())
	}
	want := []string{
		"<IDTokenTTL>: must be at least 5m (got 1m)",
		"<LoginTTL>: must be at most 1h (got 2h)",
		"<RefreshTTL>: must not be shorter than <AccessTokenTTL> (30m < 1h)",
		`<DefaultAccessTokenFormat>: unknown format "paseto" (want jwt or opaque)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// New applies the same rules as the config file and reports every problem.
func TestNewRejectsBadConfig(t *testing.T) {
	_, err := idp.New(idp.Config{
		Issuer:     "http://sso.example.gov.cn",
		IDTokenTTL: 48 * time.Hour,
		Upstreams:  []idp.UpstreamConfig{{ID: "Bad_ID"}},
	}, idp.Deps{})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{
		"issuer: must use https",
		"master key must be 32 bytes",
		"IDTokenTTL: must be at most 24h",
		`upstream id "Bad_ID"`,
		"upstream Bad_ID has no provider",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"::ffff:127.0.0.1": true, "10.0.0.1": false, "localhost.example.com": false, "sso.example.gov.cn": false,
	} {
		if got := idp.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
