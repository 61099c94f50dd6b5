package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/upstream"
)

// FileConfig is the YAML config file, after DINGOIDC_* environment
// overrides and defaults. Load it with loadConfig, which validates it.
//
// Secrets have type Secret and never print; the master key, the Postgres
// DSN and client secrets kept in files are read when needed (MasterKey,
// DSN, StaticClient.secret) and are never held in this struct.
type FileConfig struct {
	Issuer            string          `yaml:"issuer" json:"issuer"`
	Listen            string          `yaml:"listen" json:"listen"`
	DataDir           string          `yaml:"data_dir" json:"data_dir"`
	Storage           StorageConfig   `yaml:"storage" json:"storage"`
	SecretKey         Secret          `yaml:"secret_key" json:"secret_key,omitempty"`
	SecretKeyFile     string          `yaml:"secret_key_file" json:"secret_key_file,omitempty"`
	Tokens            TokensConfig    `yaml:"tokens" json:"tokens"`
	AccessTokenFormat string          `yaml:"access_token_format" json:"access_token_format"`
	Keys              KeysConfig      `yaml:"keys" json:"keys"`
	Log               LogConfig       `yaml:"log" json:"log"`
	Upstreams         []UpstreamEntry `yaml:"upstreams" json:"upstreams"`
	Clients           []StaticClient  `yaml:"clients" json:"clients"`
	TrustedProxies    []string        `yaml:"trusted_proxies" json:"trusted_proxies,omitempty"`
	ShutdownGrace     Duration        `yaml:"shutdown_grace" json:"shutdown_grace,omitempty"` // serve_faults.go
	Admin             AdminSection    `yaml:"admin" json:"admin,omitempty"`                   // config_admin.go
	MaxBodyBytes      int64           `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"` // 0: 64 KiB

	TLSConfig    `yaml:",inline"`   // tls_cert_file, tls_key_file: serve https (tls.go)
	MetricsServe MetricsServeConfig `yaml:",inline"`                        // metrics_listen, metrics_public (config_metrics.go)
	RateLimits   RateLimitsConfig   `yaml:"rate_limits" json:"rate_limits"` // config_ratelimits.go
	SiteConfig   `yaml:",inline"`   // branding, signin_log_retention (config_site.go)

	path    string            // the file read; "" when none
	dev     bool              // serve --dev
	fromEnv map[string]string // config key → environment variable that set it
	// upstreamMetrics, set by serve, counts each upstream's API calls
	// (config_metrics.go); nil elsewhere.
	upstreamMetrics *idp.Metrics
}

// StorageConfig chooses the database.
type StorageConfig struct {
	Driver  string `yaml:"driver" json:"driver"`               // sqlite (default) or postgres
	DSN     Secret `yaml:"dsn" json:"dsn,omitempty"`           // postgres
	DSNFile string `yaml:"dsn_file" json:"dsn_file,omitempty"` // postgres, file holding the DSN
	Path    string `yaml:"path" json:"path,omitempty"`         // sqlite file; default <data_dir>/dingoidc.sqlite
	// ConnectTimeout: how long serve keeps retrying an unreachable
	// database at start (serve_faults.go); default 60s.
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout,omitempty"`
}

// TokensConfig holds lifetimes.
type TokensConfig struct {
	IDTokenTTL      Duration `yaml:"id_token_ttl" json:"id_token_ttl"`
	AccessTokenTTL  Duration `yaml:"access_token_ttl" json:"access_token_ttl"`
	RefreshTokenTTL Duration `yaml:"refresh_token_ttl" json:"refresh_token_ttl"`
	// RefreshTokenMaxTTL ends a refresh family this long after the scan that
	// started it, however often it is used: people removed from the
	// organisation upstream lose access then at the latest.
	RefreshTokenMaxTTL Duration `yaml:"refresh_token_max_ttl" json:"refresh_token_max_ttl"`
	SessionTTL         Duration `yaml:"session_ttl" json:"session_ttl"`
	LoginTTL           Duration `yaml:"login_ttl" json:"login_ttl"`
	CodeTTL            Duration `yaml:"code_ttl" json:"code_ttl"`
	RefreshGrace       Duration `yaml:"refresh_grace" json:"refresh_grace"`
}

