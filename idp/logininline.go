package idp

import (
	"net/http"
	"net/url"
)

// loginInline runs /login (handleLogin) within the /authorize request when
// op answers an authorization request with its redirect to the login page
// (client.LoginURL): the browser then goes from /authorize straight to the
// upstream, the app (SSO session) or the chooser, one round trip fewer per
// login (docs/performance.md). Every other answer of op (errors, to a page
// or to the app) passes through untouched. The pages /login renders link
// to /login with absolute paths, so they work at the /authorize URL too.
func (s *Server) loginInline(next http.Handler) http.Handler {
	loginPath := s.prefix + "/login"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iw := &loginRedirectCatcher{ResponseWriter: w, path: loginPath}
		next.ServeHTTP(iw, r)
		if iw.login == nil {
			return
		}
		// The in-app override (?inapp=1 or 0), given to the login page
		// before, is read on the authorization URL now (op ignores it).
		if v := r.FormValue("inapp"); v == "0" || v == "1" {
			q := iw.login.Query()
			q.Set("inapp", v)
			iw.login.RawQuery = q.Encode()
		}
		r2 := r.Clone(r.Context())
		r2.Method = http.MethodGet
		r2.URL = iw.login
		r2.RequestURI = iw.login.RequestURI()
		r2.Body, r2.ContentLength = http.NoBody, 0
		r2.Form, r2.PostForm = nil, nil
		s.handleLogin(w, r2)
	})
}

// loginRedirectCatcher holds back op's redirect to the login page (and
// its small body), passing everything else through.
type loginRedirectCatcher struct {
	http.ResponseWriter
	path  string   // the login page's path (client.LoginURL, without host)
	login *url.URL // the caught redirect's target
	wrote bool
}

func (c *loginRedirectCatcher) WriteHeader(code int) {
	if c.wrote || c.login != nil {
		return
	}
	if code == http.StatusFound {
		if u, err := url.Parse(c.Header().Get("Location")); err == nil && u.Host == "" && u.Path == c.path {
			c.login = u
			c.Header().Del("Location")
			c.Header().Del("Content-Type")
			return
		}
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *loginRedirectCatcher) Write(b []byte) (int, error) {
	if !c.wrote && c.login == nil {
		c.WriteHeader(http.StatusOK)
	}
	if c.login != nil {
		return len(b), nil // the redirect's "Found" body
	}
	return c.ResponseWriter.Write(b)
}

func (c *loginRedirectCatcher) Unwrap() http.ResponseWriter { return c.ResponseWriter }
