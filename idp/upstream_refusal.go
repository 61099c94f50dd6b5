package idp

import (
	"context"
	"errors"
	"net/http"

	"github.com/dingoidc/dingoidc/upstream"
)

// Pages for upstream failures that are not "try again later".
var (
	// msgMisconfigured: the upstream refused dingoidc's own configuration;
	// the operator must fix it (the page gives the request id to quote).
	msgMisconfigured = message{"misconfigured_title", "misconfigured"}
	// msgInAppCodeExpired: an in-app (免登) code was refused; no QR code
	// was involved.
	msgInAppCodeExpired = message{"inapp_code_expired_title", "inapp_code_expired"}
)

// upstreamRefusal answers the upstream failures that need their own page,
// and reports whether it did: a refused configuration (upstream.
// ErrMisconfigured) is the operator's to fix, not the person's to retry
// later; a refused in-app code (the callback's auth_code) talks about the
// app, not a QR code.
func (s *Server) upstreamRefusal(w http.ResponseWriter, r *http.Request, log interface {
	InfoContext(context.Context, string, ...any)
	WarnContext(context.Context, string, ...any)
}, a *authRequest, upID string, err error) bool {
	ctx := r.Context()
	switch {
	case errors.Is(err, upstream.ErrMisconfigured):
		log.WarnContext(ctx, "the upstream refused dingoidc's configuration; the operator must fix it", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedMisconfigured)
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgMisconfigured)
		return true
	case errors.Is(err, upstream.ErrCodeInvalid) && r.Form.Get("auth_code") != "":
		log.InfoContext(ctx, "in-app code expired or reused", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedCodeInvalid)
		s.retryPageWith(w, r, a, upID, msgInAppCodeExpired)
		return true
	}
	return false
}

// keepLoginCookie reports whether the login cookie outlives the callback
// that failed with err: when the upstream could not be reached (or
// answered nonsense), reloading the callback tries the same code again
// rather than claiming the login happened in another browser. The
// upstream still takes each code once, and a session is created once per
// login state.
func keepLoginCookie(err error) bool {
	return errors.Is(err, upstream.ErrUnavailable) && !errors.Is(err, upstream.ErrMisconfigured)
}
