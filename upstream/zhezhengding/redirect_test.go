package zhezhengding_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
)

// TestNoRedirects: a gateway (or a proxy in front of it) that redirects an
// API call gets no second request: the AppSecret and the signed headers
// never reach the redirect's target, and the login fails as unavailable
// naming the redirect.
func TestNoRedirects(t *testing.T) {
	var reached atomic.Int32
	var leaked atomic.Bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), secret) || r.Header.Get("X-Hmac-Auth-Signature") != "" {
			leaked.Store(true)
		}
	}))
	t.Cleanup(evil.Close)
	for _, path := range []string{"/gettoken.json", "/rpc/oauth2/getuserinfo_bycode.json"} {
		t.Run(path, func(t *testing.T) {
			e := newSimEnv(t, nil, func(sim http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == path {
						http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
						return
					}
					sim.ServeHTTP(w, r)
				})
			})
			_, err := e.p.Exchange(t.Context(), e.scan(t, "71453920"), callback)
			if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "redirected to "+evil.URL) {
				t.Errorf("err %v, want ErrUnavailable naming the redirect", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("err %q shows the secret", err)
			}
		})
	}
	if n := reached.Load(); n != 0 || leaked.Load() {
		t.Errorf("the redirect was followed %d times (secret leaked: %t)", n, leaked.Load())
	}
}
