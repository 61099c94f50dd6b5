package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// upstreamIDRE is the form of an upstream id: it prefixes subjects and
// appears in callback URLs.
var upstreamIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Validate checks the whole config and returns every problem (joined), each
// naming its key. serve requires what serving needs; without it only the
// values that are set are checked.
func (c *FileConfig) Validate(serve bool) error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.key(key), fmt.Sprintf(format, args...)))
	}

	// Issuer.
	switch {
	case c.Issuer == "" && serve:
		add("issuer", "required: the provider's absolute https URL, e.g. https://sso.example.gov.cn")
	case c.Issuer != "":
		for _, p := range issuerProblems(c.Issuer) {
			if env, ok := c.fromEnv["issuer"]; ok {
				p += " [set by " + env + "]"
			}
			errs = append(errs, errors.New(p))
		}
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "want host:port or :port (%v)", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	}

	// Storage.
	switch c.Storage.Driver {
	case "sqlite":
		if c.Storage.DSN != "" || c.Storage.DSNFile != "" {
			add("storage.dsn", "only used by the postgres driver (driver is sqlite; set storage.path for the file)")
		}
	case "postgres":
		if c.Storage.Path != "" {
			add("storage.path", "only used by the sqlite driver")
		}
		switch {
		case c.Storage.DSN != "" && c.Storage.DSNFile != "":
			add("storage.dsn", "set only one of %s and %s", c.key("storage.dsn"), c.key("storage.dsn_file"))
		case c.Storage.DSN == "" && c.Storage.DSNFile == "":
			add("storage.dsn", "required for the postgres driver (or storage.dsn_file)")
		case c.Storage.DSNFile != "":
			if _, err := readSecretFile(c.Storage.DSNFile); err != nil {
				add("storage.dsn_file", "%v", err)
			}
		}
	default:
		add("storage.driver", "unknown driver %q (want sqlite or postgres)", c.Storage.Driver)
	}

	// Master key.
	switch {
	case c.SecretKey != "" && c.SecretKeyFile != "":
		add("secret_key", "set only one of %s and %s", c.key("secret_key"), c.key("secret_key_file"))
	case c.SecretKey == "" && c.SecretKeyFile == "":
		if serve && !c.dev {
			add("secret_key", "required: set secret_key_file (or DINGOIDC_SECRET_KEY_FILE / DINGOIDC_SECRET_KEY) "+
				"to a 32-byte key as base64 or hex, e.g. from `openssl rand -base64 32`")
		}
	default:
		if _, err := c.MasterKey(); err != nil {
			k := "secret_key"
			if c.SecretKeyFile != "" {
				k = "secret_key_file"
			}
			add(k, "%v", err)
		}
	}

	// Lifetimes.
	ttl := func(key string, d Duration, lo, hi time.Duration) {
		switch {
		case d <= 0:
			add(key, "must be positive (got %s)", d)
		case lo > 0 && d.D() < lo:
			add(key, "must be at least %s (got %s)", Duration(lo), d)
		case hi > 0 && d.D() > hi:
			add(key, "must be at most %s (got %s)", Duration(hi), d)
		}
	}
	t := c.Tokens
	ttl("tokens.id_token_ttl", t.IDTokenTTL, 5*time.Minute, 24*time.Hour)
	ttl("tokens.access_token_ttl", t.AccessTokenTTL, 5*time.Minute, 24*time.Hour)
	ttl("tokens.refresh_token_ttl", t.RefreshTokenTTL, 0, 0)
	ttl("tokens.refresh_token_max_ttl", t.RefreshTokenMaxTTL, 0, 0)
	if t.RefreshTokenMaxTTL > 0 && t.RefreshTokenMaxTTL < t.RefreshTokenTTL {
		add("tokens.refresh_token_max_ttl", "must not be shorter than tokens.refresh_token_ttl (%s < %s)", t.RefreshTokenMaxTTL, t.RefreshTokenTTL)
	}
	ttl("tokens.session_ttl", t.SessionTTL, 0, 0)
	ttl("tokens.login_ttl", t.LoginTTL, time.Minute, time.Hour)
	ttl("tokens.code_ttl", t.CodeTTL, 0, 10*time.Minute)
	if t.RefreshGrace < 0 || t.RefreshGrace.D() > time.Minute {
		add("tokens.refresh_grace", "must be between 0s and 1m (got %s)", t.RefreshGrace)
	}
	if t.RefreshTokenTTL > 0 && t.RefreshTokenTTL < t.AccessTokenTTL {
		add("tokens.refresh_token_ttl", "must not be shorter than tokens.access_token_ttl (%s < %s)", t.RefreshTokenTTL, t.AccessTokenTTL)
	}
	ttl("keys.rotation_period", c.Keys.RotationPeriod, time.Hour, 0)
	if c.Keys.PublishAhead <= 0 {
		add("keys.publish_ahead", "must be positive (got %s)", c.Keys.PublishAhead)
	} else if c.Keys.RotationPeriod > 0 && c.Keys.PublishAhead >= c.Keys.RotationPeriod {
		add("keys.publish_ahead", "must be shorter than keys.rotation_period (%s >= %s)", c.Keys.PublishAhead, c.Keys.RotationPeriod)
	}

	if !validTokenFormat(c.AccessTokenFormat) || c.AccessTokenFormat == "" {
		add("access_token_format", "unknown format %q (want jwt or opaque)", c.AccessTokenFormat)
	}
	if _, err := parseLogLevel(c.Log.Level); err != nil {
		add("log.level", "%v", err)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		add("log.format", "unknown format %q (want json or text)", c.Log.Format)
	}

	// Upstreams.
	if serve && !c.dev && len(c.Upstreams) == 0 {
		add("upstreams", "at least one upstream is required to log anyone in")
	}
	upstreamIDs := map[string]bool{}
	for i, u := range c.Upstreams {
		k := fmt.Sprintf("upstreams[%d]", i)
		if u.ID != "" {
			k = fmt.Sprintf("upstreams[%d] (%s)", i, u.ID)
		}
		switch {
		case u.ID == "":
			add(k+".id", "required")
		case !upstreamIDRE.MatchString(u.ID):
			add(k+".id", "%q must match %s (it prefixes subjects and URLs)", u.ID, upstreamIDRE)
		case upstreamIDs[u.ID]:
			add(k+".id", "%q is used twice", u.ID)
		}
		upstreamIDs[u.ID] = true
		newConfig, ok := upstreamTypes[u.Type]
		switch {
		case u.Type == "":
			add(k+".type", "required (one of %s)", strings.Join(upstreamTypeNames(), ", "))
		case !ok:
			add(k+".type", "unknown type %q (want one of %s)", u.Type, strings.Join(upstreamTypeNames(), ", "))
		default:
			cfg := u.Config
			if cfg == nil {
				cfg = newConfig()
			}
			for _, p := range unjoin(cfg.Validate()) {
				errs = append(errs, fmt.Errorf("%s.%w", k, p))
			}
		}
		if d := u.RevalidateAfter.D(); d != 0 && d < time.Minute {
			add(k+".revalidate_after", "%s is too short (at least 1m; leave it out for the default, 1h)", u.RevalidateAfter)
		}
		if u.BareSubject && len(c.Upstreams) > 1 {
			add(k+".bare_subject", "only allowed with a single upstream (subjects of two upstreams could collide)")
		}
	}

	// Static clients.
	clientIDs := map[string]bool{}
	for i, sc := range c.Clients {
		k := fmt.Sprintf("clients[%d]", i)
		if sc.ID != "" {
			k = fmt.Sprintf("clients[%d] (%s)", i, sc.ID)
		}
		if err := checkClientID(sc.ID); err != nil {
			add(k+".id", "%v", err)
		} else if clientIDs[sc.ID] {
			add(k+".id", "%q is used twice", sc.ID)
		}
		clientIDs[sc.ID] = true
		if len(sc.RedirectURIs) == 0 {
			add(k+".redirect_uris", "at least one is required")
		}
		for j, u := range sc.RedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				add(fmt.Sprintf("%s.redirect_uris[%d]", k, j), "%v", err)
			}
		}
		for j, u := range sc.PostLogoutRedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				add(fmt.Sprintf("%s.post_logout_redirect_uris[%d]", k, j), "%v", err)
			}
		}
		switch {
		case sc.Public && (sc.Secret != "" || sc.SecretFile != ""):
			add(k+".secret", "a public client has no secret (remove secret/secret_file or public)")
		case sc.Public:
		case sc.Secret != "" && sc.SecretFile != "":
			add(k+".secret", "set only one of secret and secret_file")
		case sc.Secret == "" && sc.SecretFile == "":
			add(k+".secret", "required unless public: true (or secret_file)")
		default:
			if _, err := sc.secret(); err != nil {
				key := k + ".secret"
				if sc.SecretFile != "" {
					key = k + ".secret_file"
				}
				add(key, "%v", err)
			}
		}
		for _, up := range sc.Upstreams {
			if !upstreamIDs[up] {
				add(k+".upstreams", "unknown upstream %q", up)
			}
		}
		if !validTokenFormat(sc.AccessTokenFormat) {
			add(k+".access_token_format", "unknown format %q (want jwt or opaque)", sc.AccessTokenFormat)
		}
	}
	return errors.Join(errs...)
}

