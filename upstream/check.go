package upstream

import "context"

// CheckResult is one check of an upstream's configuration against the
// real service.
type CheckResult struct {
	// Name says what was checked ("app token", "clock", "login page"…).
	Name string
	// OK is true when the check passed (or could not apply: see Detail).
	OK bool
	// Fatal, when not OK, means logins will break; else it is a warning
	// (something degrades, such as groups).
	Fatal bool
	// Detail is what was found and, when not OK, what to fix.
	Detail string
}

// CheckRequest is what the checks need to know of dingoidc.
type CheckRequest struct {
	// RedirectURI is dingoidc's callback for this upstream, for the login
	// page's check of the registered callback domain.
	RedirectURI string
}

// Checker is implemented by upstreams that can check their configuration
// before going live: each call uses the real credentials and needs no
// person (an app token, a permission probe, the gateway's clock, the
// login page's answer to dingoidc's callback). The pitfalls people report
// most are configuration ones (docs/upstreams.md).
type Checker interface {
	Check(ctx context.Context, req CheckRequest) []CheckResult
}
