// Package clients runs real third-party OpenID Connect clients against a
// dingoidc built from this module: coreos/go-oidc (plainly and as Grafana's
// generic_oauth), openid-client (npm), Apache mod_auth_openidc and GitLab's
// omniauth_openid_connect. dingoidc runs as `serve --dev` behind a TLS front
// with a test CA; every login goes through the DingTalk simulator.
//
// A client whose tool is missing is skipped locally and fails when CI=true.
package clients
