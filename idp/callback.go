package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

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
		s.metrics.loginRefused(upID, "", refusedBadState)
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	var ls loginState
	cookieName := cookieLogin + nonce[:10]
	ck, err := s.cookie(r, cookieName)
	if err != nil || s.seal.open(purposeLogin, ck.Value, &ls) != nil || ls.Nonce != nonce || ls.Upstream != upID {
		// The scan was started in another browser (or the cookie expired):
		// it must not log this browser in.
		log.InfoContext(ctx, "upstream callback without this browser's login cookie")
		s.metrics.loginRefused(upID, "", refusedOtherBrowser)
		s.errorPage(w, r, http.StatusBadRequest, msgOtherBrowser)
		return
	}
	a := &ls.Auth
	if s.checkAge(a) != nil || a.Done() || s.now().Unix() > ls.Exp {
		s.metrics.loginRefused(upID, a.ClientID, refusedExpired)
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	log = log.With("client_id", a.ClientID)
	if e := r.Form.Get("error"); e != "" {
		log.InfoContext(ctx, "upstream reported an error", "upstream_error", truncate(e, 64))
		s.metrics.loginRefused(upID, a.ClientID, refusedDenied)
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the login was cancelled at the upstream"), s.provider)
		return
	}

	// The state drives one code exchange: claimed before the upstream is
	// asked, so one state and its cookie cannot drive unlimited upstream
	// calls with made-up codes (issue 11). A failed exchange ends the
	// attempt (the error page's one click starts a new one); only an
	// unreachable upstream gives the state back, so reloading the callback
	// after an outage retries.
	stateHash := hash(nonce)
	if err := s.store.ClaimLoginState(ctx, stateHash, time.Unix(ls.Exp, 0)); err != nil {
		s.claimFailure(w, r, log, a, upID, err)
		return
	}
	ident, err := p.Exchange(ctx, r.Form, s.upstreamReturnURL(a, upID))
	s.health.record(upID, s.now(), err) // admin API: GET /upstreams
	if !keepLoginCookie(err) {
		s.clearCookie(w, cookieName, s.prefix+"/login/")
	}
	if err != nil {
		if keepLoginCookie(err) { // the one rule for "retry this callback"
			if rerr := s.store.ReleaseLoginState(ctx, stateHash); rerr != nil {
				log.WarnContext(ctx, "release login state", "err", rerr)
			}
		}
		s.upstreamFailure(w, r, log, a, upID, err)
		return
	}
	claims, err := entry.mapper.Map(ident)
	if err != nil {
		log.ErrorContext(ctx, "map claims", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedClaims)
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	raw, _ := encodeClaims(claims)
	now := s.now()
	sub := subject(entry, ident.ExternalID)
	sid := randomString(32)
	amr := ident.AMR
	if len(amr) == 0 {
		amr = []string{"qr"}
	}
	sess := &storage.Session{
		IDHash: hash(sid), Upstream: upID, AuthTime: now, AMR: amr,
		ExpiresAt: now.Add(s.cfg.SessionTTL), LoginStateHash: stateHash, CreatedAt: now,
	}
	// The user and its session in one statement on postgres (a first login
	// costs at most 4, issue 10): no session for a disabled user, nothing
	// written when the state was used before.
	user, err := s.store.UpsertUserAndCreateSession(ctx, &storage.User{
		ID: sub, Upstream: upID, ExternalID: ident.ExternalID, Claims: raw,
		CreatedAt: now, UpdatedAt: now, LastLoginAt: now,
	}, sess)
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// err names the constraint: the login state, or (rarely) the
			// subject taken by another person.
			log.InfoContext(ctx, "upstream state used twice", "user_id", sub, "err", err)
			s.metrics.loginRefused(upID, a.ClientID, refusedStateReused)
			s.errorPageFor(w, r, a, http.StatusBadRequest, msgLoginInvalid)
			return
		}
		noteUnavailable(ctx, err)
		if ctx.Err() != nil {
			log.InfoContext(ctx, "client went away during login", "err", err)
		} else {
			log.ErrorContext(ctx, "save user and session", "err", err)
		}
		s.metrics.loginRefused(upID, a.ClientID, refusedStorage)
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	sub = user.ID // the stored subject wins (it never changes for a person)
	if user.Disabled {
		log.InfoContext(ctx, "disabled user refused", "user_id", sub)
		s.metrics.loginRefused(upID, a.ClientID, refusedDisabled)
		s.errorPageFor(w, r, a, http.StatusForbidden, msgDisabled)
		s.recordSignIn(ctx, storage.SignInEvent{UserID: sub, ClientID: a.ClientID, Upstream: upID, Result: SignInRefused, Reason: ReasonDisabled})
		return
	}
	if a.HintSub != "" && a.HintSub != sub {
		// The app asked for the person of its id_token_hint; someone else
		// scanned (OIDC Core §3.1.2.2). The session just stored is never
		// handed to the browser: delete it (this refusal's one extra
		// statement).
		if err := s.store.DeleteSession(ctx, sess.IDHash, now); err != nil {
			log.WarnContext(ctx, "delete session of refused login", "err", err)
		}
		log.InfoContext(ctx, "scanned person differs from id_token_hint", "user_id", sub)
		s.metrics.loginRefused(upID, a.ClientID, refusedHintMismatch)
		op.AuthRequestError(w, r, a, oidc.ErrLoginRequired().WithDescription("a different person logged in than the id_token_hint names"), s.provider)
		s.recordSignIn(ctx, storage.SignInEvent{UserID: sub, ClientID: a.ClientID, Upstream: upID, Result: SignInRefused, Reason: ReasonHintMismatch})
		return
	}
	s.setCookie(w, cookieSession, sid, s.prefix+"/", s.cfg.SessionTTL)
	s.complete(w, r, a, signedIn{user: user, session: sess, browser: ls.Browser})
}

