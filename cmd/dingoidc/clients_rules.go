package main

import (
	"errors"
	"fmt"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// clientFlagNames maps a client field (idp/admin.FieldError.Field) to its
// CLI flag.
var clientFlagNames = map[string]string{
	"id": "--id", "name": "--name", "redirect_uris": "--redirect-uri",
	"post_logout_redirect_uris": "--post-logout-redirect-uri", "upstreams": "--upstream",
	"allowed_groups": "--allowed-group", "allowed_tenants": "--allowed-tenant",
	"access_token_format": "--access-token-format", "legacy_api": "--legacy-api",
}

// checkClient validates a client built from flags with the rules of
// idp/admin; problems name the flag.
func checkClient(cfg *FileConfig, cl *storage.Client) error {
	var errs []error
	for _, fe := range admin.CheckClient(cl, clientRules(cfg)) {
		flag := clientFlagNames[fe.Field]
		if fe.Value != "" {
			flag += fmt.Sprintf(" %q", fe.Value)
		}
		errs = append(errs, fmt.Errorf("%s: %s", flag, fe.Msg))
	}
	return errors.Join(errs...)
}

// clientRules are the validation rules from the config: the configured
// upstreams (nil when none are configured, so the CLI works without them).
func clientRules(cfg *FileConfig) admin.Rules {
	var r admin.Rules
	for _, u := range cfg.Upstreams {
		r.Upstreams = append(r.Upstreams, u.ID)
	}
	return r
}
