package idp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/idp/clientip"
	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

// Config is what the provider needs at run time. The command line builds it
// from the YAML file and the environment; tests build it directly.
type Config struct {
	// Issuer is the absolute URL of the provider, without a trailing slash.
	Issuer string
	// MasterKey (32 bytes) encrypts signing keys and derives every other
	// server secret (code and request encryption, cookie signing).
	MasterKey []byte

	// Lifetimes; a zero field takes its Default* constant (SetDefaults),
	// SettingProblems gives their bounds.
	IDTokenTTL     time.Duration // 5m–24h
	AccessTokenTTL time.Duration // 5m–24h
	RefreshTTL     time.Duration // idle: each rotation extends it; not shorter than AccessTokenTTL
	RefreshMaxTTL  time.Duration // from the scan, however often refreshed; not shorter than RefreshTTL
	SessionTTL     time.Duration // SSO session
	LoginTTL       time.Duration // time to finish a scan, 1m–1h
	CodeTTL        time.Duration // authorization code lifetime, at most 10m
	RefreshGrace   time.Duration // concurrent refreshes with the previous token, 0s–1m

	// Upstreams in the order the chooser shows them. At least one.
	Upstreams []UpstreamConfig

	// DefaultAccessTokenFormat for clients that do not choose: "jwt"
	// (default) or "opaque".
	DefaultAccessTokenFormat string

	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// Forwarded / X-Forwarded-For headers name the person's address; empty:
	// the TCP peer is the person (see package clientip).
	TrustedProxies []string

	Metrics    MetricsConfig // where /metrics is served (metrics_http.go)
	RateLimits RateLimits    // ratelimit.go; zero buckets take the defaults
	// Admin lists the console's admins (adminconfig.go).
	Admin AdminConfig

	SignInLog SignInLogConfig // retention and batching of the sign-in log (signinlog.go)
	Branding  Branding        // name, logo and colour on the pages (branding.go)

	// MaxBodyBytes caps request bodies (default DefaultMaxBodyBytes);
	// larger ones are answered 413 (bodylimit.go).
	MaxBodyBytes int64
}

// UpstreamConfig is one configured upstream.
type UpstreamConfig struct {
	ID       string // short, [a-z0-9-]; prefixes subjects
	Name     string // shown to people
	Provider upstream.Provider
	// Claims overrides the provider's default claims templates
	// (claim name → text/template over the identity's attributes).
	Claims map[string]string
	// BareSubject makes sub the upstream's stable key without the
	// "<id>_" prefix (only sensible with a single upstream).
	BareSubject bool
	// RevalidateAfter: a refresh checks the person with the upstream again
	// when their last check is older (0: DefaultRevalidateAfter; see
	// revalidate.go).
	RevalidateAfter time.Duration
}

// Deps are the provider's collaborators.
type Deps struct {
	Store  storage.Store
	Keys   *keys.Manager
	Logger *slog.Logger
	Now    func() time.Time
	// Metrics is the registry to count in; nil: New makes one.
	Metrics *Metrics
}

// Defaults for the zero values of Config's lifetimes and format.
const (
	DefaultIDTokenTTL        = time.Hour
	DefaultAccessTokenTTL    = time.Hour
	DefaultRefreshTTL        = 720 * time.Hour
	DefaultRefreshMaxTTL     = 2160 * time.Hour
	DefaultSessionTTL        = 12 * time.Hour
	DefaultLoginTTL          = 10 * time.Minute
	DefaultCodeTTL           = time.Minute
	DefaultRefreshGrace      = 10 * time.Second
	DefaultAccessTokenFormat = "opaque"
)

// UpstreamIDPattern is the form of an upstream id: it prefixes subjects
// and appears in callback URLs.
var UpstreamIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// SetDefaults fills the zero lifetimes and the access token format with
// their defaults.
func (c *Config) SetDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IDTokenTTL, DefaultIDTokenTTL)
	def(&c.AccessTokenTTL, DefaultAccessTokenTTL)
	def(&c.RefreshTTL, DefaultRefreshTTL)
	def(&c.RefreshMaxTTL, DefaultRefreshMaxTTL)
	def(&c.SessionTTL, DefaultSessionTTL)
	def(&c.LoginTTL, DefaultLoginTTL)
	def(&c.CodeTTL, DefaultCodeTTL)
	def(&c.RefreshGrace, DefaultRefreshGrace)
	c.SignInLog.setDefaults()
	if c.DefaultAccessTokenFormat == "" {
		c.DefaultAccessTokenFormat = DefaultAccessTokenFormat
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
}

