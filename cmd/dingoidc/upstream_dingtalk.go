package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
)

// dingtalkFactory builds DingTalk upstreams (type "dingtalk").
var dingtalkFactory = upstreamFactory{
	newConfig: func() any { return new(dingtalkConfig) },
	build:     buildDingTalk,
}

// dingtalkConfig is the type-specific config of a "dingtalk" upstream:
//
//	upstreams:
//	- id: dt
//	  type: dingtalk
//	  client_id: dingabcdef                  # the app's AppKey
//	  client_secret_file: /run/secrets/dt    # or client_secret
//	  corp_id: ding0123456789                # only this organisation's members
//	  # allow_any_dingtalk_user: true        # instead of corp_id: anybody at all
//	  # admit_external_contacts: true        # the corp's external contacts too
//	  # preselect_corp: true                 # preselect corp_id on the login page
//	  # username_template: "{{ascii .job_number}}"
//	  # timeout: 10s
//	  # inapp: true          # in-app (免登) login inside the DingTalk app (needs corp_id)
//	  # jsapi_url: https://mirror.example/dingtalk.open.js  # its JSAPI script
//	  # login_host / api_host / oapi_host: other DingTalk hosts (a simulator)
type dingtalkConfig struct {
	LoginHost             string   `yaml:"login_host" json:"login_host,omitempty"`
	APIHost               string   `yaml:"api_host" json:"api_host,omitempty"`
	OAPIHost              string   `yaml:"oapi_host" json:"oapi_host,omitempty"`
	ClientID              string   `yaml:"client_id" json:"client_id"`
	ClientSecret          Secret   `yaml:"client_secret" json:"client_secret,omitempty"`
	ClientSecretFile      string   `yaml:"client_secret_file" json:"client_secret_file,omitempty"`
	CorpID                string   `yaml:"corp_id" json:"corp_id,omitempty"`
	AllowAnyDingTalkUser  bool     `yaml:"allow_any_dingtalk_user" json:"allow_any_dingtalk_user,omitempty"`
	AdmitExternalContacts bool     `yaml:"admit_external_contacts" json:"admit_external_contacts,omitempty"`
	PreselectCorp         bool     `yaml:"preselect_corp" json:"preselect_corp,omitempty"`
	UsernameTemplate      string   `yaml:"username_template" json:"username_template,omitempty"`
	Timeout               Duration `yaml:"timeout" json:"timeout,omitempty"`
	JSAPIURL              string   `yaml:"jsapi_url" json:"jsapi_url,omitempty"`
	InApp                 bool     `yaml:"inapp" json:"inapp,omitempty"`
}

// providerConfig returns the provider's config with secret as the client
// secret.
func (c *dingtalkConfig) providerConfig(secret Secret) dingtalk.Config {
	return dingtalk.Config{
		LoginHost:             c.LoginHost,
		APIHost:               c.APIHost,
		OAPIHost:              c.OAPIHost,
		ClientID:              c.ClientID,
		ClientSecret:          secret.Value(),
		CorpID:                c.CorpID,
		AdmitExternalContacts: c.AdmitExternalContacts,
		PreselectCorp:         c.PreselectCorp,
		UsernameTemplate:      c.UsernameTemplate,
		Timeout:               c.Timeout.D(),
		JSAPIURL:              c.JSAPIURL,
		InApp:                 c.InApp,
	}
}

// secret returns the client secret from client_secret or
// client_secret_file.
func (c *dingtalkConfig) secret() (Secret, error) {
	if c.ClientSecretFile != "" {
		return readSecretFile(c.ClientSecretFile)
	}
	return c.ClientSecret, nil
}

// Validate returns every problem, each naming its key.
func (c *dingtalkConfig) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	// The secret's own problems are reported here; the provider's
	// checks see a stand-in so as not to report them twice.
	stand := Secret("stand-in")
	switch {
	case c.ClientSecret != "" && c.ClientSecretFile != "":
		add("client_secret", "set only one of client_secret and client_secret_file")
	case c.ClientSecret == "" && c.ClientSecretFile == "":
		add("client_secret", "required: the app's AppSecret (better: client_secret_file)")
	case c.ClientSecretFile != "":
		if _, err := readSecretFile(c.ClientSecretFile); err != nil {
			add("client_secret_file", "%v", err)
		}
	default:
		stand = c.ClientSecret
	}
	switch {
	case c.CorpID == "" && !c.AllowAnyDingTalkUser:
		add("corp_id", "required: the organisation whose members may log in "+
			"(or allow_any_dingtalk_user: true to admit every DingTalk user in the world)")
	case c.CorpID != "" && c.AllowAnyDingTalkUser:
		add("allow_any_dingtalk_user", "contradicts corp_id (set one of them)")
	}
	// Hosts, client_id, timeout, username_template, and the options
	// that need corp_id.
	if err := c.providerConfig(stand).Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	return errors.Join(errs...)
}

// buildDingTalk reads the client secret and makes the provider.
func buildDingTalk(_ context.Context, e *UpstreamEntry, d upstreamDeps) (upstream.Provider, error) {
	cfg, ok := e.Config.(*dingtalkConfig)
	if !ok || cfg == nil {
		return nil, errors.New("dingtalk: no config")
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, fmt.Errorf("client_secret_file: %w", err)
	}
	return dingtalk.New(cfg.providerConfig(secret), d.HTTPClient, d.Logger, time.Now)
}
