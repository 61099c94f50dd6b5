package main

import (
	"fmt"

	"github.com/dingoidc/dingoidc/idp"
)

// AdminSection is `admin:`: who may use the admin console (a person whose
// subject is listed, or who is in one of the groups). Re-read on restart;
// the server checks it on every console request.
type AdminSection struct {
	Subjects []string `yaml:"subjects" json:"subjects,omitempty"`
	Groups   []string `yaml:"groups" json:"groups,omitempty"`
}

// idpAdmin maps the section into the provider's config.
func (a AdminSection) idpAdmin() idp.AdminConfig {
	return idp.AdminConfig{Subjects: a.Subjects, Groups: a.Groups}
}

// problems checks the section: no empty entries, sane sizes.
func (a AdminSection) problems() []error {
	var errs []error
	check := func(key string, list []string) {
		if len(list) > 1000 {
			errs = append(errs, fmt.Errorf("admin.%s: %d entries; at most 1000", key, len(list)))
		}
		for i, s := range list {
			if s == "" || len(s) > 256 {
				errs = append(errs, fmt.Errorf("admin.%s[%d]: must be 1–256 bytes", key, i))
			}
		}
	}
	check("subjects", a.Subjects)
	check("groups", a.Groups)
	return errs
}
