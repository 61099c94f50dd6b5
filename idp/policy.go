package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/web"
)

// Access policies per client (storage.Client.AllowedGroups,
// AllowedTenants; README "Access policies"):
//
//   - allowed_groups admits a person when one of the strings of their
//     `groups` claim equals one of the list's (exactly, case and all);
//   - allowed_tenants admits a person whose `tenant_id` claim equals one
//     of the list's. 浙政钉 identities have it (the default claim template
//     gives tenantId, else realmId, as a decimal string); DingTalk
//     identities have none, so such a client refuses them;
//   - with both lists a person must pass both; an empty list admits
//     everyone.
//
// The claims are the person's as stored at their last login through any
// app (storage.User.Claims). The check runs when a login completes,
// through a scan or the SSO session (complete, for every flow), and at
// every refresh: someone moved out of the group loses the app at the first
// refresh after their next login anywhere, and everyone outside a policy
// an admin tightens loses it at their next refresh.

// purposeDenied seals the request the "back to the app" link of a
// refusal answers with access_denied.
const purposeDenied = "access-denied"

// policyRefusal is why client c refuses the person with claims: "" when
// it admits them, else ReasonPolicyGroups or ReasonPolicyTenants.
func policyRefusal(c *storage.Client, claims map[string]any) string {
	if len(c.AllowedGroups) > 0 && !slices.ContainsFunc(claimStrings(claims["groups"]), func(g string) bool {
		return slices.Contains(c.AllowedGroups, g)
	}) {
		return ReasonPolicyGroups
	}
	if len(c.AllowedTenants) > 0 {
		t := claimStrings(claims["tenant_id"])
		if len(t) != 1 || !slices.Contains(c.AllowedTenants, t[0]) {
			return ReasonPolicyTenants
		}
	}
	return ""
}

// claimStrings reads a claim as strings: a string, a number (written in
// decimal), or a list of them; anything else is none.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, claimStrings(x)...)
		}
		return out
	}
	return nil
}

// signedIn is a login about to complete: the person, the SSO session
// that vouches for them and the browser it is bound to.
type signedIn struct {
	user    *storage.User
	session *storage.Session
	browser []byte
	sso     bool // the SSO session was reused: no scan
}

// admit applies the client's access policy to a login that is about to
// complete, and records it. It reports whether the login may go on; when
// not, it has answered: a page that names the app and offers another
// account, or access_denied to the app for prompt=none.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, a *authRequest, in signedIn) bool {
	ctx := r.Context()
	ev := storage.SignInEvent{UserID: in.user.ID, ClientID: a.ClientID, Upstream: in.session.Upstream}
	log := s.log.With("client_id", a.ClientID, "user_id", in.user.ID, "upstream", in.session.Upstream)
	c, err := s.clients.get(ctx, a.ClientID)
	if err != nil {
		log.ErrorContext(ctx, "read the client to complete a login", "err", err)
		s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
		return false
	}
	claims := decodeClaims(in.user.Claims)
	if reason := policyRefusal(&c.c, claims); reason != "" {
		ev.Result, ev.Reason = SignInRefused, reason
		s.recordSignIn(ctx, ev)
		s.metrics.loginRefused(in.session.Upstream, a.ClientID, reason) // ReasonPolicy*: bounded
		log.InfoContext(ctx, "login refused by the client's access policy", "reason", reason, "sso", in.sso)
		s.refusedPage(w, r, a, c, claims, reason)
		return false
	}
	ev.Result = SignInSuccess
	if in.sso {
		ev.Result = SignInSSO
		s.metrics.loginSSO(in.session.Upstream, a.ClientID)
		log.InfoContext(ctx, "login through the SSO session")
	} else {
		s.metrics.loginCompleted(in.session.Upstream, a.ClientID)
		log.InfoContext(ctx, "login completed")
	}
	s.recordSignIn(ctx, ev)
	return true
}

