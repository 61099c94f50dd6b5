package idp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// The admin console's session. The console is a built-in public client
// (admin.ConsoleClientID, in memory only) whose redirect URI is
// <issuer>/admin/callback: /admin/login starts an ordinary authorization
// code flow with PKCE against this issuer's own /authorize, so the admin
// scans as anyone does; /admin/callback redeems the code in-process at the
// token endpoint, verifies the ID token, checks the admin lists and sets
// the session cookie, sealed (AES-256-GCM under a key derived from the
// master key, purpose "admin-session"), holding subject, groups, expiry
// and the CSRF token that writes must echo in X-CSRF-Token. Every API
// request re-checks the person (adminapi.go, adminAuth).

const (
	purposeAdminLogin   = "admin-login"
	purposeAdminSession = "admin-session"
	cookieAdminLogin    = "dingoidc_admin_login"
	// cookieAdminSession is the session cookie's name on http (loopback);
	// on https it is __Host- prefixed (adminCookieName).
	cookieAdminSession = "dingoidc_admin"
)

// adminLogin is the sealed state of a console login in flight.
type adminLogin struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Exp      int64  `json:"e"`
}

// adminSessionData is the sealed session cookie.
type adminSessionData struct {
	Sub    string   `json:"sub"`
	Groups []string `json:"groups,omitempty"`
	Exp    int64    `json:"exp"`
	CSRF   string   `json:"csrf"`
}

func (s *Server) consoleRedirect() string { return s.cfg.Issuer + "/admin/callback" }

// consoleClient is the built-in client of the admin console.
func (s *Server) consoleClient() storage.Client {
	return storage.Client{
		ID: admin.ConsoleClientID, Name: "dingoidc console", Public: true, Static: true,
		RedirectURIs: []string{s.consoleRedirect()}, PostLogoutRedirectURIs: []string{s.cfg.Issuer + "/admin"},
	}
}

// adminCookieName and adminCookiePath: __Host- (path /) on https.
// setCookie, cookie and clearCookie add the __Host- prefix and Path=/
// themselves on https (cookies.go).
func (s *Server) adminCookieName() string { return cookieAdminSession }

func (s *Server) adminCookiePath() string { return s.prefix + "/admin" }

func (s *Server) mountAdminSession(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/login", s.handleAdminLogin)
	mux.HandleFunc("GET /admin/callback", s.handleAdminCallback)
	mux.HandleFunc("POST /admin/logout", s.handleAdminLogout)
	mux.HandleFunc("GET /admin/logout", s.handleAdminLogout)
}

func (s *Server) handleAdminLogin(w http.ResponseWriter, r *http.Request) {
	l := adminLogin{State: randomString(18), Verifier: randomString(32), Nonce: randomString(18), Exp: s.now().Add(s.cfg.LoginTTL).Unix()}
	sealed, err := s.seal.seal(purposeAdminLogin, l)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, msgUnavailable)
		return
	}
	s.setCookie(w, cookieAdminLogin, sealed, s.prefix+"/admin/callback", s.cfg.LoginTTL)
	ch := sha256.Sum256([]byte(l.Verifier))
	q := url.Values{
		"client_id": {admin.ConsoleClientID}, "redirect_uri": {s.consoleRedirect()}, "response_type": {"code"},
		"scope": {"openid profile " + ScopeGroups}, "state": {l.State}, "nonce": {l.Nonce},
		"code_challenge": {encodeB64(ch[:])}, "code_challenge_method": {"S256"},
	}
	if lang := r.URL.Query().Get("ui_locales"); lang != "" {
		q.Set("ui_locales", lang)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.cfg.Issuer+"/authorize?"+q.Encode(), http.StatusFound)
}

