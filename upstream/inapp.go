package upstream

import "net/http"

// InApp is implemented by upstreams whose people can log in without a scan
// when dingoidc's login page is opened inside the upstream's own app (免登):
// the page loads the app's JSAPI script, calls dd.getAuthCode({corpId}) and
// sends the code to the callback as auth_code, which Exchange redeems.
type InApp interface {
	// FromApp reports whether r comes from this upstream's app (its web
	// view's User-Agent).
	FromApp(r *http.Request) bool
	// InAppScript returns the JSAPI script's URL and the corpId to pass to
	// dd.getAuthCode; ok is false when this upstream is not configured for
	// in-app login.
	InAppScript() (scriptURL, corpID string, ok bool)
}
