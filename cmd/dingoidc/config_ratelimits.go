package main

import (
	"errors"

	"github.com/dingoidc/dingoidc/idp"
)

// RateLimitsConfig is the `rate_limits:` section: token buckets per client
// IP (and per client_id at the token endpoint). A bucket left out takes
// idp's default, far above what an office behind one NAT produces.
type RateLimitsConfig struct {
	Disabled    bool            `yaml:"disabled" json:"disabled,omitempty"`
	Login       RateLimitBucket `yaml:"login" json:"login"`               // /authorize, /login per IP
	Callback    RateLimitBucket `yaml:"callback" json:"callback"`         // /login/{upstream}/callback per IP
	Token       RateLimitBucket `yaml:"token" json:"token"`               // /oauth/token per IP
	TokenClient RateLimitBucket `yaml:"token_client" json:"token_client"` // /oauth/token per client_id
}

// RateLimitBucket is requests per second on average (rate) and at once
// (burst).
type RateLimitBucket struct {
	Rate  float64 `yaml:"rate" json:"rate"`
	Burst int     `yaml:"burst" json:"burst"`
}

// idp maps the section to the provider's; dev leaves loopback unlimited.
func (r RateLimitsConfig) idp(dev bool) idp.RateLimits {
	b := func(x RateLimitBucket) idp.RateLimit { return idp.RateLimit{Rate: x.Rate, Burst: x.Burst} }
	l := idp.RateLimits{Disabled: r.Disabled, Login: b(r.Login), Callback: b(r.Callback), Token: b(r.Token),
		TokenClient: b(r.TokenClient), ExemptLoopback: dev}
	l.SetDefaults()
	return l
}

func (r RateLimitsConfig) problems() []error {
	var errs []error
	for _, p := range r.idp(false).Problems() {
		errs = append(errs, errors.New("rate_limits."+p))
	}
	return errs
}
