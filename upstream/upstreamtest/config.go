package upstreamtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/upstream"
)

// Config is the config of a "dev" upstream: the local demo's simulated
// scan, a page on dingoidc's own server listing test people. It logs
// anybody in who clicks, so Open refuses it outside serve --dev.
type Config struct {
	// People are the test people shown on the fake QR page; empty means
	// DefaultPeople.
	People []ConfigPerson `yaml:"people"`
	// AutoApprove "scans" as this person at once (load tests, headless
	// clients).
	AutoApprove string `yaml:"auto_approve"`
}

// ConfigPerson is one test person: id, name, account, and any other raw
// attribute the fake upstream should report.
type ConfigPerson struct {
	ID         string         `yaml:"id"`
	Name       string         `yaml:"name"`
	Account    string         `yaml:"account"`
	Attributes map[string]any `yaml:",inline"`
}

var _ upstream.Config = (*Config)(nil)

// Validate implements upstream.Config: it checks the test people.
func (c *Config) Validate() error {
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

// Open implements upstream.Config: the fake upstream, its page mounted at
// <issuer>/dev/<id>/.
func (c *Config) Open(_ context.Context, d upstream.Deps) (upstream.Provider, error) {
	if !d.Dev {
		return nil, errors.New(`type "dev" logs anybody in: it is only available with serve --dev`)
	}
	people := DefaultPeople()
	if len(c.People) > 0 {
		people = people[:0]
		for _, p := range c.People {
			attrs := map[string]any{"name": p.Name, "account": p.Account}
			for k, v := range p.Attributes {
				attrs[k] = v
			}
			people = append(people, Person{ID: p.ID, Attributes: attrs})
		}
	}
	u, err := url.Parse(d.Issuer)
	if err != nil {
		return nil, err
	}
	path := strings.TrimSuffix(u.Path, "/") + "/dev/" + d.ID
	p := New(d.Issuer+"/dev/"+d.ID, people)
	p.AutoApprove = c.AutoApprove
	d.Mount(path+"/", p.Handler())
	return p, nil
}