// issuerProblems checks an issuer URL. Messages start with "issuer".
func issuerProblems(s string) []string {
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
	if u.Scheme == "http" && u.Host != "" && !isLoopback(u.Hostname()) {
		out = append(out, fmt.Sprintf("issuer: must use https; plain http is only allowed on a loopback host (127.0.0.0/8, ::1, localhost), not %q", u.Hostname()))
	}
	return out
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func validTokenFormat(f string) bool { return f == "" || f == "jwt" || f == "opaque" }

func upstreamTypeNames() []string {
	names := make([]string, 0, len(upstreamTypes))
	for n := range upstreamTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch s {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(s))
	}
	return l, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
}

// secret returns the client secret from secret or secret_file, checked.
func (sc StaticClient) secret() (Secret, error) {
	s := sc.Secret
	if sc.SecretFile != "" {
		var err error
		if s, err = readSecretFile(sc.SecretFile); err != nil {
			return "", err
		}
	}
	return s, checkClientSecret(s.Value())
}

// checkClientSecret demands a long secret of unreserved characters: apps
// differ on whether they URL-encode the secret in HTTP Basic auth, and only
// for such a secret do both decodings agree.
func checkClientSecret(s string) error {
	if len(s) < 16 {
		return fmt.Errorf("secret is %d characters; want at least 16 (32 random bytes as base64url is best)", len(s))
	}
	if !isUnreserved(s) {
		return errors.New("secret may only use letters, digits and - . _ ~ (some apps do not URL-encode it in Basic auth)")
	}
	return nil
}

// unjoin splits an errors.Join result (recursively) into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