// refusedPage tells the person the app will not have them. Going back to
// the app is the person's choice, not automatic: an app told access_denied
// at once shows its own terse error (Grafana: "Login failed"), and an app
// that starts a login whenever it has no session (oauth2-proxy, many
// gateways) would send the person straight back here through the SSO
// session, in a loop. The page names the app and the account, and offers
// a login with another account (a new scan, the SSO session not reused)
// or the way back, which gives the app access_denied. prompt=none gets
// access_denied at once: such a request must show no page.
func (s *Server) refusedPage(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, claims map[string]any, reason string) {
	if a.promptNone() {
		op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the person may not use this application"), s.provider)
		return
	}
	now := s.now()
	again := *a
	again.id, again.Prompt, again.Created = "", []string{oidc.PromptSelectAccount}, now.Unix()
	againID, err := s.seal.seal(purposeAuthRequest, &again)
	if err != nil {
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	back := *a
	back.id, back.Created = "", now.Unix()
	backID, err := s.seal.seal(purposeDenied, &back)
	if err != nil {
		s.errorPageFor(w, r, a, http.StatusInternalServerError, msgUnavailable)
		return
	}
	person := ""
	for _, k := range []string{"name", "preferred_username"} {
		if v := claimStrings(claims[k]); len(v) == 1 {
			person = v[0]
			break
		}
	}
	s.renderRefused(w, r, a, c, refusal{reason: reason, person: person,
		switchAccount: s.prefix + "/login?" + url.Values{"id": {againID}, "inapp": {"0"}}.Encode(),
		back:          s.prefix + "/login/denied?" + url.Values{"id": {backID}}.Encode()})
}

// refusal is what the refusal page says and links to.
type refusal struct{ reason, person, switchAccount, back string }

func (s *Server) renderRefused(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, f refusal) {
	s.render(w, r, http.StatusForbidden, "refused", web.Page{Locale: s.locale(r, a), Title: "refused_title",
		Error: "refused_" + f.reason, Client: displayName(c), Data: map[string]any{
			"Message":       "refused_" + f.reason,
			"Person":        f.person,
			"SwitchAccount": f.switchAccount,
			"Back":          f.back,
			"RequestID":     RequestID(r.Context()),
		}})
}

// handleDenied is the refusal page's way back: access_denied at the
// app's redirect_uri (checked by op at /authorize, sealed since).
func (s *Server) handleDenied(w http.ResponseWriter, r *http.Request) {
	a := new(authRequest)
	if err := s.seal.open(purposeDenied, r.URL.Query().Get("id"), a); err != nil || s.checkAge(a) != nil || a.Done() {
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the person may not use this application"), s.provider)
}

// mountPolicy adds the routes of this file and branding.go.
func (s *Server) mountPolicy(mux *http.ServeMux) {
	mux.HandleFunc("GET /login/denied", s.handleDenied)
	mux.HandleFunc("GET /branding/logo", s.handleLogo)
}

// refreshTokens rotates a refresh token if the client's access policy
// still admits the person (their claims as of their last login); if not,
// the grant is revoked and the app gets invalid_grant.
func (s *Server) refreshTokens(ctx context.Context, r *refreshRequest) (string, int64, error) {
	g := r.grant
	log := s.log.With("client_id", g.ClientID, "user_id", g.UserID)
	c, err := s.clients.get(ctx, g.ClientID)
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) {
			return "", 0, err
		}
		return "", 0, storageError(err, "read client")
	}
	if reason := policyRefusal(&c.c, r.claims); reason != "" {
		if err := s.store.RevokeGrant(ctx, g.ID, s.now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return "", 0, storageError(err, "revoke a grant the access policy refuses")
		}
		s.recordSignIn(ctx, storage.SignInEvent{UserID: g.UserID, ClientID: g.ClientID, Upstream: r.upstream,
			Result: SignInRefreshRefused, Reason: reason})
		log.InfoContext(ctx, "refresh refused by the client's access policy; grant revoked", "reason", reason)
		return "", 0, oidc.ErrInvalidGrant().WithDescription("the person may no longer use this application")
	}
	token, gen, err := s.rotate(ctx, r)
	if err == nil {
		log.InfoContext(ctx, "tokens refreshed", "generation", gen)
	}
	return token, gen, err
}

// recordUpstreamRefusal records a login the upstream refused: the person
// is outside the allowed organisation, or cancelled. Other failures
// (expired codes, outages) are not refusals of a person.
func (s *Server) recordUpstreamRefusal(ctx context.Context, a *authRequest, upID string, err error) {
	ev := storage.SignInEvent{ClientID: a.ClientID, Upstream: upID, Result: SignInRefused}
	switch {
	case errors.Is(err, upstream.ErrNotAllowed):
		ev.Reason = ReasonUpstreamNotAllowed
	case errors.Is(err, upstream.ErrDenied):
		ev.Reason = ReasonUpstreamDenied
	default:
		return
	}
	s.recordSignIn(ctx, ev)
}

// endSession ends the browser's SSO session (revoking what it issued) at
// end_session, and records the logout of its person: sess when the caller
// has read it, else it is read here.
func (s *Server) endSession(ctx context.Context, r *http.Request, cookie, clientID string, sess *storage.Session) {
	ok := sess != nil
	if !ok {
		sess, ok = s.currentSession(ctx, r)
	}
	if err := s.store.DeleteSession(ctx, hash(cookie), s.now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		noteUnavailable(ctx, err)
		s.log.WarnContext(ctx, "end session", "err", err)
		return
	}
	if !ok {
		return // no live session: nothing ended
	}
	s.recordSignIn(ctx, storage.SignInEvent{UserID: sess.UserID, ClientID: clientID, Upstream: sess.Upstream, Result: SignInLogout})
	s.log.InfoContext(ctx, "logout: SSO session ended", "user_id", sess.UserID, "client_id", clientID, "upstream", sess.Upstream)
}
