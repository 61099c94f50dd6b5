package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/dingoidc/dingoidc/storage"
)

// While the database is unreachable every endpoint that needs it answers
// 503, so that apps retry and 5xx alerts fire (README, "Database
// outages"). This file is the one place that decides it:
//
//   - storage backends wrap connection failures in storage.ErrUnavailable;
//   - code that meets such an error where op would otherwise turn it into a
//     4xx (the client cache, introspection, the SSO session lookup) calls
//     noteUnavailable, which marks the request;
//   - storageError (tokens.go) makes it the OAuth error
//     temporarily_unavailable, which op answers with a 400 or redirects to
//     the app (the redirect is kept: the app learns the error code);
//   - the wrappers below turn a marked request, or a temporarily_unavailable
//     answer, into a 503: JSON for apps (unavailableAs503, middleware.go), the styled page
//     msgStorageDown for people (pageUnavailable).

// retryAfter is the Retry-After of every 503 this file writes.
const retryAfter = "5"

// ctxUnavailable holds the request's *unavailableMark.
const ctxUnavailable ctxKey = 100

// unavailableMark is set when a request met an unreachable database.
type unavailableMark struct{ hit atomic.Bool }

// withMark gives r a fresh mark.
func withMark(r *http.Request) (*http.Request, *unavailableMark) {
	m := new(unavailableMark)
	return r.WithContext(context.WithValue(r.Context(), ctxUnavailable, m)), m
}

// noteUnavailable marks ctx's request when err says the database is
// unreachable. It reports whether it did.
func noteUnavailable(ctx context.Context, err error) bool {
	if !errors.Is(err, storage.ErrUnavailable) {
		return false
	}
	if m, ok := ctx.Value(ctxUnavailable).(*unavailableMark); ok {
		m.hit.Store(true)
	}
	return true
}

func writeUnavailableJSON(w http.ResponseWriter) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", retryAfter)
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable"}`))
}

// pageUnavailable wraps an endpoint people's browsers visit (/authorize,
// /login, the upstream callbacks, end_session): a request that met an
// unreachable database answers the styled 503 page instead of whatever
// the handler wrote (op's plain-text 400 "unable to retrieve client by
// id", a chooser, a redirect to the upstream's QR page). A redirect that
// hands temporarily_unavailable back to the app is kept: the app then
// tells the person itself.
func (s *Server) pageUnavailable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, mark := withMark(r)
		bw := &bufferedWriter{ResponseWriter: w}
		h.ServeHTTP(bw, r)
		status := bw.status
		if status == 0 {
			status = http.StatusOK
		}
		if mark.hit.Load() && !(status/100 == 3 && strings.Contains(w.Header().Get("Location"), "error=temporarily_unavailable")) {
			s.storageDownPage(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write(bw.body.Bytes())
	})
}

// storageDownPage is the 503 page: the database is unreachable.
func (s *Server) storageDownPage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Del("Location")
	h.Del("Content-Length")
	h.Set("Retry-After", retryAfter)
	s.errorPage(w, r, http.StatusServiceUnavailable, msgStorageDown)
}

// SetDraining makes /readyz answer 503 from now on: the process is shutting
// down and load balancers should send nothing new (cmd/dingoidc,
// serve_faults.go).
func (s *Server) SetDraining() { s.draining.Store(true) }
