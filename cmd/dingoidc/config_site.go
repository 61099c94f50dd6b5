package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dingoidc/dingoidc/idp"
)

// SiteConfig holds how dingoidc shows itself to people and what it keeps
// of their sign-ins. Its keys sit at the top level of the config file;
// idp.Branding and idp.SignInLogConfig own the rules.
type SiteConfig struct {
	Branding BrandingConfig `yaml:"branding" json:"branding,omitempty"`
	// SignInLogRetention: sign-in log events older than this are deleted
	// (default 180 days, 4320h; at least 24h).
	SignInLogRetention Duration `yaml:"signin_log_retention" json:"signin_log_retention,omitempty"`
}

// BrandingConfig is `branding`: the organisation's name, logo and colour
// on every page people see, instead of dingoidc's.
type BrandingConfig struct {
	Name         string `yaml:"name" json:"name,omitempty"`
	LogoFile     string `yaml:"logo_file" json:"logo_file,omitempty"` // PNG, JPEG or SVG, at most 256 KiB
	PrimaryColor string `yaml:"primary_color" json:"primary_color,omitempty"`
}

// siteKeys name idp's fields by their config keys.
var siteKeys = map[string]string{
	"Name": "branding.name", "Logo": "branding.logo_file", "PrimaryColor": "branding.primary_color",
	"Retention": "signin_log_retention",
}

// problems checks the section as serve would use it: the logo file is
// read and checked too.
func (s SiteConfig) problems() []error {
	name := func(f string) string { return siteKeys[f] }
	errs := idp.SignInLogConfig{Retention: s.SignInLogRetention.D()}.Problems(name)
	b, err := s.branding()
	if err != nil {
		return append(errs, err)
	}
	return append(errs, b.Problems(name)...)
}

// apply maps the section onto the provider's config.
func (s SiteConfig) apply(ic *idp.Config) error {
	b, err := s.branding()
	if err != nil {
		return err
	}
	ic.Branding = b
	ic.SignInLog.Retention = s.SignInLogRetention.D()
	return nil
}

// branding reads the logo file (at most one byte more than allowed, so
// that a huge file is refused without being read whole).
func (s SiteConfig) branding() (idp.Branding, error) {
	b := idp.Branding{Name: s.Branding.Name, PrimaryColor: s.Branding.PrimaryColor}
	if s.Branding.LogoFile == "" {
		return b, nil
	}
	f, err := os.Open(s.Branding.LogoFile)
	if err != nil {
		return b, fmt.Errorf("branding.logo_file: %w", err)
	}
	defer f.Close()
	if b.Logo, err = io.ReadAll(io.LimitReader(f, idp.MaxLogoSize+1)); err != nil {
		return b, fmt.Errorf("branding.logo_file: %w", err)
	}
	switch {
	case len(b.Logo) == 0:
		return b, fmt.Errorf("branding.logo_file: %s is empty", s.Branding.LogoFile)
	case len(b.Logo) > idp.MaxLogoSize:
		return b, fmt.Errorf("branding.logo_file: %s is larger than %d KiB", s.Branding.LogoFile, idp.MaxLogoSize>>10)
	}
	return b, nil
}
