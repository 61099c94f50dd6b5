package dingtalk_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingoidc/dingoidc/upstream"
)

// TestNoRedirectsAgainstSimulator: an API host that redirects a call (here
// the user token call, which carries the AppSecret) gets no second
// request; the login fails as unavailable.
func TestNoRedirectsAgainstSimulator(t *testing.T) {
	var reached atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	t.Cleanup(evil.Close)
	for _, path := range []string{"/v1.0/oauth2/userAccessToken", "/v1.0/oauth2/accessToken", "/topapi/user/getbyunionid"} {
		t.Run(path, func(t *testing.T) {
			e := newSimEnvBehind(t, simApp, func(sim http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == path {
						http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
						return
					}
					sim.ServeHTTP(w, r)
				})
			})
			_, err := e.p.Exchange(t.Context(), e.scan(t, "/simulator/scan", "QY7vA9rRRxK4nQcn6zdha8MiEiE"), simCallback)
			if !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("err %v, want ErrUnavailable", err)
			}
			if err != nil && strings.Contains(err.Error(), "puyP6Ol") {
				t.Errorf("err %q shows the secret", err)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("a redirect was followed %d times", n)
	}
}
