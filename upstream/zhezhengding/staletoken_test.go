package zhezhengding_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// pathCounter counts the simulator's calls by path.
type pathCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *pathCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.URL.Path]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *pathCounter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// TestStaleTokenRefetched: when the gateway stops accepting the cached app
// token, answering 240133 or 250027, the provider drops it, fetches a new
// one and retries once, and the new token is cached: no login fails until
// the old token's expiry (docs/upstreams.md §1).
func TestStaleTokenRefetched(t *testing.T) {
	for _, code := range []string{"240133", "250027"} {
		t.Run(code, func(t *testing.T) {
			var calls pathCounter
			e := newSimEnv(t, func(c *zhezhengding.Config) { c.Enrich = false }, calls.wrap)
			login := func() {
				t.Helper()
				if _, err := e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback); err != nil {
					t.Fatal(err)
				}
			}
			login()
			e.sim.RevokeTokens(code)
			login()
			login()
			if tok, user := calls.count("/gettoken.json"), calls.count("/rpc/oauth2/getuserinfo_bycode.json"); tok != 2 || user != 4 {
				t.Errorf("%d token calls and %d user calls, want 2 and 4 (one retry)", tok, user)
			}
		})
	}
}
