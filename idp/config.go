package idp

import (
	"log/slog"
	"time"

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

	IDTokenTTL     time.Duration // default 1h
	AccessTokenTTL time.Duration // default 1h
	RefreshTTL     time.Duration // default 720h (30 days), idle: each rotation extends it
	RefreshMaxTTL  time.Duration // default 2160h (90 days) from the scan, however often refreshed
	SessionTTL     time.Duration // SSO session, default 12h
	LoginTTL       time.Duration // time to finish a scan, default 10m
	CodeTTL        time.Duration // authorization code lifetime, default 1m
	RefreshGrace   time.Duration // concurrent refreshes with the previous token, default 10s

	// Upstreams in the order the chooser shows them. At least one.
	Upstreams []UpstreamConfig

	// DefaultAccessTokenFormat for clients that do not choose: "jwt" or "opaque".
	DefaultAccessTokenFormat string
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
}
