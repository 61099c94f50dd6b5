package idp

import (
	"crypto/hmac"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

const (
	cookieBrowser = "dingoidc_browser"
	cookieSession = "dingoidc_session"
	cookieLogin   = "dingoidc_login_" // + the state nonce's first 10 characters
)

// loginState travels in a cookie while the person is at the upstream. The
// upstream only sees the signed state; the cookie binds it to this browser.
type loginState struct {
	Auth     authRequest `json:"a"` // the request itself (the cookie is sealed already)
	Upstream string      `json:"u"`
	Nonce    string      `json:"n"`
	Browser  []byte      `json:"b"`
	Exp      int64       `json:"e"`
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *Server) signState(nonce string) string {
	return nonce + "." + encodeB64(mac(s.cookieKey, "state", nonce)[:12])
}

func (s *Server) verifyState(state string) (string, bool) {
	nonce, sig, ok := strings.Cut(state, ".")
	if !ok || len(nonce) < 16 {
		return "", false
	}
	want := encodeB64(mac(s.cookieKey, "state", nonce)[:12])
	return nonce, hmac.Equal([]byte(sig), []byte(want))
}

// cookieName is a cookie's name on the wire. On an https issuer every
// cookie carries the __Host- prefix, so the browser accepts it only when it
// is Secure, has Path=/ and no Domain: a sibling subdomain cannot plant a
// session or a login cookie (RFC 6265bis §4.1.3.2). Cookies that would need
// a narrower path are told apart by name instead (the login cookie is named
// after its state nonce). An http issuer (dev) keeps the plain names, which
// browsers would refuse with the prefix.
func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// cookiePath is path on an http issuer, and "/" (which __Host- demands)
// on an https one.
func (s *Server) cookiePath(path string) string {
	if s.secure {
		return "/"
	}
	return path
}

// cookie reads the cookie set as name by setCookie.
func (s *Server) cookie(r *http.Request, name string) (*http.Cookie, error) {
	return r.Cookie(s.cookieName(name))
}

func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: s.cookiePath(path), MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(name), Value: "", Path: s.cookiePath(path), MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// browserBinding returns the hash of this browser's binding cookie, setting
// one when there is none.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) []byte {
	if c, err := s.cookie(r, cookieBrowser); err == nil && len(c.Value) >= 22 {
		return hash(c.Value)
	}
	v := randomString(18)
	s.setCookie(w, cookieBrowser, v, s.prefix+"/", 0)
	return hash(v)
}

// checkBrowser lets a completed request through only in the browser that
// started it: a login finished elsewhere never yields a code here.
func (s *Server) checkBrowser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.openAuthRequest(r.URL.Query().Get("id"))
		if err != nil || !a.Done() {
			s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
			return
		}
		c, err := s.cookie(r, cookieBrowser)
		if err != nil || !hmac.Equal(hash(c.Value), a.Browser) {
			s.log.InfoContext(r.Context(), "completed login presented by another browser", "client_id", a.ClientID)
			s.metrics.loginRefused("", a.ClientID, refusedOtherBrowser)
			s.errorPage(w, r, http.StatusBadRequest, msgOtherBrowser)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logoutToken is the confirmation a logout form carries: bound to the
// session cookie, which another site can neither read nor guess.
func (s *Server) logoutToken(session string) string {
	return encodeB64(mac(s.cookieKey, "logout", session)[:16])
}
