package zhezhengding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// Defaults.
const (
	// DefaultTimeout bounds each API call when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultScope is the QR page's scope when Config.Scope is empty.
	DefaultScope = "get_user_info"
)

// Config is one Zhezhengding upstream: its part of an `upstreams` entry
// of the config file (type "zhezhengding"). Problems reported by Validate
// name the config file's keys (login_host, app_secret…).
//
// Zhezhengding reports no e-mail address; an entry that needs the email
// claim maps a synthetic one:
//
//	upstreams:
//	  - id: zzd
//	    type: zhezhengding
//	    name: 浙政钉
//	    login_host: https://login-pro.ding.zj.gov.cn
//	    api_host: https://openplatform-pro.ding.zj.gov.cn
//	    app_code: myapp_dingoa
//	    app_key: myapp-AbCdEf
//	    app_secret_file: /run/secrets/zzd-secret
//	    embed: true
//	    allowed_tenants: [12371]
//	    claims:
//	      email: "{{.account}}@example.gov.cn"
type Config struct {
	// LoginHost serves the QR page, e.g. https://login-pro.ding.zj.gov.cn
	// (no trailing slash).
	LoginHost string `yaml:"login_host"`
	// APIHost is the open platform gateway, e.g.
	// https://openplatform-pro.ding.zj.gov.cn (no trailing slash).
	APIHost string `yaml:"api_host"`
	// AppCode is the scan-login app's 应用标识 (client_id on the QR page,
	// typically ending in _dingoa), not its AppKey.
	AppCode string `yaml:"app_code"`
	// AppKey with AppSecret or AppSecretFile (exactly one; Open reads the
	// file) are the scan-login app's gateway credentials.
	AppKey        string `yaml:"app_key"`
	AppSecret     string `yaml:"app_secret"`
	AppSecretFile string `yaml:"app_secret_file"`
	// Embed shows the QR code inside dingoidc's login page (embedMode).
	Embed bool `yaml:"embed"`
	// AllowedTenants, when not empty, are the only tenants (tenantId or
	// realmId) whose people may log in.
	AllowedTenants []int64 `yaml:"allowed_tenants"`
	// InAppKey with InAppSecret or InAppSecretFile are the in-app (免登)
	// micro-app's pair; all or nothing. Without them an in-app auth_code is
	// refused.
	InAppKey        string `yaml:"inapp_app_key"`
	InAppSecret     string `yaml:"inapp_app_secret"`
	InAppSecretFile string `yaml:"inapp_app_secret_file"`
	// JSAPIURL is the gdt JSAPI script the in-app login page loads
	// (default DefaultJSAPIURL; government networks mirror it), and
	// InAppCorpID the corpId given to dd.getAuthCode (may be empty).
	JSAPIURL    string `yaml:"jsapi_url"`
	InAppCorpID string `yaml:"inapp_corp_id"`
	// Enrich looks up the person's organisations for `groups`, with the
	// in-app (micro-app) pair when configured, as real integrations do:
	// the scan-login pair is typically refused there.
	Enrich bool `yaml:"enrich"`
	// Timeout bounds each API call; zero means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// ClockOffset is added to this server's clock for the gateway's
	// signed timestamps, for a gateway whose clock is off (it refuses
	// timestamps off by minutes; one public integration adds 150s). Zero
	// for none; at most an hour either way.
	ClockOffset time.Duration `yaml:"clock_offset"`
	// Scope is the QR page's scope; empty means DefaultScope. Not a
	// config-file key.
	Scope string `yaml:"-"`
}

var _ upstream.Config = (*Config)(nil)

// Open implements upstream.Config: New, with the deps' client and logger.
func (c *Config) Open(_ context.Context, d upstream.Deps) (upstream.Provider, error) {
	return New(*c, d.HTTPClient, d.Logger, nil)
}

// readSecretFiles returns c with the secrets of its secret files (Validate
// has checked them).
func (c Config) readSecretFiles() (Config, error) {
	var err error
	if c.AppSecretFile != "" {
		if c.AppSecret, err = upstream.ReadSecretFile(c.AppSecretFile); err != nil {
			return c, fmt.Errorf("app_secret_file: %w", err)
		}
		c.AppSecretFile = ""
	}
	if c.InAppSecretFile != "" {
		if c.InAppSecret, err = upstream.ReadSecretFile(c.InAppSecretFile); err != nil {
			return c, fmt.Errorf("inapp_app_secret_file: %w", err)
		}
		c.InAppSecretFile = ""
	}
	return c, nil
}

