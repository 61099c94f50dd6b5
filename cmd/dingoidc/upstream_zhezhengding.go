package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// zhezhengdingFactory builds 浙政钉 / 专有钉钉 upstreams (type "zhezhengding").
//
// Zhezhengding reports no e-mail address; an entry that needs the email
// claim maps a synthetic one:
//
//	upstreams:
//	  - id: zzd
//	    type: zhezhengding
//	    name: 浙政钉
//	    login_host: https://login-pro.ding.zj.gov.cn
//	    api_host: https://openplatform-pro.ding.zj.gov.cn
//	    app_code: myapp_dingoa
//	    app_key: myapp-AbCdEf
//	    app_secret_file: /run/secrets/zzd-secret
//	    embed: true
//	    allowed_tenants: [12371]
//	    claims:
//	      email: "{{.account}}@example.gov.cn"
var zhezhengdingFactory = upstreamFactory{
	newConfig: func() any { return new(zhezhengdingConfig) },
	build:     buildZhezhengding,
}

// zhezhengdingConfig is the type-specific config of a "zhezhengding"
// upstream.
type zhezhengdingConfig struct {
	// LoginHost serves the QR page (https://login-pro.ding.zj.gov.cn,
	// https://login.dg-work.cn…); APIHost is the open platform gateway
	// (https://openplatform-pro.ding.zj.gov.cn…). No trailing slash.
	LoginHost string `yaml:"login_host" json:"login_host"`
	APIHost   string `yaml:"api_host" json:"api_host"`
	// AppCode is the scan-login app's 应用标识 (client_id on the QR page).
	AppCode string `yaml:"app_code" json:"app_code"`
	// AppKey with AppSecret or AppSecretFile (exactly one) are the
	// scan-login app's gateway credentials.
	AppKey        string `yaml:"app_key" json:"app_key"`
	AppSecret     Secret `yaml:"app_secret" json:"app_secret,omitempty"`
	AppSecretFile string `yaml:"app_secret_file" json:"app_secret_file,omitempty"`
	// Embed shows the QR code inside the login page.
	Embed bool `yaml:"embed" json:"embed"`
	// AllowedTenants, when set, are the only tenants whose people may log in.
	AllowedTenants []int64 `yaml:"allowed_tenants" json:"allowed_tenants,omitempty"`
	// InAppAppKey with InAppAppSecret or InAppAppSecretFile are the in-app
	// (免登) micro-app's pair, for auth_code logins inside the 浙政钉 app.
	InAppAppKey        string `yaml:"inapp_app_key" json:"inapp_app_key,omitempty"`
	InAppAppSecret     Secret `yaml:"inapp_app_secret" json:"inapp_app_secret,omitempty"`
	InAppAppSecretFile string `yaml:"inapp_app_secret_file" json:"inapp_app_secret_file,omitempty"`
	// JSAPIURL is the gdt JSAPI script of the in-app login page (default
	// https://g.alicdn.com/gdt/jsapi/1.9.22/index.js; a mirror on networks
	// that cannot reach it); InAppCorpID the corpId for dd.getAuthCode.
	JSAPIURL    string `yaml:"jsapi_url" json:"jsapi_url,omitempty"`
	InAppCorpID string `yaml:"inapp_corp_id" json:"inapp_corp_id,omitempty"`
	// Enrich looks up the person's organisations for the groups claim.
	Enrich bool `yaml:"enrich" json:"enrich"`
	// Timeout bounds each API call (default 10s).
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// Validate returns every problem, each naming its key. Secret files are
// read to check them; build reads them again.
func (c *zhezhengdingConfig) Validate() error {
	var errs []error
	// The secrets are checked here; the rest by the provider's config,
	// given placeholders for the secrets.
	zc := c.providerConfig("x", "")
	if c.InAppAppKey != "" {
		zc.InAppSecret = "x"
	}
	if err := zc.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if err := checkSecretPair("app_secret", c.AppSecret, c.AppSecretFile); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.InAppAppKey != "":
		if err := checkSecretPair("inapp_app_secret", c.InAppAppSecret, c.InAppAppSecretFile); err != nil {
			errs = append(errs, err)
		}
	case c.InAppAppSecret != "" || c.InAppAppSecretFile != "":
		errs = append(errs, errors.New("inapp_app_key: required with inapp_app_secret or inapp_app_secret_file"))
	}
	return errors.Join(errs...)
}

// checkSecretPair checks that exactly one of key and key_file is set and
// that the file holds a secret.
func checkSecretPair(key string, value Secret, file string) error {
	switch {
	case value != "" && file != "":
		return fmt.Errorf("%s: set only one of %s and %s_file", key, key, key)
	case value == "" && file == "":
		return fmt.Errorf("%s: required (or %s_file)", key, key)
	case file != "":
		if _, err := readSecretFile(file); err != nil {
			return fmt.Errorf("%s_file: %w", key, err)
		}
	}
	return nil
}

// secrets returns the app secret and the in-app secret ("" without an
// in-app app), reading the files.
func (c *zhezhengdingConfig) secrets() (app, inApp Secret, err error) {
	app = c.AppSecret
	if c.AppSecretFile != "" {
		if app, err = readSecretFile(c.AppSecretFile); err != nil {
			return "", "", fmt.Errorf("app_secret_file: %w", err)
		}
	}
	if c.InAppAppKey != "" {
		inApp = c.InAppAppSecret
		if c.InAppAppSecretFile != "" {
			if inApp, err = readSecretFile(c.InAppAppSecretFile); err != nil {
				return "", "", fmt.Errorf("inapp_app_secret_file: %w", err)
			}
		}
	}
	return app, inApp, nil
}

// providerConfig is the provider's config with the given secrets.
func (c *zhezhengdingConfig) providerConfig(appSecret, inAppSecret string) zhezhengding.Config {
	return zhezhengding.Config{
		LoginHost:      c.LoginHost,
		APIHost:        c.APIHost,
		AppCode:        c.AppCode,
		AppKey:         c.AppKey,
		AppSecret:      appSecret,
		Embed:          c.Embed,
		AllowedTenants: c.AllowedTenants,
		InAppKey:       c.InAppAppKey,
		InAppSecret:    inAppSecret,
		JSAPIURL:       c.JSAPIURL,
		InAppCorpID:    c.InAppCorpID,
		Enrich:         c.Enrich,
		Timeout:        c.Timeout.D(),
	}
}

func buildZhezhengding(_ context.Context, e *UpstreamEntry, d upstreamDeps) (upstream.Provider, error) {
	c, _ := e.Config.(*zhezhengdingConfig)
	if c == nil {
		return nil, errors.New("no zhezhengding config")
	}
	app, inApp, err := c.secrets()
	if err != nil {
		return nil, err
	}
	return zhezhengding.New(c.providerConfig(app.Value(), inApp.Value()), d.HTTPClient, d.Logger, nil)
}
