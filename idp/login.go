package idp

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
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

// handleLogin is where op sends the person (client.LoginURL): reuse the SSO
// session if it may be, answer prompt=none, or send them to an upstream.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	a, err := s.openAuthRequest(q.Get("id"))
	if err != nil || a.Done() {
		s.metrics.loginFailed("request_expired")
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	c, err := s.clients.get(ctx, a.ClientID)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	browser := s.browserBinding(w, r)

	if sess, ok := s.currentSession(ctx, r); ok && s.sessionSatisfies(a, sess, c) {
		s.metrics.loginsSSO.Add(1)
		s.complete(w, r, a, sess.UserID, sess.AuthTime, sess.AMR, sess.IDHash, browser)
		return
	}
	if a.promptNone() {
		op.AuthRequestError(w, r, a, oidc.ErrLoginRequired().WithDescription("no SSO session"), s.provider)
		return
	}

	var allowed []string
	for _, id := range s.order {
		if c.allowsUpstream(id) {
			allowed = append(allowed, id)
		}
	}
	chosen := q.Get("upstream")
	if chosen == "" && len(allowed) == 1 {
		chosen = allowed[0]
	}
	if chosen == "" {
		chosen = s.inAppUpstream(r, allowed)
	}
	var keep url.Values // the in-app override, kept on the chooser's links
	if v := q.Get("inapp"); v == "0" || v == "1" {
		keep = url.Values{"inapp": {v}}
	}
	switch {
	case len(allowed) == 0:
		s.log.ErrorContext(ctx, "client allows no configured upstream", "client_id", c.c.ID)
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
	case chosen == "":
		s.chooserPage(w, r, a, c, allowed, keep)
	case !slices.Contains(allowed, chosen):
		s.errorPageFor(w, r, a, http.StatusBadRequest, msgNotAllowed)
	default:
		s.startUpstream(w, r, a, c, chosen, browser, len(allowed) > 1)
	}
}

func (s *Server) currentSession(ctx context.Context, r *http.Request) (*storage.Session, bool) {
	c, err := r.Cookie(cookieSession)
	if err != nil || c.Value == "" {
		return nil, false
	}
	sess, _, err := s.store.GetSession(ctx, hash(c.Value), s.now())
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrUserDisabled) {
			s.log.WarnContext(ctx, "read SSO session", "err", err)
		}
		return nil, false
	}
	return sess, true
}

// sessionSatisfies applies prompt=login, max_age and id_token_hint (A8).
func (s *Server) sessionSatisfies(a *authRequest, sess *storage.Session, c *client) bool {
	if slices.Contains(a.Prompt, oidc.PromptLogin) || slices.Contains(a.Prompt, oidc.PromptSelectAccount) {
		return false
	}
	if a.MaxAge != nil && s.now().Sub(sess.AuthTime) > time.Duration(*a.MaxAge)*time.Second {
		return false
	}
	if a.HintSub != "" && a.HintSub != sess.UserID {
		return false
	}
	return c.allowsUpstream(sess.Upstream)
}

