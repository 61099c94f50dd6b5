package idp

import (
	"net/http"
	"strings"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Config.MaxBodyBytes is not set: token, introspection, revocation and
// login forms are a few hundred bytes.
const DefaultMaxBodyBytes = 64 << 10

// limitBody refuses a body larger than MaxBodyBytes with 413 before reading
// it when Content-Length says so, and stops reading one that grows past the
// cap (chunked or lying), so a flood of large POSTs cannot grow the
// process (Go's own form limit is 10 MB per request).
func (s *Server) limitBody(h http.Handler) http.Handler {
	max := s.cfg.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			s.tooLarge(w, r)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		h.ServeHTTP(w, r)
	})
}

// tooLarge answers 413: JSON to apps, the error page to people.
func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close") // do not read the rest of the body
	p := strings.TrimPrefix(r.URL.Path, s.prefix)
	if strings.HasPrefix(p, "/oauth/") || p == "/revoke" || p == "/userinfo" || strings.HasPrefix(p, "/admin/") {
		writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
		return
	}
	s.errorPage(w, r, http.StatusRequestEntityTooLarge, msgLoginInvalid)
}