// KeysConfig schedules signing-key rotation.
type KeysConfig struct {
	RotationPeriod Duration `yaml:"rotation_period" json:"rotation_period"`
	PublishAhead   Duration `yaml:"publish_ahead" json:"publish_ahead"`
	// CacheTTL is how long each replica trusts its copy of the key set;
	// `keys rotate --now` signs with the new key after this delay.
	CacheTTL Duration `yaml:"cache_ttl" json:"cache_ttl"`
}

// Bounds of keys.cache_ttl: a replica reads the key set again at most
// once a second, and a `keys rotate --now` takes effect within 10m.
const (
	minKeysCacheTTL = time.Second
	maxKeysCacheTTL = 10 * time.Minute
)

// problems checks what keys.Options.Problems does not (Validate runs
// both): keys.cache_ttl, which keys.Options treats as unset when zero.
func (k KeysConfig) problems(key func(string) string) []error {
	if d := k.CacheTTL.D(); d < minKeysCacheTTL || d > maxKeysCacheTTL {
		return []error{fmt.Errorf("%s: %s is out of range (1s to 10m; leave it out for the default, %s)",
			key("keys.cache_ttl"), k.CacheTTL, Duration(keys.DefaultCacheTTL))}
	}
	return nil
}

// LogConfig configures the slog logger.
type LogConfig struct {
	Level  string `yaml:"level" json:"level"`   // debug, info, warn, error
	Format string `yaml:"format" json:"format"` // json or text
}

// UpstreamEntry is one entry of `upstreams`: the common keys, plus the
// type-specific ones decoded strictly into the type's config struct.
type UpstreamEntry struct {
	ID          string            `yaml:"id" json:"id"`
	Type        string            `yaml:"type" json:"type"`
	Name        string            `yaml:"name" json:"name"`
	Claims      map[string]string `yaml:"claims" json:"claims,omitempty"`
	BareSubject bool              `yaml:"bare_subject" json:"bare_subject,omitempty"`
	// RevalidateAfter: a refresh checks the person with the upstream
	// again when their last check is older (default 1h; leavers lose
	// access then).
	RevalidateAfter Duration `yaml:"revalidate_after" json:"revalidate_after,omitempty"`

	// Raw is the entry without the common keys: the type-specific config.
	Raw yaml.Node `yaml:"-" json:"-"`
	// Config is Raw decoded into the type's config struct (nil for an
	// unknown type).
	Config upstream.Config `yaml:"-" json:"-"`
}

// upstreamCommonKeys are the keys every upstream entry has.
var upstreamCommonKeys = []string{"id", "type", "name", "claims", "bare_subject", "revalidate_after"}

// StaticClient is one entry of `clients`, reconciled into the store at
// start (see reconcileStaticClients).
type StaticClient struct {
	ID                     string   `yaml:"id" json:"id"`
	Name                   string   `yaml:"name" json:"name"`
	Secret                 Secret   `yaml:"secret" json:"secret,omitempty"`
	SecretFile             string   `yaml:"secret_file" json:"secret_file,omitempty"`
	Public                 bool     `yaml:"public" json:"public"`
	RedirectURIs           []string `yaml:"redirect_uris" json:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris" json:"post_logout_redirect_uris,omitempty"`
	Upstreams              []string `yaml:"upstreams" json:"upstreams,omitempty"`
	AccessTokenFormat      string   `yaml:"access_token_format" json:"access_token_format,omitempty"`
	AllowedGroups          []string `yaml:"allowed_groups" json:"allowed_groups,omitempty"`
	AllowedTenants         []string `yaml:"allowed_tenants" json:"allowed_tenants,omitempty"`
	LegacyAPI              bool     `yaml:"legacy_api" json:"legacy_api,omitempty"`
}