func (s *Server) startUpstream(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, upID string, browser []byte, others bool) {
	ctx := r.Context()
	_, p, _ := s.upstreamFor(upID)
	nonce := randomString(16)
	ls := loginState{Auth: *a, Upstream: upID, Nonce: nonce, Browser: browser, Exp: s.now().Add(s.cfg.LoginTTL).Unix()}
	v, err := s.seal.seal(purposeLogin, ls)
	if err != nil {
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	req := upstream.LoginRequest{State: s.signState(nonce), RedirectURI: s.callbackURL(upID), Locale: s.locale(r, a)}
	target, err := p.LoginURL(ctx, req)
	if err != nil {
		s.log.ErrorContext(ctx, "build upstream login URL", "upstream", upID, "err", err)
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	s.setCookie(w, cookieLogin+nonce[:10], v, s.prefix+"/login/", s.cfg.LoginTTL)
	s.metrics.loginsStarted.Add(1)
	if script, corpID, ok := inAppScript(r, p); ok {
		fallback := s.prefix + "/login?" + url.Values{"id": {a.id}, "upstream": {upID}, "inapp": {"0"}}.Encode()
		s.inAppPage(w, r, a, c, inAppPage{app: p.Type(), script: script, corpID: corpID, state: req.State,
			callback: req.RedirectURI, fallback: fallback})
		return
	}
	if e, ok := p.(upstream.Embedder); ok && e.Embedded() {
		frame, origin, err := e.FrameURL(ctx, req)
		if err == nil {
			var back string
			if others {
				back = s.prefix + "/login?" + url.Values{"id": {a.id}}.Encode()
			}
			s.embedPage(w, r, a, c, embedPage{frame: frame, origin: origin, fullPage: target, state: req.State, callback: req.RedirectURI, others: back})
			return
		}
		s.log.WarnContext(ctx, "embedded QR unavailable; using the full page", "upstream", upID, "err", err)
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func (s *Server) callbackURL(upID string) string {
	return CallbackURL(s.cfg.Issuer, upID)
}

// handleUpstreamCallback finishes a scan: check the state against this
// browser's login cookie, exchange the code, upsert the user, open the SSO
// session (which consumes the state) and complete the auth request.
func (s *Server) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	upID := r.PathValue("upstream")
	entry, p, ok := s.upstreamFor(upID)
	if !ok {
		s.errorPage(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	log := s.log.With("upstream", upID)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	nonce, ok := s.verifyState(r.Form.Get("state"))
	if !ok {
		log.InfoContext(ctx, "upstream callback with a missing or forged state")
		s.metrics.loginFailed("bad_state")
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	var ls loginState
	cookieName := cookieLogin + nonce[:10]
	ck, err := r.Cookie(cookieName)
	if err != nil || s.seal.open(purposeLogin, ck.Value, &ls) != nil || ls.Nonce != nonce || ls.Upstream != upID {
		// The scan was started in another browser (or the cookie expired):
		// it must not log this browser in.
		log.InfoContext(ctx, "upstream callback without this browser's login cookie")
		s.metrics.loginFailed("other_browser")
		s.errorPage(w, r, http.StatusBadRequest, msgOtherBrowser)
		return
	}
	a := &ls.Auth
	if s.checkAge(a) != nil || a.Done() || s.now().Unix() > ls.Exp {
		s.metrics.loginFailed("request_expired")
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	log = log.With("client_id", a.ClientID)
	if e := r.Form.Get("error"); e != "" {
		log.InfoContext(ctx, "upstream reported an error", "upstream_error", truncate(e, 64))
		s.metrics.loginFailed("denied")
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the login was cancelled at the upstream"), s.provider)
		return
	}

	ident, err := p.Exchange(ctx, r.Form, s.callbackURL(upID))
	if !keepLoginCookie(err) {
		s.clearCookie(w, cookieName, s.prefix+"/login/")
	}
	if err != nil {
		s.upstreamFailure(w, r, log, a, upID, err)
		return
	}
	claims, err := entry.mapper.Map(ident)
	if err != nil {
		log.ErrorContext(ctx, "map claims", "err", err)
		s.metrics.loginFailed("claims")
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	raw, _ := encodeClaims(claims)
	now := s.now()
	sub := subject(entry, ident.ExternalID)
	user, err := s.store.UpsertUser(ctx, &storage.User{
		ID: sub, Upstream: upID, ExternalID: ident.ExternalID, Claims: raw,
		CreatedAt: now, UpdatedAt: now, LastLoginAt: now,
	})
	if err != nil {
		log.ErrorContext(ctx, "save user", "err", err)
		s.metrics.loginFailed("storage")
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	sub = user.ID // the stored subject wins (it never changes for a person)
	if user.Disabled {
		log.InfoContext(ctx, "disabled user refused", "user_id", sub)
		s.metrics.loginFailed("disabled")
		s.errorPageFor(w, r, a, http.StatusForbidden, msgDisabled)
		return
	}
	if a.HintSub != "" && a.HintSub != sub {
		// The app asked for the person of its id_token_hint; someone else
		// scanned (OIDC Core §3.1.2.2).
		log.InfoContext(ctx, "scanned person differs from id_token_hint", "user_id", sub)
		s.metrics.loginFailed("hint_mismatch")
		op.AuthRequestError(w, r, a, oidc.ErrLoginRequired().WithDescription("a different person logged in than the id_token_hint names"), s.provider)
		return
	}
	sid := randomString(32)
	amr := ident.AMR
	if len(amr) == 0 {
		amr = []string{"qr"}
	}
	sess := &storage.Session{
		IDHash: hash(sid), UserID: sub, Upstream: upID, AuthTime: now, AMR: amr,
		ExpiresAt: now.Add(s.cfg.SessionTTL), LoginStateHash: hash(nonce), CreatedAt: now,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			log.InfoContext(ctx, "upstream state used twice", "user_id", sub)
			s.metrics.loginFailed("state_reused")
			s.errorPageFor(w, r, a, http.StatusBadRequest, msgLoginInvalid)
			return
		}
		if ctx.Err() != nil {
			log.InfoContext(ctx, "client went away during login", "err", err)
		} else {
			log.ErrorContext(ctx, "create session", "err", err)
		}
		s.metrics.loginFailed("storage")
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	s.setCookie(w, cookieSession, sid, s.prefix+"/", s.cfg.SessionTTL)
	s.metrics.loginsCompleted.Add(1)
	log.InfoContext(ctx, "login completed", "user_id", sub)
	s.complete(w, r, a, sub, now, amr, sess.IDHash, ls.Browser)
}

func (s *Server) upstreamFailure(w http.ResponseWriter, r *http.Request, log interface {
	InfoContext(context.Context, string, ...any)
	WarnContext(context.Context, string, ...any)
}, a *authRequest, upID string, err error) {
	ctx := r.Context()
	if s.upstreamRefusal(w, r, log, a, upID, err) {
		return
	}
	switch {
	case errors.Is(err, upstream.ErrCodeInvalid):
		log.InfoContext(ctx, "upstream code expired or reused", "err", err)
		s.metrics.loginFailed("code_invalid")
		s.retryPage(w, r, a, upID)
	case errors.Is(err, upstream.ErrNotAllowed):
		log.InfoContext(ctx, "person not allowed by upstream policy", "err", err)
		s.metrics.loginFailed("not_allowed")
		s.errorPageFor(w, r, a, http.StatusForbidden, msgNotAllowed)
	case errors.Is(err, upstream.ErrDenied):
		log.InfoContext(ctx, "login denied at upstream", "err", err)
		s.metrics.loginFailed("denied")
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied(), s.provider)
	default:
		log.WarnContext(ctx, "upstream exchange failed", "err", err)
		s.metrics.loginFailed("upstream_unavailable")
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
	}
}

// subject is `<upstream id>_<stable key>` (or the bare key), colon-free
// because op's opaque tokens separate id and subject with a colon.
func subject(u *upstreamEntry, key string) string {
	key = strings.Map(func(r rune) rune {
		if r == ':' || r < 0x21 || r == 0x7f {
			return '-'
		}
		return r
	}, key)
	if u.BareSubject {
		return key
	}
	return u.ID + "_" + key
}

// complete marks the auth request done for this browser and hands it back
// to op, which issues the code.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, a *authRequest, sub string, authTime time.Time, amr []string, session, browser []byte) {
	a.Nonce = randomString(16) // unique per completion: its codes share hash("code:"+Nonce)
	a.Subject = sub
	a.AuthTime = authTime.Unix()
	a.AMR = amr
	a.Session = session
	a.Browser = browser
	a.DoneAt = s.now().Unix()
	id, err := s.seal.seal(purposeAuthRequest, a)
	if err != nil {
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	http.Redirect(w, r, s.prefix+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
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
			s.metrics.loginFailed("other_browser")
			s.errorPage(w, r, http.StatusBadRequest, msgOtherBrowser)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleEndSession is RP-initiated logout (RP-REQUIREMENTS L1, L2): end the
// SSO session in this browser, revoke what it issued, and go back to the app
// only to a post_logout_redirect_uri registered for it.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	f := r.Form
	clientID := f.Get("client_id")
	hintValid, hinted, hintSub := true, false, ""
	if hint := f.Get("id_token_hint"); hint != "" {
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, s.provider.IDTokenHintVerifier(ctx))
		var expired op.IDTokenHintExpiredError
		if err != nil && !errors.As(err, &expired) {
			s.log.InfoContext(ctx, "end_session with an invalid id_token_hint", "err", err)
			hintValid = false
		} else {
			azp := claims.AuthorizedParty
			if azp == "" && len(claims.Audience) > 0 {
				azp = claims.Audience[0]
			}
			if clientID != "" && clientID != azp {
				hintValid = false
			}
			clientID, hinted, hintSub = azp, hintValid, claims.Subject
		}
	}
	if f.Get("hint") == "invalid" { // carried through the confirmation form
		hintValid = false
	}
	if c, err := r.Cookie(cookieSession); err == nil && c.Value != "" {
		// Without a valid id_token_hint the request may come from any site
		// (a link, an image): ask the person before ending the session and
		// revoking what every app got through it (RP-Initiated Logout §2).
		confirmed := r.Method == http.MethodPost && hmac.Equal([]byte(f.Get("confirm")), []byte(s.logoutToken(c.Value)))
		// A hint only stands for the person when it names this session's
		// user: anybody holds some signed ID token of their own.
		if hinted && !confirmed {
			sess, ok := s.currentSession(ctx, r)
			hinted = ok && sess.UserID == hintSub
		}
		if !hinted && !confirmed {
			s.logoutConfirmPage(w, r, s.logoutToken(c.Value), f, hintValid)
			return
		}
		if err := s.store.DeleteSession(ctx, hash(c.Value), s.now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.WarnContext(ctx, "end session", "err", err)
		}
	}
	s.clearCookie(w, cookieSession, s.prefix+"/")

	target := f.Get("post_logout_redirect_uri")
	allowed := false
	if target != "" && hintValid {
		if clientID != "" {
			if c, err := s.clients.get(ctx, clientID); err == nil {
				allowed = slices.Contains(c.c.PostLogoutRedirectURIs, target)
			}
		} else {
			// GitLab sends only the URI: accept it when an app registered it.
			allowed = s.clients.postLogoutAllowed(ctx, target)
		}
	}
	if !allowed {
		s.loggedOutPage(w, r)
		return
	}
	if st := f.Get("state"); st != "" {
		u, _ := url.Parse(target)
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// logoutToken is the confirmation a logout form carries: bound to the
// session cookie, which another site can neither read nor guess.
func (s *Server) logoutToken(session string) string {
	return encodeB64(mac(s.cookieKey, "logout", session)[:16])
}

// truncate shortens an attacker-supplied value before it is logged
// (n runes at most).
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
