package idp

import (
	"net/http"
	"net/url"
)

// CallbackHop makes s answer completed logins as versions before the
// one-hop-fewer change did, and as an older replica does during a
// rolling upgrade: a redirect to /authorize/callback with the completed
// request sealed into its id, which that route (kept, guarded by
// checkBrowser) turns into the code. Tests of that route use it; call it
// before any request.
func CallbackHop(s *Server) {
	s.respondCompleted = func(w http.ResponseWriter, r *http.Request, a *authRequest) {
		id, err := s.seal.seal(purposeAuthRequest, a)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, s.prefix+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	}
}
