// Package nginx runs dingoidc behind Debian's nginx as docs/reverse-proxy.md
// tells: TLS (a CA made by the test) ends at nginx, the issuer has a path
// prefix (https://127.0.0.1:<port>/sso), and a coreos/go-oidc client logs in
// through it with the DingTalk simulator.
//
// Without nginx the tests are skipped locally (apt-get install nginx-light)
// and fail when CI=true.
package nginx
