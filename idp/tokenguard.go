package idp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// presenterKey holds the client_id a token, introspection or revocation
// request names (Basic user or form), for checks op leaves to storage.
type presenterKey struct{}

// presentingClient is the client_id the request in ctx names; op has
// authenticated it (or it is a public client) before any storage call that
// reads it.
func presentingClient(ctx context.Context) string {
	s, _ := ctx.Value(presenterKey{}).(string)
	return s
}

// secretQueryParams may never travel in a URL, where proxies and logs keep
// them (RFC 6749 §2.3.1, §3.2).
var secretQueryParams = []string{"client_secret", "refresh_token", "code", "code_verifier"}

// tokenGuard wraps the token, introspection and revocation endpoints:
//   - credentials, codes and refresh tokens in the query string are
//     refused with 400 invalid_request (op would read them from r.Form);
//   - the presenting client_id goes into the context (refresh reuse
//     detection, refresh.go);
//   - a 401 invalid_client carries WWW-Authenticate: Basic (RFC 6749 §5.2):
//     always at the token endpoint, at the others when Basic was used;
//   - a missing code_verifier for a code sent with a code_challenge is
//     invalid_grant (RFC 7636 §4.6), not op's invalid_request.
func (s *Server) tokenGuard(tokenEndpoint bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, k := range secretQueryParams {
			if q.Has(k) {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", k+" must be sent in the request body, not the URL")
				return
			}
		}
		// A form that does not parse is refused here: once parsed (even in
		// error) it would look parsed and empty to op.
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				s.tooLarge(w, r)
				return
			}
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
			return
		}
		user, _, basic := r.BasicAuth()
		if basic {
			if u, err := url.QueryUnescape(user); err == nil {
				user = u
			}
		} else {
			user = r.PostForm.Get("client_id")
		}
		r = r.WithContext(context.WithValue(r.Context(), presenterKey{}, user))

		bw := &bufferedWriter{ResponseWriter: w}
		h.ServeHTTP(bw, r)
		status, body := bw.status, bw.body.Bytes()
		if status == 0 {
			status = http.StatusOK
		}
		if status == http.StatusUnauthorized && (tokenEndpoint || basic) {
			w.Header().Set("WWW-Authenticate", `Basic realm="dingoidc", charset="UTF-8"`)
		}
		if tokenEndpoint && status == http.StatusBadRequest {
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			// op's words for a code sent with a challenge but redeemed
			// without a verifier (pkg/op/token_request.go, AuthorizeCodeChallenge).
			if json.Unmarshal(body, &e) == nil && e.Error == "invalid_request" && e.Description == "code_verifier required" {
				writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier required: the authorization request sent a code_challenge")
				return
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