var _ upstream.Warner = (*Config)(nil)

// Warnings implements upstream.Warner.
func (c *Config) Warnings() []string {
	var w []string
	if c.Enrich && c.InAppKey == "" {
		w = append(w, "enrich: without an in-app pair (inapp_app_key) the organisation lookups use the scan-login pair, "+
			"which the gateway typically refuses (300037 没有组织的操作权限): people log in without groups")
	}
	return w
}

// String prints the config with the secrets redacted.
func (c Config) String() string {
	c.AppSecret, c.InAppSecret = redact(c.AppSecret), redact(c.InAppSecret)
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c))
}

// GoString implements fmt.GoStringer (%#v) like String.
func (c Config) GoString() string { return "zhezhengding.Config" + c.String() }

// LogValue implements slog.LogValuer, without the secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("login_host", c.LoginHost),
		slog.String("api_host", c.APIHost),
		slog.String("app_code", c.AppCode),
		slog.String("app_key", c.AppKey),
		slog.String("app_secret", redact(c.AppSecret)),
		slog.String("inapp_app_key", c.InAppKey),
		slog.String("inapp_app_secret", redact(c.InAppSecret)),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Validate returns every problem of the config, joined, each naming its
// key: the secrets' last (reading the secret files).
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, h := range []struct{ key, value, example string }{
		{"login_host", c.LoginHost, "https://login-pro.ding.zj.gov.cn"},
		{"api_host", c.APIHost, "https://openplatform-pro.ding.zj.gov.cn"},
	} {
		if err := checkHost(h.value); err != nil {
			add(h.key, "%v (e.g. %s)", err, h.example)
		}
	}
	if c.AppCode == "" {
		add("app_code", "required (the app's 应用标识, typically ending in _dingoa)")
	} else if strings.ContainsFunc(c.AppCode, isSpaceOrControl) {
		add("app_code", "must not contain spaces or control characters")
	}
	if c.AppKey == "" {
		add("app_key", "required")
	} else if strings.ContainsFunc(c.AppKey, isSpaceOrControl) {
		add("app_key", "must not contain spaces or control characters")
	}
	if strings.ContainsFunc(c.InAppKey, isSpaceOrControl) {
		add("inapp_app_key", "must not contain spaces or control characters")
	}
	c.validateInApp(add)
	seen := map[int64]bool{}
	for i, t := range c.AllowedTenants {
		switch {
		case t <= 0:
			add(fmt.Sprintf("allowed_tenants[%d]", i), "%d is not a tenant id", t)
		case seen[t]:
			add(fmt.Sprintf("allowed_tenants[%d]", i), "%d is listed twice", t)
		}
		seen[t] = true
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative")
	} else if c.Timeout > 0 && c.Timeout < 100*time.Millisecond {
		add("timeout", "%s is too short (want at least 100ms)", c.Timeout)
	}
	if c.ClockOffset > maxClockOffset || c.ClockOffset < -maxClockOffset {
		add("clock_offset", "must be within an hour either way (got %s)", c.ClockOffset)
	}
	if strings.ContainsFunc(c.Scope, isSpaceOrControl) {
		add("scope", "must not contain spaces or control characters")
	}
	if _, err := upstream.Secret("app_secret", c.AppSecret, c.AppSecretFile, ""); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.InAppKey != "":
		if _, err := upstream.Secret("inapp_app_secret", c.InAppSecret, c.InAppSecretFile, "with inapp_app_key"); err != nil {
			errs = append(errs, err)
		}
	case c.InAppSecret != "" || c.InAppSecretFile != "":
		add("inapp_app_key", "required with inapp_app_secret or inapp_app_secret_file")
	}
	return errors.Join(errs...)
}

// maxClockOffset bounds ClockOffset: a gateway off by more is broken.
const maxClockOffset = time.Hour

// checkHost accepts an absolute http(s) URL without trailing slash, query
// or fragment. A path prefix is allowed (private deployments behind a
// reverse proxy).
func checkHost(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q must be an absolute https:// (or http://) URL", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q must not hold credentials", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return fmt.Errorf("%q must not have a query or fragment", s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q must not end with '/'", s)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// withDefaults returns c with its zero values defaulted.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Scope == "" {
		c.Scope = DefaultScope
	}
	if c.JSAPIURL == "" {
		c.JSAPIURL = DefaultJSAPIURL
	}
	return c
}
