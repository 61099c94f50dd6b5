package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

// handleLogin is where op sends the person (client.LoginURL): reuse the SSO
// session if it may be, answer prompt=none, or send them to an upstream.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	a, err := s.openAuthRequest(q.Get("id"))
	if err != nil || a.Done() {
		s.metrics.loginRefused("", "", refusedExpired)
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	c, err := s.clients.get(ctx, a.ClientID)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	browser := s.browserBinding(w, r)

	if sess, user, ok := s.currentSessionUser(ctx, r); ok && s.sessionSatisfies(a, sess, c) {
		s.complete(w, r, a, signedIn{user: user, session: sess, browser: browser, sso: true})
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
	sess, _, ok := s.currentSessionUser(ctx, r)
	return sess, ok
}

// currentSessionUser is the browser's live SSO session and its person.
func (s *Server) currentSessionUser(ctx context.Context, r *http.Request) (*storage.Session, *storage.User, bool) {
	c, err := s.cookie(r, cookieSession)
	if err != nil || c.Value == "" {
		return nil, nil, false
	}
	sess, user, err := s.store.GetSession(ctx, hash(c.Value), s.now())
	if err != nil {
		noteUnavailable(ctx, err) // a 503 page, not a new scan that cannot finish
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrUserDisabled) {
			s.log.WarnContext(ctx, "read SSO session", "err", err)
		}
		return nil, nil, false
	}
	return sess, user, true
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
	req := upstream.LoginRequest{State: s.signState(nonce), RedirectURI: s.upstreamReturnURL(a, upID), Locale: s.locale(r, a)}
	target, err := p.LoginURL(ctx, req)
	if err != nil {
		s.log.ErrorContext(ctx, "build upstream login URL", "upstream", upID, "err", err)
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	s.setCookie(w, cookieLogin+nonce[:10], v, s.prefix+"/login/", s.cfg.LoginTTL)
	s.metrics.loginStarted(upID, c.c.ID)
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