// loadOptions say what the config is loaded for.
type loadOptions struct {
	// Serve requires what serving needs (issuer, master key, upstreams);
	// config check uses it too. Other commands only check what is set.
	Serve bool
	// Dev is serve --dev: loopback issuer and listen address by default,
	// a master key generated into data_dir, upstreams optional.
	Dev bool
}

// Defaults.
const (
	defaultListen    = ":8080"
	defaultDevListen = "127.0.0.1:8080"
	defaultDataDir   = "./data"
	sqliteFileName   = "dingoidc.sqlite"
	devKeyFileName   = "master-key"
)

func defaultConfig() *FileConfig {
	return &FileConfig{
		Storage: StorageConfig{Driver: "sqlite"},
		Tokens: TokensConfig{
			IDTokenTTL:         Duration(idp.DefaultIDTokenTTL),
			AccessTokenTTL:     Duration(idp.DefaultAccessTokenTTL),
			RefreshTokenTTL:    Duration(idp.DefaultRefreshTTL),
			RefreshTokenMaxTTL: Duration(idp.DefaultRefreshMaxTTL),
			SessionTTL:         Duration(idp.DefaultSessionTTL),
			LoginTTL:           Duration(idp.DefaultLoginTTL),
			CodeTTL:            Duration(idp.DefaultCodeTTL),
			RefreshGrace:       Duration(idp.DefaultRefreshGrace),
		},
		AccessTokenFormat: idp.DefaultAccessTokenFormat,
		Keys: KeysConfig{
			RotationPeriod: Duration(keys.DefaultRotationPeriod),
			PublishAhead:   Duration(keys.DefaultPublishAhead),
			CacheTTL:       Duration(keys.DefaultCacheTTL),
		},
		Log:     LogConfig{Level: "info"},
		fromEnv: map[string]string{},
	}
}

// configError is an invalid config: every problem, one a line.
type configError struct {
	source   string
	problems []error
}