func (s *Server) handleAdminCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	var l adminLogin
	c, err := s.cookie(r, cookieAdminLogin)
	if err != nil || s.seal.open(purposeAdminLogin, c.Value, &l) != nil || s.now().Unix() > l.Exp ||
		l.State == "" || r.URL.Query().Get("state") != l.State {
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	s.clearCookie(w, cookieAdminLogin, s.prefix+"/admin/callback")
	if e := r.URL.Query().Get("error"); e != "" {
		s.log.InfoContext(ctx, "admin console login ended without a code", "oidc_error", truncate(e, 64))
		s.errorPage(w, r, http.StatusForbidden, msgNotAllowed)
		return
	}
	sub, err := s.redeemConsoleCode(ctx, r.URL.Query().Get("code"), l)
	if err != nil {
		s.log.WarnContext(ctx, "admin console login: redeem code", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	u, err := s.store.GetUser(ctx, sub)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.errorPage(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	if err != nil || u.Disabled || !s.cfg.Admin.isAdmin(u.ID, claimGroups(u.Claims)) {
		s.log.InfoContext(ctx, "admin console: not an admin", "user_id", sub)
		s.errorPage(w, r, http.StatusForbidden, msgNotAllowed)
		return
	}
	sess := adminSessionData{Sub: u.ID, Groups: claimGroups(u.Claims), Exp: s.now().Add(s.cfg.SessionTTL).Unix(), CSRF: randomString(24)}
	sealed, err := s.seal.seal(purposeAdminSession, sess)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, msgUnavailable)
		return
	}
	s.setCookie(w, s.adminCookieName(), sealed, s.adminCookiePath(), s.cfg.SessionTTL)
	if err := admin.Audit(ctx, s.store, s.now(), admin.SessionActor(u.ID), "admin.login", u.ID, nil); err != nil {
		s.log.WarnContext(ctx, "admin console: audit login", "err", err)
	}
	http.Redirect(w, r, s.prefix+"/admin", http.StatusFound)
}

// redeemConsoleCode exchanges the console's code at this server's own token
// endpoint (in-process) and returns the verified ID token's subject.
func (s *Server) redeemConsoleCode(ctx context.Context, code string, l adminLogin) (string, error) {
	if code == "" {
		return "", errors.New("no code")
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {s.consoleRedirect()},
		"client_id": {admin.ConsoleClientID}, "code_verifier": {l.Verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.URL.Path = "/oauth/token" // as the provider sees it behind the issuer's path
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := &memWriter{h: http.Header{}}
	s.provider.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		return "", fmt.Errorf("token endpoint answered %d: %s", rec.status, truncate(rec.body.String(), 200))
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &tok); err != nil || tok.IDToken == "" {
		return "", errors.New("token response without id_token")
	}
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, tok.IDToken, s.provider.IDTokenHintVerifier(ctx))
	if err != nil {
		return "", fmt.Errorf("verify ID token: %w", err)
	}
	if !slices.Contains(claims.Audience, admin.ConsoleClientID) || claims.Nonce != l.Nonce || claims.Subject == "" {
		return "", errors.New("ID token not for this login")
	}
	return claims.Subject, nil
}

// memWriter collects an in-process answer.
type memWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (m *memWriter) Header() http.Header { return m.h }
func (m *memWriter) WriteHeader(code int) {
	if m.status == 0 {
		m.status = code
	}
}
func (m *memWriter) Write(p []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	return m.body.Write(p)
}

// adminSession returns the request's live console session.
func (s *Server) adminSession(r *http.Request) (adminSessionData, bool) {
	var d adminSessionData
	c, err := s.cookie(r, s.adminCookieName())
	if err != nil || s.seal.open(purposeAdminSession, c.Value, &d) != nil || d.Sub == "" || s.now().Unix() > d.Exp {
		return adminSessionData{}, false
	}
	return d, true
}

// handleAdminLogout ends the console session (the SSO session stays; the
// login page's logout ends that).
func (s *Server) handleAdminLogout(w http.ResponseWriter, r *http.Request) {
	s.clearCookie(w, s.adminCookieName(), s.adminCookiePath())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.prefix+"/admin", http.StatusSeeOther)
}