// SettingProblems checks the lifetimes and the access token format as
// they are (call SetDefaults first to check the effective values) and
// returns every problem. name turns a Config field name into the name the
// operator knows ("IDTokenTTL" → "tokens.id_token_ttl"); nil keeps the
// field names.
func (c *Config) SettingProblems(name func(field string) string) []error {
	if name == nil {
		name = func(f string) string { return f }
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name(field), fmt.Sprintf(format, args...)))
	}
	ttl := func(field string, d, lo, hi time.Duration) {
		switch {
		case d <= 0:
			add(field, "must be positive (got %s)", shortDuration(d))
		case lo > 0 && d < lo:
			add(field, "must be at least %s (got %s)", shortDuration(lo), shortDuration(d))
		case hi > 0 && d > hi:
			add(field, "must be at most %s (got %s)", shortDuration(hi), shortDuration(d))
		}
	}
	ttl("IDTokenTTL", c.IDTokenTTL, 5*time.Minute, 24*time.Hour)
	ttl("AccessTokenTTL", c.AccessTokenTTL, 5*time.Minute, 24*time.Hour)
	ttl("RefreshTTL", c.RefreshTTL, 0, 0)
	ttl("RefreshMaxTTL", c.RefreshMaxTTL, 0, 0)
	if c.MaxBodyBytes != 0 && c.MaxBodyBytes < 4<<10 {
		add("MaxBodyBytes", "must be at least 4096 (got %d)", c.MaxBodyBytes)
	}
	if c.RefreshMaxTTL > 0 && c.RefreshMaxTTL < c.RefreshTTL {
		add("RefreshMaxTTL", "must not be shorter than %s (%s < %s)", name("RefreshTTL"), shortDuration(c.RefreshMaxTTL), shortDuration(c.RefreshTTL))
	}
	ttl("SessionTTL", c.SessionTTL, 0, 0)
	ttl("LoginTTL", c.LoginTTL, time.Minute, time.Hour)
	ttl("CodeTTL", c.CodeTTL, 0, 10*time.Minute)
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		add("RefreshGrace", "must be between 0s and 1m (got %s)", shortDuration(c.RefreshGrace))
	}
	if c.RefreshTTL > 0 && c.RefreshTTL < c.AccessTokenTTL {
		add("RefreshTTL", "must not be shorter than %s (%s < %s)", name("AccessTokenTTL"), shortDuration(c.RefreshTTL), shortDuration(c.AccessTokenTTL))
	}
	if !ValidAccessTokenFormat(c.DefaultAccessTokenFormat) || c.DefaultAccessTokenFormat == "" {
		add("DefaultAccessTokenFormat", "unknown format %q (want jwt or opaque)", c.DefaultAccessTokenFormat)
	}
	if _, err := clientip.New(c.TrustedProxies); err != nil {
		add("TrustedProxies", "not an address or CIDR: %s", strings.TrimPrefix(err.Error(), "trusted_proxies: not an address or CIDR: "))
	}
	return errs
}

// ValidAccessTokenFormat reports whether f is an access token format: jwt,
// opaque, or "" (the default).
func ValidAccessTokenFormat(f string) bool { return admin.ValidAccessTokenFormat(f) }

// validate checks a defaulted Config for New: everything SettingProblems
// checks, and the issuer, master key and upstreams.
// Check applies the defaults to a copy of c and reports every problem New
// would refuse c for (config check runs it too).
func (c Config) Check() error {
	c.SetDefaults()
	return c.validate()
}

func (c *Config) validate() error {
	var errs []error
	for _, p := range IssuerProblems(c.Issuer) {
		errs = append(errs, errors.New(p))
	}
	if len(c.MasterKey) != 32 {
		errs = append(errs, errors.New("master key must be 32 bytes"))
	}
	errs = append(errs, c.SettingProblems(nil)...)
	errs = append(errs, c.SignInLog.Problems(nil)...)
	errs = append(errs, c.Branding.Problems(nil)...)
	if len(c.Upstreams) == 0 {
		errs = append(errs, errors.New("at least one upstream is required"))
	}
	seen := map[string]bool{}
	for _, u := range c.Upstreams {
		if !UpstreamIDPattern.MatchString(u.ID) || seen[u.ID] {
			errs = append(errs, fmt.Errorf("upstream id %q is repeated or does not match %s", u.ID, UpstreamIDPattern))
		}
		seen[u.ID] = true
		if u.Provider == nil {
			errs = append(errs, fmt.Errorf("upstream %s has no provider", u.ID))
		}
	}
	return errors.Join(errs...)
}

// IssuerProblems checks an issuer URL and returns every problem, each
// message starting with "issuer". Relying parties compare the issuer byte
// for byte with the iss claim.
func IssuerProblems(s string) []string {
	u, err := url.Parse(s)
	if err != nil {
		return []string{"issuer: not a URL: " + err.Error()}
	}
	var out []string
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		out = append(out, fmt.Sprintf("issuer: must be an absolute https URL such as https://sso.example.gov.cn (got %q)", s))
	}
	if strings.HasSuffix(s, "/") {
		out = append(out, fmt.Sprintf("issuer must not end with '/' (got %q): relying parties compare it byte for byte with the iss claim", s))
	}
	if u.RawQuery != "" || u.ForceQuery {
		out = append(out, "issuer: must not have a query")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		out = append(out, "issuer: must not have a fragment")
	}
	if u.User != nil {
		out = append(out, "issuer: must not contain user info")
	}
	if u.Scheme == "http" && u.Host != "" && !IsLoopback(u.Hostname()) {
		out = append(out, fmt.Sprintf("issuer: must use https; plain http is only allowed on a loopback host (127.0.0.0/8, ::1, localhost), not %q", u.Hostname()))
	}
	return out
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// shortDuration writes d without zero units ("1h", "1h30m", "10s"), as the
// config file does.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
