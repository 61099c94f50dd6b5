package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/dingoidc/dingoidc/upstream"
)

// Default hosts of the public DingTalk service.
const (
	DefaultLoginHost = "https://login.dingtalk.com"
	DefaultAPIHost   = "https://api.dingtalk.com"
	DefaultOAPIHost  = "https://oapi.dingtalk.com"
	// DefaultJSAPIURL is DingTalk's JSAPI script, loaded by the in-app
	// (免登) login page.
	DefaultJSAPIURL = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"
	// DefaultTimeout bounds each call to DingTalk.
	DefaultTimeout = 10 * time.Second
	// maxTimeout is the longest Timeout Validate accepts: a person is
	// waiting on the other side.
	maxTimeout = 2 * time.Minute
)

// Config is one DingTalk upstream: its part of an `upstreams` entry of
// the config file (type "dingtalk"):
//
//	upstreams:
//	- id: dt
//	  type: dingtalk
//	  client_id: dingabcdef                  # the app's AppKey
//	  client_secret_file: /run/secrets/dt    # or client_secret
//	  corp_id: ding0123456789                # only this organisation's members
//	  # allow_any_dingtalk_user: true        # instead of corp_id: anybody at all
//	  # admit_external_contacts: true        # the corp's external contacts too
//	  # preselect_corp: true                 # preselect corp_id on the login page
//	  # username_template: "{{ascii .job_number}}"
//	  # timeout: 10s
//	  # inapp: true          # in-app (免登) login inside the DingTalk app (needs corp_id)
//	  # jsapi_url: https://mirror.example/dingtalk.open.js  # its JSAPI script
//	  # login_host / api_host / oapi_host: other DingTalk hosts (a simulator)
type Config struct {
	// LoginHost serves the QR page (default https://login.dingtalk.com),
	// APIHost the new API (default https://api.dingtalk.com), OAPIHost the
	// old "topapi" one (default https://oapi.dingtalk.com). Tests point
	// them at a simulator.
	LoginHost string `yaml:"login_host"`
	APIHost   string `yaml:"api_host"`
	OAPIHost  string `yaml:"oapi_host"`

	// ClientID is the app's AppKey (Client ID), ClientSecret its AppSecret,
	// or ClientSecretFile a file holding it (exactly one of the two; Open
	// reads the file).
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`

	// CorpID restricts logins to members of this organisation (the corp
	// that owns the app: membership is checked with the app's own token).
	// Empty admits any DingTalk user at all, which must be an explicit
	// choice: AllowAnyDingTalkUser.
	CorpID               string `yaml:"corp_id"`
	AllowAnyDingTalkUser bool   `yaml:"allow_any_dingtalk_user"`
	// AdmitExternalContacts lets the corp's external contacts (外部联系人)
	// log in too. They have no org profile: no groups, roles or org e-mail.
	AdmitExternalContacts bool `yaml:"admit_external_contacts"`
	// PreselectCorp asks the login page for scope "openid corpid" and
	// preselects CorpID, for people in several organisations.
	PreselectCorp bool `yaml:"preselect_corp"`
	// UsernameTemplate makes the `username` attribute (the default
	// preferred_username) for people whose org userid is not ASCII-safe,
	// and for everybody when there is no CorpID. It is a text/template over
	// the identity's attributes with the functions lower, upper, trim,
	// ascii and join; a result that is not ASCII-safe ([a-z0-9._-] after
	// lowercasing) is dropped rather than mangled into somebody else's
	// name. Empty means no fallback: such people get no preferred_username.
	// Example: `{{ascii .job_number}}`.
	UsernameTemplate string `yaml:"username_template"`

	// InApp enables in-app login (免登): a login page opened inside the
	// DingTalk app finishes with dd.getAuthCode instead of a scan. Off by
	// default: an in-app code names whoever's app produced it, so only
	// deployments that want it accept one (and it needs CorpID).
	InApp bool `yaml:"inapp"`

	// JSAPIURL is the DingTalk JSAPI script the in-app (免登) login page
	// loads (default DefaultJSAPIURL; a mirror on networks that cannot
	// reach alicdn.com). In-app login needs CorpID: dd.getAuthCode asks for
	// a code of that organisation.
	JSAPIURL string `yaml:"jsapi_url"`

	// Timeout bounds each call to DingTalk (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

var _ upstream.Config = (*Config)(nil)

// Open implements upstream.Config: New, with the deps' client and logger.
func (c *Config) Open(_ context.Context, d upstream.Deps) (upstream.Provider, error) {
	return New(*c, d.HTTPClient, d.Logger, time.Now)
}

// String prints the config with the client secret redacted.
func (c Config) String() string {
	c.ClientSecret = redact(c.ClientSecret)
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c))
}

// GoString implements fmt.GoStringer (%#v) like String.
func (c Config) GoString() string { return "dingtalk.Config" + c.String() }

// LogValue implements slog.LogValuer, without the client secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redact(c.ClientSecret)),
		slog.String("corp_id", c.CorpID),
		slog.String("login_host", c.LoginHost),
		slog.String("api_host", c.APIHost),
		slog.String("oapi_host", c.OAPIHost),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// withDefaults returns c with the default hosts and timeout filled in and
// trailing slashes removed.
func (c Config) withDefaults() Config {
	def := func(v, d string) string {
		if v = strings.TrimSpace(v); v == "" {
			v = d
		}
		return strings.TrimRight(v, "/")
	}
	c.LoginHost = def(c.LoginHost, DefaultLoginHost)
	c.APIHost = def(c.APIHost, DefaultAPIHost)
	c.OAPIHost = def(c.OAPIHost, DefaultOAPIHost)
	if c.JSAPIURL = strings.TrimSpace(c.JSAPIURL); c.JSAPIURL == "" {
		c.JSAPIURL = DefaultJSAPIURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate returns every problem of the config at once (joined), each
// starting with the config-file key it concerns (client_id, login_host…):
// first the secret's (reading client_secret_file) and the choice between
// corp_id and allow_any_dingtalk_user, then the rest.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	secret := c.ClientSecret
	switch {
	case c.ClientSecret != "" && c.ClientSecretFile != "":
		add("client_secret", "set only one of client_secret and client_secret_file")
		secret = ""
	case c.ClientSecret == "" && c.ClientSecretFile == "":
		add("client_secret", "required: the app's AppSecret (better: client_secret_file)")
	case c.ClientSecretFile != "":
		var err error
		if secret, err = upstream.ReadSecretFile(c.ClientSecretFile); err != nil {
			add("client_secret_file", "%v", err)
		}
	}
	switch {
	case c.CorpID == "" && !c.AllowAnyDingTalkUser:
		add("corp_id", "required: the organisation whose members may log in "+
			"(or allow_any_dingtalk_user: true to admit every DingTalk user in the world)")
	case c.CorpID != "" && c.AllowAnyDingTalkUser:
		add("allow_any_dingtalk_user", "contradicts corp_id (set one of them)")
	}
	for _, h := range []struct{ key, v string }{
		{"login_host", c.LoginHost}, {"api_host", c.APIHost}, {"oapi_host", c.OAPIHost},
	} {
		if h.v != "" {
			if err := checkHost(h.v); err != nil {
				add(h.key, "%v", err)
			}
		}
	}
	if c.JSAPIURL != "" {
		if err := checkScriptURL(c.JSAPIURL); err != nil {
			add("jsapi_url", "%v", err)
		}
	}
	switch {
	case c.ClientID == "":
		add("client_id", "required: the app's AppKey (Client ID) from the DingTalk developer console")
	case hasSpaceOrControl(c.ClientID):
		add("client_id", "must not contain spaces or control characters")
	}
	if hasSpaceOrControl(secret) {
		add("client_secret", "must not contain spaces or control characters")
	}
	if hasSpaceOrControl(c.CorpID) {
		add("corp_id", "must not contain spaces or control characters")
	}
	if c.CorpID == "" {
		if c.AdmitExternalContacts {
			add("admit_external_contacts", "only means something with corp_id")
		}
		if c.PreselectCorp {
			add("preselect_corp", "needs corp_id (the organisation to preselect)")
		}
	}
	switch {
	case c.Timeout < 0:
		add("timeout", "must not be negative (got %s)", c.Timeout)
	case c.Timeout > maxTimeout:
		add("timeout", "must be at most %s (got %s): a person is waiting", maxTimeout, c.Timeout)
	}
	if c.UsernameTemplate != "" {
		if _, err := parseUsernameTemplate(c.UsernameTemplate); err != nil {
			add("username_template", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// checkHost accepts an absolute https URL, or http on a loopback address
// (tests and the local simulator), without query or fragment.
func checkHost(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %q", s)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("want an absolute https URL, got %q", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("want scheme, host and optional path only, got %q", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("want https (http only for loopback), got %q", s)
	}
	return fmt.Errorf("want an https URL, got %q", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasSpaceOrControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

func parseUsernameTemplate(src string) (*template.Template, error) {
	return template.New("username_template").Option("missingkey=zero").Funcs(upstream.TemplateFuncs()).Parse(src)
}

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

func isUsernameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// usernameOf returns s lower-cased when every character is in
// [a-z0-9._-] after (ASCII) lowercasing, else "".
func usernameOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 255 || strings.IndexFunc(s, func(r rune) bool { return !isUsernameRune(asciiLower(r)) }) >= 0 {
		return ""
	}
	return strings.ToLower(s) // ASCII only here
}
