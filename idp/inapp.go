package idp

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/web"
)

// In-app login (免登): the login page opened inside the DingTalk or 浙政钉
// app gets its code from the app's JSAPI (dd.getAuthCode) instead of a scan.
// Each upstream tells requests from its own app (upstream.InApp).

// inAppOverride reads the query's override of in-app detection: inapp=1
// means any app (for tests and links that know better), inapp=0 none (the
// page's "scan instead" link); anything else leaves it to the upstreams.
func inAppOverride(r *http.Request) (forced, off bool) {
	switch r.URL.Query().Get("inapp") {
	case "1":
		return true, false
	case "0":
		return false, true
	}
	return false, false
}

// inAppScript returns the JSAPI script and corpId when a login through p
// should use in-app login: r comes from p's app (or inapp=1 forces it) and
// p is configured for it.
func inAppScript(r *http.Request, p upstream.Provider) (script, corpID string, ok bool) {
	ia, ok := p.(upstream.InApp)
	if !ok {
		return "", "", false
	}
	forced, off := inAppOverride(r)
	if off || (!forced && !ia.FromApp(r)) {
		return "", "", false
	}
	return ia.InAppScript()
}

// inAppUpstream picks the upstream of a login opened inside an app when
// the person has chosen none: the one allowed upstream whose app r comes
// from and that does in-app login, or "" (then the chooser shows). With
// inapp=1 or inapp=0 it picks none.
func (s *Server) inAppUpstream(r *http.Request, allowed []string) string {
	if forced, off := inAppOverride(r); forced || off {
		return ""
	}
	found := ""
	for _, id := range allowed {
		if _, _, ok := inAppScript(r, s.upstreams[id].Provider); ok {
			if found != "" {
				return ""
			}
			found = id
		}
	}
	return found
}

type inAppPage struct {
	app, script, corpID, state, callback, fallback string
}

// inAppPage loads the app's JSAPI script and web/static/inapp.js, which
// sends dd.getAuthCode's code to the callback as auth_code. Its CSP allows
// scripts from our origin and the JSAPI script's origin only (and fetches
// to that origin, for a JSAPI stand-in such as the simulators').
func (s *Server) inAppPage(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, e inAppPage) {
	origin := scriptOrigin(e.script)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self' "+origin+"; connect-src "+origin+
		"; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	s.render(w, r, http.StatusOK, "inapp", web.Page{Locale: s.locale(r, a), Title: "inapp_title", Client: displayName(c), Data: map[string]any{
		"App": e.app, "JSAPI": e.script, "CorpID": e.corpID, "State": e.state, "Callback": e.callback,
		"Fallback": e.fallback, "Script": s.prefix + "/static/inapp.js",
	}})
}

// scriptOrigin is the origin of a script URL for a CSP source list
// (validated by the upstream's config; "'none'" should it not parse).
func scriptOrigin(script string) string {
	u, err := url.Parse(script)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || strings.ContainsAny(u.Host, " ;'") {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}