func (s *Server) upstreamFailure(w http.ResponseWriter, r *http.Request, log interface {
	InfoContext(context.Context, string, ...any)
	WarnContext(context.Context, string, ...any)
}, a *authRequest, upID string, err error) {
	ctx := r.Context()
	s.recordUpstreamRefusal(ctx, a, upID, err)
	if s.upstreamRefusal(w, r, log, a, upID, err) {
		return
	}
	switch {
	case errors.Is(err, upstream.ErrCodeInvalid):
		log.InfoContext(ctx, "upstream code expired or reused", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedCodeInvalid)
		s.retryPage(w, r, a, upID)
	case errors.Is(err, upstream.ErrNotAllowed):
		log.InfoContext(ctx, "person not allowed by upstream policy", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedNotAllowed)
		s.errorPageFor(w, r, a, http.StatusForbidden, msgNotAllowed)
	case errors.Is(err, upstream.ErrDenied):
		log.InfoContext(ctx, "login denied at upstream", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedDenied)
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied(), s.provider)
	default:
		log.WarnContext(ctx, "upstream exchange failed", "err", err)
		s.metrics.loginRefused(upID, a.ClientID, refusedUnavailable)
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

// complete is where every login ends: the client's access policy admits
// the person or refuses them (admit, policy.go), the sign-in log records
// it, and an admitted login is marked done for this browser and handed
// back to op, which issues the code.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, a *authRequest, in signedIn) {
	if !s.admit(w, r, a, in) {
		return
	}
	a.Nonce = randomString(16) // unique per completion: its codes share hash("code:"+Nonce)
	a.Subject = in.session.UserID
	a.AuthTime = in.session.AuthTime.Unix()
	a.AMR = in.session.AMR
	a.Session = in.session.IDHash
	a.Browser = in.browser
	a.DoneAt = s.now().Unix()
	if s.respondCompleted != nil {
		s.respondCompleted(w, r, a)
		return
	}
	// The code goes to the app from here: this request is the browser's
	// that started the login (its login or session cookie was checked),
	// so the completed request never travels through the browser to
	// /authorize/callback and back (one redirect fewer per login;
	// docs/performance.md). op encrypts GetID() into the code: what the
	// token endpoint needs (AuthRequestByID, opstorage.go, does the same).
	payload, err := a.codePayload()
	if err != nil {
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	a.id = payload
	op.AuthResponse(a, s.provider, w, r)
}

// truncate shortens an attacker-supplied value before it is logged
// (n runes at most).
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
