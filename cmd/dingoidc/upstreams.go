package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/upstreamtest"
)

// upstreamFactory knows one upstream type of the config file.
type upstreamFactory struct {
	// newConfig returns a pointer to a new type-specific config struct. The
	// entry's keys other than the common ones (id, type, name, claims,
	// bare_subject) are decoded into it strictly: a key it does not know is
	// a config error. If the value has a `Validate() error` method, config
	// validation calls it (return every problem at once with errors.Join,
	// each naming its key). Secret fields should have type Secret.
	newConfig func() any
	// build makes the provider of a validated entry.
	build func(ctx context.Context, e *UpstreamEntry, deps upstreamDeps) (upstream.Provider, error)
}

// upstreamDeps are what upstream factories may need.
type upstreamDeps struct {
	HTTPClient *http.Client
	Metrics    *idp.Metrics // instruments HTTPClient per upstream; nil: not counted
	Logger     *slog.Logger
	Getenv     func(string) string
	Dev        bool
	// Issuer is the provider's URL; Mount serves an upstream's own pages
	// (the dev upstream's fake QR page) under path on the provider's server.
	Issuer string
	Mount  func(path string, h http.Handler)
}

// upstreamTypes maps the config's upstream `type` to its factory. It is only
// written here, at initialisation.
var upstreamTypes = map[string]upstreamFactory{
	"dev":          {newConfig: func() any { return new(devUpstreamConfig) }, build: buildDevUpstream},
	"zhezhengding": zhezhengdingFactory,
	"dingtalk":     dingtalkFactory,
}

// buildDevUpstream makes the local demo's simulated scan: a page on our own
// server listing test people. It logs anybody in who clicks, so it exists
// only in serve --dev.
func buildDevUpstream(_ context.Context, e *UpstreamEntry, d upstreamDeps) (upstream.Provider, error) {
	if !d.Dev {
		return nil, errors.New(`type "dev" logs anybody in: it is only available with serve --dev`)
	}
	cfg, _ := e.Config.(*devUpstreamConfig)
	if cfg == nil {
		cfg = new(devUpstreamConfig)
	}
	people := upstreamtest.DefaultPeople()
	if len(cfg.People) > 0 {
		people = people[:0]
		for _, p := range cfg.People {
			attrs := map[string]any{"name": p.Name, "account": p.Account}
			for k, v := range p.Attributes {
				attrs[k] = v
			}
			people = append(people, upstreamtest.Person{ID: p.ID, Attributes: attrs})
		}
	}
	u, err := url.Parse(d.Issuer)
	if err != nil {
		return nil, err
	}
	path := strings.TrimSuffix(u.Path, "/") + "/dev/" + e.ID
	p := upstreamtest.New(d.Issuer+"/dev/"+e.ID, people)
	p.AutoApprove = cfg.AutoApprove
	d.Mount(path+"/", p.Handler())
	return p, nil
}

// devUpstreamConfig is the type-specific config of a "dev" upstream.
type devUpstreamConfig struct {
	// People are the test people shown on the fake QR page; empty means the
	// simulator's built-in ones.
	People []devPerson `yaml:"people"`
	// AutoApprove "scans" as this person at once (load tests, headless
	// clients).
	AutoApprove string `yaml:"auto_approve"`
}

// devPerson is one test person: id, name, account, and any other raw
// attribute the simulator should report.
type devPerson struct {
	ID         string         `yaml:"id"`
	Name       string         `yaml:"name"`
	Account    string         `yaml:"account"`
	Attributes map[string]any `yaml:",inline"`
}

// Validate checks the test people.
func (c *devUpstreamConfig) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.People {
		switch {
		case p.ID == "":
			errs = append(errs, fmt.Errorf("people[%d].id: required", i))
		case seen[p.ID]:
			errs = append(errs, fmt.Errorf("people[%d].id: %q is used twice", i, p.ID))
		}
		seen[p.ID] = true
	}
	if c.AutoApprove != "" && len(c.People) > 0 && !seen[c.AutoApprove] {
		errs = append(errs, fmt.Errorf("auto_approve: no person %q", c.AutoApprove))
	}
	return errors.Join(errs...)
}
