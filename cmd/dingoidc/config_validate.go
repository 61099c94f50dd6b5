package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/idp/admin"
)

// upstreamIDRE is the form of an upstream id (idp owns the rule).
var upstreamIDRE = idp.UpstreamIDPattern

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
		for _, p := range idp.IssuerProblems(c.Issuer) {
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
	errs = append(errs, c.TLSConfig.problems()...)
	errs = append(errs, append(c.MetricsServe.problems(), c.RateLimits.problems()...)...)
	errs = append(errs, c.SiteConfig.problems()...)

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

	// Lifetimes, formats and the key schedule: idp and keys own the rules.
	tc := c.tokenSettings()
	errs = append(errs, tc.SettingProblems(func(f string) string { return c.key(idpConfigKeys[f]) })...)
	errs = append(errs, c.keysOptions(nil).Problems(func(f string) string { return c.key(keysOptionsKeys[f]) })...)
	errs = append(errs, c.Keys.problems(c.key)...)

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

	errs = append(errs, c.Admin.problems()...)

	// Static clients.
	clientIDs := map[string]bool{}
	for i, sc := range c.Clients {
		k := fmt.Sprintf("clients[%d]", i)
		if sc.ID != "" {
			k = fmt.Sprintf("clients[%d] (%s)", i, sc.ID)
		}
		rules := admin.Rules{Upstreams: []string{}}
		for id := range upstreamIDs {
			rules.Upstreams = append(rules.Upstreams, id)
		}
		for _, fe := range admin.CheckClient(sc.client(), rules) {
			key := k + "." + fe.Field
			if fe.Index >= 0 {
				key = fmt.Sprintf("%s[%d]", key, fe.Index)
			}
			add(key, "%s", fe.Msg)
		}
		if sc.ID != "" && clientIDs[sc.ID] {
			add(k+".id", "%q is used twice", sc.ID)
		}
		clientIDs[sc.ID] = true
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
	}
	return errors.Join(errs...)
}

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
	return s, admin.CheckClientSecret(s.Value())
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
