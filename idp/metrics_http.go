package idp

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/dingoidc/dingoidc/idp/clientip"
)

// MetricsConfig says where /metrics is served.
type MetricsConfig struct {
	// Separate: cmd serves Server.Metrics().Handler() on its own address
	// (metrics_listen); the main listener has no /metrics.
	Separate bool
	// Public serves /metrics on the main listener to anyone; otherwise only
	// to loopback peers that came through no proxy.
	Public bool
}

// routeNote carries the mux pattern that served a request out to observe
// (the mux sets Request.Pattern on its own copy of the request).
type routeNote struct{ pattern string }

type ctxRouteNote struct{}

func withRouteNote(ctx context.Context) (context.Context, *routeNote) {
	n := new(routeNote)
	return context.WithValue(ctx, ctxRouteNote{}, n), n
}

// notePattern wraps the mux: once it has served, the pattern it matched is
// the request's route label (bounded: the routes are ours).
func notePattern(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if n, ok := r.Context().Value(ctxRouteNote{}).(*routeNote); ok {
			n.pattern = r.Pattern
		}
	})
}

// route is the pattern's path ("POST /oauth/token" → "/oauth/token"), or
// "other" for requests no route matched (the catch-all 404 page, CORS
// preflights answered before the mux).
func (n *routeNote) route() string {
	p := n.pattern
	if _, path, ok := strings.Cut(p, " "); ok {
		p = path
	}
	if p == "" || p == "/" {
		return "other"
	}
	return p
}

// metricsEndpoint is /metrics on the main listener: absent when it has its
// own listener, public when configured, else loopback only.
func (s *Server) metricsEndpoint() http.Handler {
	h := s.metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Metrics.Separate || (!s.cfg.Metrics.Public && !loopbackPeer(r)) {
			s.errorPage(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackPeer: the TCP peer and the resolved client are both loopback and
// no proxy header is present (a reverse proxy on the same host forwards
// other people's requests from a loopback address).
func loopbackPeer(r *http.Request) bool {
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" {
		return false
	}
	for _, s := range []string{r.RemoteAddr, clientip.FromContext(r.Context())} {
		a := addrOf(s)
		if !a.IsValid() || !a.IsLoopback() {
			return false
		}
	}
	return true
}

func addrOf(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(strings.Trim(s, "[]"))
	return a.Unmap()
}

// Metrics is the server's registry: cmd serves its Handler on
// metrics_listen.
func (s *Server) Metrics() *Metrics { return s.metrics }
