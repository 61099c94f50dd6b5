// Package upstream is the contract between dingoidc's login flow and the
// identity sources that authenticate people (DingTalk, Zhezhengding). It
// knows nothing of OIDC tokens: a Provider sends the person to its login
// page and turns the callback into an Identity.
package upstream

import (
	"context"
	"errors"
	"net/url"
)

// Identity is a person as an upstream reports them.
type Identity struct {
	// ExternalID is the upstream's stable key for the person (浙政钉
	// accountId, DingTalk unionId). It must never change for one person.
	ExternalID string
	// Attributes are the raw attributes, keyed as the upstream names them
	// (accountId, lastName, employeeCode, unionId, nick…). Claims templates
	// read them.
	Attributes map[string]any
	// AMR lists the authentication methods used ("qr", "app").
	AMR []string
}

// LoginRequest is what a Provider needs to send a person to its login page.
type LoginRequest struct {
	State       string // opaque, signed by dingoidc; must come back unchanged
	RedirectURI string // dingoidc's callback for this upstream
	Locale      string // "zh-CN" or "en"
}

// Provider is one configured upstream.
type Provider interface {
	// Type is the upstream kind ("dingtalk", "zhezhengding", "dev").
	Type() string
	// LoginURL is where the browser goes to scan.
	LoginURL(ctx context.Context, req LoginRequest) (string, error)
	// Exchange turns the callback parameters (query or form; the state has
	// already been checked by dingoidc) into an identity. Errors wrap one of
	// the sentinel kinds below.
	Exchange(ctx context.Context, callback url.Values, redirectURI string) (*Identity, error)
	// DefaultClaims returns the built-in claims templates (claim name →
	// text/template over Identity.Attributes) that config entries override.
	DefaultClaims() map[string]string
}

// Kinds of failure a person can be told about. Providers wrap them with the
// operator's detail, e.g. fmt.Errorf("exchange scan code: %w: %w",
// upstream.ErrCodeInvalid, apiErr).
var (
	// ErrCodeInvalid: the scan code expired or was used already; scanning
	// again helps.
	ErrCodeInvalid = errors.New("upstream: login code expired or already used")
	// ErrNotAllowed: the person authenticated but may not log in here
	// (wrong tenant or organisation, inactive account).
	ErrNotAllowed = errors.New("upstream: person not allowed")
	// ErrDenied: the person cancelled or refused at the upstream.
	ErrDenied = errors.New("upstream: login denied")
	// ErrUnavailable: the upstream could not be used (outage, timeout, bad
	// credentials of dingoidc itself, unexpected answer).
	ErrUnavailable = errors.New("upstream: temporarily unavailable")
	// ErrMisconfigured refines ErrUnavailable (an error wrapping it wraps
	// ErrUnavailable too): the upstream refused dingoidc's own
	// configuration (its app's credentials or permissions, the server's IP
	// address, the signing clock). Retrying does not help; the operator
	// must fix it. Providers add it at the end: fmt.Errorf("%s: %w: %w
	// [%w]", op, ErrUnavailable, detail, ErrMisconfigured).
	ErrMisconfigured = errors.New("the operator must fix the upstream configuration")
)

// Embedder is implemented by upstreams whose QR code can be shown inside
// dingoidc's own login page (浙政钉 embedMode): the page frames FrameURL
// and accepts a window.postMessage({code, state}) only from Origin, then
// sends code and state to the callback.
type Embedder interface {
	// Embedded reports whether this upstream is configured for it.
	Embedded() bool
	// FrameURL is the QR page to frame; Origin is the origin its message
	// must come from (the login host).
	FrameURL(ctx context.Context, req LoginRequest) (frameURL, origin string, err error)
}
