// Package clientip finds the address of the person behind a request: the
// TCP peer, or, when the peer is a reverse proxy the operator trusts
// (`trusted_proxies`, CIDRs), the address that proxy says it forwarded for.
//
// Forwarded headers are read from the right, the end the trusted proxies
// wrote: the first address that is not itself a trusted proxy is the
// client. Anything left of it was written by the client and is never
// believed. With no trusted proxies the headers are ignored entirely, so an
// app reached directly cannot be told another address.
//
// The standard `Forwarded` header (RFC 7239) is used when present, else
// `X-Forwarded-For`. The sign-in log, the operator's log lines and the rate
// limits all use the one Resolver, so they always agree on who a person is.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given CIDRs (a bare address means a
// single host). Every malformed entry is reported in one error.
func New(cidrs []string) (*Resolver, error) {
	r := &Resolver{}
	var bad []string
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%q", c))
				continue
			}
			a = a.Unmap()
			r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", c))
			continue
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("trusted_proxies: not an address or CIDR: %s", strings.Join(bad, ", "))
	}
	return r, nil
}

// Trusts reports whether a is a trusted proxy.
func (r *Resolver) Trusts(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client's address, or the zero Addr when even the peer's
// address cannot be parsed (a test request without RemoteAddr).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !peer.IsValid() || !r.Trusts(peer) {
		return peer
	}
	var hops []string
	if fwd := req.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(fwd)
	} else {
		for _, v := range req.Header.Values("X-Forwarded-For") {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := hopAddr(hops[i])
		if !a.IsValid() {
			// "unknown", an obfuscated node or garbage: nothing left of
			// it can be tied to this request; the last good hop stands.
			return client
		}
		client = a
		if !r.Trusts(a) {
			return a
		}
	}
	return client
}

// String is Addr as text, "" when unknown.
func (r *Resolver) String(req *http.Request) string {
	a := r.Addr(req)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// hopAddr parses one hop of either header: "192.0.2.1", "192.0.2.1:443",
// "[2001:db8::1]:443", "2001:db8::1", with RFC 7239 quotes already removed.
func hopAddr(h string) netip.Addr {
	h = strings.TrimSpace(h)
	if h == "" {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.WithZone("").Unmap()
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			if a, err := netip.ParseAddr(h[1:end]); err == nil {
				return a.WithZone("").Unmap()
			}
		}
	}
	return netip.Addr{}
}

// forwardedFor lists the for= parameters of RFC 7239 Forwarded headers in
// order; an element without for= yields "" (an unknown hop).
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			val := ""
			for _, pair := range strings.Split(elem, ";") {
				k, x, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					val = strings.Trim(strings.TrimSpace(x), `"`)
				}
			}
			out = append(out, val)
		}
	}
	return out
}

type ctxKey struct{}

// Middleware resolves the address once per request and keeps it in the
// request's context for FromContext.
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ip := r.String(req)
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, ip)))
	})
}

// FromContext returns the address Middleware resolved, "" when none.
func FromContext(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}
