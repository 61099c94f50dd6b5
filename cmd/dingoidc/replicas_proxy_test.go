package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The test's load balancer in front of the replicas (replicas_load_test.go):
// round robin over the replicas in rotation, a health check on /readyz that
// takes a replica out while it is not ready (as a real load balancer does
// when a replica shuts down), and a retry on the next replica when a
// connection is refused.
//
// Test headers: the balancer answers X-Test-Replica: <n> (1-based); a request
// with X-Test-Not: <n> goes to a replica other than n while another is in
// rotation (X-Test-Forced: 1 in the answer when none was), one with
// X-Test-Only: <n> goes to n and nowhere else. Both request headers are
// removed before the request is forwarded.
const (
	hdrReplica = "X-Test-Replica"
	hdrNot     = "X-Test-Not"
	hdrOnly    = "X-Test-Only"
	hdrForced  = "X-Test-Forced"
)

type testBalancer struct {
	backends []string // replica base URLs (http://127.0.0.1:port), replica n at n-1
	tr       *http.Transport
	rr       atomic.Uint64

	inRotation []atomic.Bool
	served     []atomic.Int64 // answers per replica
	retried    atomic.Int64   // requests sent again after a refused connection
	forced     atomic.Int64   // X-Test-Not not honoured: no other replica in rotation
	errors     atomic.Int64   // requests answered 502 by the balancer itself

	mu      sync.Mutex
	errMsgs []string // the first few of errors
}

func newTestBalancer(backends []string) *testBalancer {
	b := &testBalancer{
		backends:   backends,
		tr:         &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute},
		inRotation: make([]atomic.Bool, len(backends)),
		served:     make([]atomic.Int64, len(backends)),
	}
	for i := range b.inRotation {
		b.inRotation[i].Store(true)
	}
	return b
}

// handler is the reverse proxy.
func (b *testBalancer) handler() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica.invalid" // chosen in RoundTrip
		},
		Transport: b,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.errors.Add(1)
			b.mu.Lock()
			if len(b.errMsgs) < 5 {
				b.errMsgs = append(b.errMsgs, r.Method+" "+r.URL.Path+": "+err.Error())
			}
			b.mu.Unlock()
			http.Error(w, "balancer: "+err.Error(), http.StatusBadGateway)
		},
	}
}

// RoundTrip sends the request to a replica chosen by round robin among
// those in rotation (honouring the test headers), and to the next one
// when the connection is refused.
func (b *testBalancer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	not, _ := strconv.Atoi(r.Header.Get(hdrNot))
	only, _ := strconv.Atoi(r.Header.Get(hdrOnly))
	r.Header.Del(hdrNot)
	r.Header.Del(hdrOnly)
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	tried := make([]bool, len(b.backends))
	var lastErr error
	for {
		n, forced := b.choose(not, only, tried)
		if n == 0 {
			if lastErr == nil {
				lastErr = errors.New("no replica to send to")
			}
			return nil, lastErr
		}
		tried[n-1] = true
		out := r.Clone(r.Context())
		out.URL.Host = b.backends[n-1][len("http://"):]
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			out.ContentLength = int64(len(body))
		}
		resp, err := b.tr.RoundTrip(out)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" && only == 0 {
				b.retried.Add(1)
				lastErr = fmt.Errorf("replica %d: %w", n, err)
				continue // nothing was sent: the next replica
			}
			return nil, fmt.Errorf("replica %d: %w", n, err)
		}
		b.served[n-1].Add(1)
		resp.Header.Set(hdrReplica, strconv.Itoa(n))
		if forced {
			b.forced.Add(1)
			resp.Header.Set(hdrForced, "1")
		}
		return resp, nil
	}
}

// choose returns the replica for the next attempt (1-based; 0: none left)
// and whether it is not, which the request asked to avoid. Replicas out of
// rotation are used only when none is in rotation (as load balancers do
// when every health check fails).
func (b *testBalancer) choose(not, only int, tried []bool) (int, bool) {
	if only > 0 {
		if only <= len(b.backends) && !tried[only-1] {
			return only, false
		}
		return 0, false
	}
	k := len(b.backends)
	start := int(b.rr.Add(1) % uint64(k))
	for _, rotation := range []bool{true, false} {
		fallback := 0
		for j := range k {
			i := (start + j) % k
			if tried[i] || (rotation && !b.inRotation[i].Load()) {
				continue
			}
			if i+1 == not {
				fallback = not
				continue
			}
			return i + 1, false
		}
		if fallback != 0 {
			return fallback, true
		}
	}
	return 0, false
}

// healthCheck polls every replica's /readyz every interval until ctx ends:
// not 200 (or no answer within a second) takes the replica out of rotation,
// 200 puts it back.
func (b *testBalancer) healthCheck(ctx context.Context, interval time.Duration) {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for i, base := range b.backends {
			wg.Go(func() {
				ok := false
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
				if resp, err := hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == http.StatusOK
				}
				if ctx.Err() == nil {
					b.inRotation[i].Store(ok)
				}
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitOut waits until replica n is out of rotation.
func (b *testBalancer) waitOut(ctx context.Context, n int) error {
	for b.inRotation[n-1].Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %d still in rotation: %w", n, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (b *testBalancer) proxyErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errMsgs...)
}
