package dingtalk

import (
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

// Config is one DingTalk upstream.
type Config struct {
	// LoginHost serves the QR page (default https://login.dingtalk.com),
	// APIHost the new API (default https://api.dingtalk.com), OAPIHost the
	// old "topapi" one (default https://oapi.dingtalk.com). Tests point
	// them at a simulator.
	LoginHost string
	APIHost   string
	OAPIHost  string

	// ClientID is the app's AppKey (Client ID), ClientSecret its AppSecret.
	ClientID     string
	ClientSecret string

	// CorpID restricts logins to members of this organisation (the corp
	// that owns the app: membership is checked with the app's own token).
	// Empty admits any DingTalk user at all: callers must make that an
	// explicit choice (the config file's allow_any_dingtalk_user).
	CorpID string
	// AdmitExternalContacts lets the corp's external contacts (外部联系人)
	// log in too. They have no org profile: no groups, roles or org e-mail.
	AdmitExternalContacts bool
	// PreselectCorp asks the login page for scope "openid corpid" and
	// preselects CorpID, for people in several organisations.
	PreselectCorp bool
	// UsernameTemplate makes the `username` attribute (the default
	// preferred_username) for people whose org userid is not ASCII-safe,
	// and for everybody when there is no CorpID. It is a text/template over
	// the identity's attributes with the functions lower, upper, trim,
	// ascii and join; a result that is not ASCII-safe ([a-z0-9._-] after
	// lowercasing) is dropped rather than mangled into somebody else's
	// name. Empty means no fallback: such people get no preferred_username.
	// Example: `{{ascii .job_number}}`.
	UsernameTemplate string

	// InApp enables in-app login (免登): a login page opened inside the
	// DingTalk app finishes with dd.getAuthCode instead of a scan. Off by
	// default: an in-app code names whoever's app produced it, so only
	// deployments that want it accept one (and it needs CorpID).
	InApp bool

	// JSAPIURL is the DingTalk JSAPI script the in-app (免登) login page
	// loads (default DefaultJSAPIURL; a mirror on networks that cannot
	// reach alicdn.com). In-app login needs CorpID: dd.getAuthCode asks for
	// a code of that organisation.
	JSAPIURL string

	// Timeout bounds each call to DingTalk (default 10s).
	Timeout time.Duration
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
// starting with the config-file key it concerns (client_id, login_host…).
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
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
	switch {
	case c.ClientSecret == "":
		add("client_secret", "required: the app's AppSecret (Client Secret)")
	case hasSpaceOrControl(c.ClientSecret):
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
