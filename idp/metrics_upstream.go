package idp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// UpstreamTransport instruments an upstream's HTTP client: every API call
// is counted and timed per upstream and endpoint (the URL path, query
// excluded), with its error kind. base nil means http.DefaultTransport.
// cmd gives each upstream provider a client with this transport
// (cmd/dingoidc/upstreams.go).
func (m *Metrics) UpstreamTransport(upstream string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &upstreamTransport{m: m, upstream: upstream, base: base}
}

// UpstreamClient is c with its transport instrumented (a copy; c is not
// changed); c itself on a nil Metrics.
func (m *Metrics) UpstreamClient(upstream string, c *http.Client) *http.Client {
	if m == nil {
		return c
	}
	if c == nil {
		c = &http.Client{}
	}
	cp := *c
	cp.Transport = m.UpstreamTransport(upstream, c.Transport)
	return &cp
}

type upstreamTransport struct {
	m        *Metrics
	upstream string
	base     http.RoundTripper
}

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := t.m.endpoints.label(req.URL.Path)
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	t.m.upstreamDuration.WithLabelValues(t.upstream, endpoint).Observe(time.Since(start).Seconds())
	t.m.upstreamCalls.WithLabelValues(t.upstream, endpoint, errorKind(resp, err)).Inc()
	return resp, err
}

// errorKind classifies an upstream call: "" (an answer below 400),
// "http_4xx", "http_5xx", "timeout", "canceled" or "network". Errors the
// upstream reports inside a 200 answer (DingTalk's errcode) are the
// provider's to log; they are not visible here.
func errorKind(resp *http.Response, err error) string {
	var ne net.Error
	switch {
	case err == nil && resp.StatusCode < 400:
		return ""
	case err == nil:
		return "http_" + strconv.Itoa(resp.StatusCode/100) + "xx"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "network"
	}
}

// maxEndpoints bounds the endpoint label: upstream API paths are constants
// of the providers, but a path carrying an id would otherwise grow the
// series without end.
const maxEndpoints = 64

type endpointSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *endpointSet) label(path string) string {
	if path == "" {
		path = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[path] {
		return path
	}
	if len(s.seen) >= maxEndpoints {
		return "other"
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[path] = true
	return path
}