func (e *configError) Error() string {
	var b strings.Builder
	n := len(e.problems)
	fmt.Fprintf(&b, "config %s: %d problem", e.source, n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, p := range e.problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *configError) Unwrap() []error { return e.problems }

// loadConfig reads the config file (path "" means none: defaults only),
// applies DINGOIDC_* variables read through getenv (they win over the
// file), fills defaults and validates. Every problem is reported at once
// as a *configError.
func loadConfig(path string, getenv func(string) string, opts loadOptions) (*FileConfig, error) {
	c := defaultConfig()
	c.path = path
	c.dev = opts.Dev
	if path != "" {
		if problems, err := c.decodeFile(path); err != nil {
			return nil, err
		} else if len(problems) > 0 {
			return nil, &configError{source: path, problems: problems}
		}
	}
	c.applyEnv(getenv)
	c.applyDefaults()
	if err := c.Validate(opts.Serve); err != nil {
		return nil, &configError{source: c.source(), problems: unjoin(err)}
	}
	return c, nil
}

func (c *FileConfig) source() string {
	if c.path == "" {
		return "(no file: defaults and DINGOIDC_* variables)"
	}
	return c.path
}

// envOverrides are the DINGOIDC_* variables, each with the key it sets.
// Empty variables are ignored.
var envOverrides = []struct {
	name, key string
	set       func(c *FileConfig, v string)
}{
	{"DINGOIDC_ISSUER", "issuer", func(c *FileConfig, v string) { c.Issuer = v }},
	{"DINGOIDC_LISTEN", "listen", func(c *FileConfig, v string) { c.Listen = v }},
	{"DINGOIDC_DATA_DIR", "data_dir", func(c *FileConfig, v string) { c.DataDir = v }},
	{"DINGOIDC_TLS_CERT_FILE", "tls_cert_file", func(c *FileConfig, v string) { c.CertFile = v }},
	{"DINGOIDC_TLS_KEY_FILE", "tls_key_file", func(c *FileConfig, v string) { c.KeyFile = v }},
	{"DINGOIDC_TRUSTED_PROXIES", "trusted_proxies", func(c *FileConfig, v string) { c.TrustedProxies = splitList(v) }},
	{"DINGOIDC_STORAGE_DRIVER", "storage.driver", func(c *FileConfig, v string) { c.Storage.Driver = v }},
	{"DINGOIDC_STORAGE_PATH", "storage.path", func(c *FileConfig, v string) { c.Storage.Path = v }},
	{"DINGOIDC_ACCESS_TOKEN_FORMAT", "access_token_format", func(c *FileConfig, v string) { c.AccessTokenFormat = v }},
	{"DINGOIDC_LOG_LEVEL", "log.level", func(c *FileConfig, v string) { c.Log.Level = v }},
	{"DINGOIDC_LOG_FORMAT", "log.format", func(c *FileConfig, v string) { c.Log.Format = v }},
}

// applyEnv applies the DINGOIDC_* overrides. A secret given by the
// environment, inline or as a file, replaces both forms from the file.
func (c *FileConfig) applyEnv(getenv func(string) string) {
	for _, o := range envOverrides {
		if v := getenv(o.name); v != "" {
			o.set(c, v)
			c.fromEnv[o.key] = o.name
		}
	}
	if v, f := getenv("DINGOIDC_SECRET_KEY"), getenv("DINGOIDC_SECRET_KEY_FILE"); v != "" || f != "" {
		c.SecretKey, c.SecretKeyFile = Secret(v), f
		if v != "" {
			c.fromEnv["secret_key"] = "DINGOIDC_SECRET_KEY"
		}
		if f != "" {
			c.fromEnv["secret_key_file"] = "DINGOIDC_SECRET_KEY_FILE"
		}
	}
	if v, f := getenv("DINGOIDC_STORAGE_DSN"), getenv("DINGOIDC_STORAGE_DSN_FILE"); v != "" || f != "" {
		c.Storage.DSN, c.Storage.DSNFile = Secret(v), f
		if v != "" {
			c.fromEnv["storage.dsn"] = "DINGOIDC_STORAGE_DSN"
		}
		if f != "" {
			c.fromEnv["storage.dsn_file"] = "DINGOIDC_STORAGE_DSN_FILE"
		}
	}
}

// applyDefaults fills what neither the file nor the environment set.
func (c *FileConfig) applyDefaults() {
	if c.Listen == "" {
		c.Listen = defaultListen
		if c.dev {
			c.Listen = defaultDevListen
		}
	}
	if c.Issuer == "" && c.dev {
		port := "8080"
		if _, p, err := net.SplitHostPort(c.Listen); err == nil && p != "" {
			port = p
		}
		c.Issuer = "http://127.0.0.1:" + port
	}
	if c.DataDir == "" {
		c.DataDir = defaultDataDir
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = "sqlite"
	}
	if c.Storage.Driver == "sqlite" && c.Storage.Path == "" {
		c.Storage.Path = filepath.Join(c.DataDir, sqliteFileName)
	}
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = idp.DefaultAccessTokenFormat
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
		if c.dev {
			c.Log.Format = "text"
		}
	}
	for i := range c.Upstreams {
		if c.Upstreams[i].Name == "" {
			c.Upstreams[i].Name = c.Upstreams[i].ID
		}
	}
	for i := range c.Clients {
		if c.Clients[i].Name == "" {
			c.Clients[i].Name = c.Clients[i].ID
		}
	}
}

// key names a config key in a message, with the variable that set it.
func (c *FileConfig) key(k string) string {
	if env, ok := c.fromEnv[k]; ok {
		return k + " (" + env + ")"
	}
	return k
}

