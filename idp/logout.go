package idp

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

// handleEndSession is RP-initiated logout (docs/relying-parties.md, L1, L2): end the
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
	if c, err := s.cookie(r, cookieSession); err == nil && c.Value != "" {
		// Without a valid id_token_hint the request may come from any site
		// (a link, an image): ask the person before ending the session and
		// revoking what every app got through it (RP-Initiated Logout §2).
		confirmed := r.Method == http.MethodPost && hmac.Equal([]byte(f.Get("confirm")), []byte(s.logoutToken(c.Value)))
		// A hint only stands for the person when it names this session's
		// user: anybody holds some signed ID token of their own.
		var sess *storage.Session // read once, for the hint and the sign-in log
		if hinted && !confirmed {
			var ok bool
			sess, ok = s.currentSession(ctx, r)
			hinted = ok && sess.UserID == hintSub
		}
		if !hinted && !confirmed {
			s.logoutConfirmPage(w, r, s.logoutToken(c.Value), f, hintValid)
			return
		}
		s.endSession(ctx, r, c.Value, clientID, sess)
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
