package zhezhengding

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults.
const (
	// DefaultTimeout bounds each API call when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultScope is the QR page's scope when Config.Scope is empty.
	DefaultScope = "get_user_info"
)

// Config is one Zhezhengding upstream. Problems reported by Validate name
// the config file's keys (login_host, app_secret…).
type Config struct {
	// LoginHost serves the QR page, e.g. https://login-pro.ding.zj.gov.cn
	// (no trailing slash).
	LoginHost string
	// APIHost is the open platform gateway, e.g.
	// https://openplatform-pro.ding.zj.gov.cn (no trailing slash).
	APIHost string
	// AppCode is the scan-login app's 应用标识 (client_id on the QR page,
	// typically ending in _dingoa), not its AppKey.
	AppCode string
	// AppKey and AppSecret are the scan-login app's gateway credentials.
	AppKey    string
	AppSecret string
	// Embed shows the QR code inside dingoidc's login page (embedMode).
	Embed bool
	// AllowedTenants, when not empty, are the only tenants (tenantId or
	// realmId) whose people may log in.
	AllowedTenants []int64
	// InAppKey and InAppSecret are the in-app (免登) micro-app's pair; both
	// or neither. Without them an in-app auth_code is refused.
	InAppKey    string
	InAppSecret string
	// JSAPIURL is the gdt JSAPI script the in-app login page loads
	// (default DefaultJSAPIURL; government networks mirror it), and
	// InAppCorpID the corpId given to dd.getAuthCode (may be empty).
	JSAPIURL    string
	InAppCorpID string
	// Enrich looks up the person's organisations for `groups`.
	Enrich bool
	// Timeout bounds each API call; zero means DefaultTimeout.
	Timeout time.Duration
	// Scope is the QR page's scope; empty means DefaultScope.
	Scope string
}

// Validate returns every problem of the config, joined, each naming its key.
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
	if c.AppSecret == "" {
		add("app_secret", "required")
	}
	switch {
	case c.InAppKey != "" && c.InAppSecret == "":
		add("inapp_app_secret", "required with inapp_app_key")
	case c.InAppKey == "" && c.InAppSecret != "":
		add("inapp_app_key", "required with inapp_app_secret")
	case strings.ContainsFunc(c.InAppKey, isSpaceOrControl):
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
	if strings.ContainsFunc(c.Scope, isSpaceOrControl) {
		add("scope", "must not contain spaces or control characters")
	}
	return errors.Join(errs...)
}

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
