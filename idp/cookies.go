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

func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// browserBinding returns the hash of this browser's binding cookie, setting
// one when there is none.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) []byte {
	if c, err := r.Cookie(cookieBrowser); err == nil && len(c.Value) >= 22 {
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
		c, err := r.Cookie(cookieBrowser)
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