// IDPConfig returns the provider's run-time config. upstreams are the
// built providers (see buildUpstreams), in the config's order.
func (c *FileConfig) IDPConfig(upstreams []idp.UpstreamConfig) (idp.Config, error) {
	mk, err := c.MasterKey()
	if err != nil {
		return idp.Config{}, fmt.Errorf("master key: %w", err)
	}
	ic := c.tokenSettings()
	ic.Issuer, ic.MasterKey, ic.Upstreams = c.Issuer, mk, upstreams
	ic.Metrics, ic.RateLimits = c.MetricsServe.idp(), c.RateLimits.idp(c.dev)
	ic.Admin = c.Admin.idpAdmin()
	if err := c.SiteConfig.apply(&ic); err != nil {
		return idp.Config{}, err
	}
	return ic, nil
}

// tokenSettings maps tokens.* and access_token_format to the provider's
// config, where their defaults and rules live.
func (c *FileConfig) tokenSettings() idp.Config {
	t := c.Tokens
	return idp.Config{
		IDTokenTTL:               t.IDTokenTTL.D(),
		AccessTokenTTL:           t.AccessTokenTTL.D(),
		RefreshTTL:               t.RefreshTokenTTL.D(),
		RefreshMaxTTL:            t.RefreshTokenMaxTTL.D(),
		SessionTTL:               t.SessionTTL.D(),
		LoginTTL:                 t.LoginTTL.D(),
		CodeTTL:                  t.CodeTTL.D(),
		RefreshGrace:             t.RefreshGrace.D(),
		DefaultAccessTokenFormat: c.AccessTokenFormat,
		TrustedProxies:           c.TrustedProxies,
		MaxBodyBytes:             c.MaxBodyBytes,
	}
}

// idpConfigKeys and keysOptionsKeys name the fields of idp.Config and
// keys.Options by their config keys, for problem messages.
var (
	idpConfigKeys = map[string]string{
		"IDTokenTTL": "tokens.id_token_ttl", "AccessTokenTTL": "tokens.access_token_ttl",
		"RefreshTTL": "tokens.refresh_token_ttl", "RefreshMaxTTL": "tokens.refresh_token_max_ttl",
		"SessionTTL": "tokens.session_ttl", "LoginTTL": "tokens.login_ttl", "CodeTTL": "tokens.code_ttl",
		"RefreshGrace": "tokens.refresh_grace", "DefaultAccessTokenFormat": "access_token_format",
		"TrustedProxies": "trusted_proxies", "MaxBodyBytes": "max_body_bytes",
	}
	keysOptionsKeys = map[string]string{"RotationPeriod": "keys.rotation_period", "PublishAhead": "keys.publish_ahead",
		"CacheTTL": "keys.cache_ttl"}
)

// buildUpstreams opens every configured upstream (its type's
// upstream.Config), in the config's order.
func (c *FileConfig) buildUpstreams(ctx context.Context, deps upstreamDeps) ([]idp.UpstreamConfig, error) {
	out := make([]idp.UpstreamConfig, 0, len(c.Upstreams))
	var errs []error // every upstream's problem, not just the first
	for i := range c.Upstreams {
		e := &c.Upstreams[i]
		newConfig, ok := upstreamTypes[e.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("upstream %q: unknown type %q", e.ID, e.Type))
			continue
		}
		cfg := e.Config
		if cfg == nil {
			cfg = newConfig()
		}
		d := deps
		d.ID = e.ID
		d.HTTPClient = c.upstreamMetrics.UpstreamClient(e.ID, d.HTTPClient) // API calls counted per upstream (serve)
		if d.Logger != nil {
			d.Logger = d.Logger.With("upstream", e.ID)
		}
		p, err := cfg.Open(ctx, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: %w", e.ID, err))
			continue
		}
		if w, ok := cfg.(upstream.Warner); ok && d.Logger != nil {
			for _, s := range w.Warnings() {
				d.Logger.Warn("upstream config: " + s)
			}
		}
		out = append(out, idp.UpstreamConfig{
			ID:          e.ID,
			Name:        e.Name,
			Provider:    p,
			Claims:      e.Claims,
			BareSubject: e.BareSubject,

			RevalidateAfter: e.RevalidateAfter.D(),
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
