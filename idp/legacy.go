package idp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The legacy "DingTalk SSO" API (docs/integrations/legacy-dingtalk-sso.md):
// four endpoints under <issuer>/dingtalk/ that apps written for an older
// home-grown SSO service call, open only to clients with LegacyAPI.
//
// A legacy login is an ordinary authorization request marked Legacy: the
// chooser, the upstreams, SSO reuse and whatever runs at completion apply
// unchanged, and op (from complete, callback.go) sends the browser to the app's
// redirect_url with code and state. The code is the same sealed, single-use
// code as an OIDC one (redeem, tokens.go); the tokens are dingoidc's opaque
// access tokens and rotating refresh tokens (refresh.go), so logout, user
// disable and revocation stop them like OIDC tokens.

// legacyScopes are recorded on legacy grants: they choose the claims
// userinfo answers.
var legacyScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, ScopeGroups}

// maxLegacyBody bounds a token request body.
const maxLegacyBody = 16 << 10

// mountLegacyAPI registers the legacy endpoints.
func (s *Server) mountLegacyAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /dingtalk/authorize", s.handleLegacyAuthorize)
	mux.HandleFunc("GET /dingtalk/callback", s.handleLegacyCallback)
	mux.Handle("POST /dingtalk/token", noStore(http.HandlerFunc(s.handleLegacyToken)))
	mux.Handle("GET /dingtalk/userinfo", noStore(http.HandlerFunc(s.handleLegacyUserinfo)))
	mux.Handle("POST /dingtalk/userinfo", noStore(http.HandlerFunc(s.handleLegacyUserinfo)))
	mux.HandleFunc("/dingtalk/token", methodNotAllowed("POST"))
	mux.HandleFunc("/dingtalk/userinfo", methodNotAllowed("GET, POST"))
	mux.HandleFunc("/dingtalk/", jsonNotFound)
}

// handleLegacyAuthorize checks client_id and redirect_url and starts the
// normal login with a request marked Legacy.
func (s *Server) handleLegacyAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	clientID, redirect, state := q.Get("client_id"), q.Get("redirect_url"), q.Get("state")
	log := s.log.With("client_id", truncate(clientID, 64))
	c, err := s.clients.get(ctx, clientID)
	switch {
	case err != nil && errors.Is(err, errUnknownClient):
		log.InfoContext(ctx, "legacy authorize: unknown client")
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	case err != nil:
		log.WarnContext(ctx, "legacy authorize: read client", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return
	case !c.c.LegacyAPI:
		log.InfoContext(ctx, "legacy authorize: the client is not enabled for the legacy API (legacy_api)")
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	case redirect == "" || !slices.Contains(c.c.RedirectURIs, redirect):
		log.InfoContext(ctx, "legacy authorize: redirect_url is not registered for the client", "redirect_url", truncate(redirect, 200))
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	case len(state) > maxStateLen:
		log.InfoContext(ctx, "legacy authorize: state longer than 1024 characters")
		s.errorPage(w, r, http.StatusBadRequest, msgRequestExpired)
		return
	}
	if state == "" {
		state = randomString(16)
	}
	a := &authRequest{
		Nonce: randomString(9), Created: s.now().Unix(), ClientID: c.c.ID, Redirect: redirect,
		Scopes: legacyScopes, State: state, RespType: string(oidc.ResponseTypeCode), Legacy: true,
	}
	id, err := s.seal.seal(purposeAuthRequest, a)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, msgUnavailable)
		return
	}
	http.Redirect(w, r, c.LoginURL(id), http.StatusFound)
}

// upstreamReturnURL is where the upstream sends the browser back: for a
// legacy login <issuer>/dingtalk/callback?forward_url=…, the shape the old
// service used, otherwise /login/{upstream}/callback.
func (s *Server) upstreamReturnURL(a *authRequest, upID string) string {
	if !a.Legacy {
		return s.callbackURL(upID)
	}
	return s.cfg.Issuer + "/dingtalk/callback?" + url.Values{"forward_url": {a.Redirect}, "upstream": {upID}}.Encode()
}

// handleLegacyCallback is where a legacy login returns from the upstream.
// A return carrying dingoidc's signed state goes on to the ordinary
// upstream callback, which checks state and login cookie and completes the
// request (to the redirect_url checked at authorize; forward_url never
// chooses the target). Anything else (a link an old app built itself,
// with its own state) starts a fresh legacy login for the one legacy client
// that registered forward_url, keeping the app's state; the upstream code
// it carries is not used (it was not asked for by this browser).
func (s *Server) handleLegacyCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	forward := q.Get("forward_url")
	if _, ok := s.verifyState(q.Get("state")); ok {
		upID := q.Get("upstream")
		if upID == "" {
			upID = s.defaultLegacyUpstream()
		}
		if _, _, ok := s.upstreamFor(upID); !ok {
			s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
			return
		}
		q.Del("forward_url")
		q.Del("upstream")
		http.Redirect(w, r, s.prefix+"/login/"+url.PathEscape(upID)+"/callback?"+q.Encode(), http.StatusFound)
		return
	}
	clientID, ok := s.legacyClientFor(ctx, forward)
	if !ok {
		s.log.InfoContext(ctx, "legacy callback: forward_url is not the registered redirect URI of exactly one legacy client", "forward_url", truncate(forward, 200))
		s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	v := url.Values{"client_id": {clientID}, "redirect_url": {forward}}
	if st := q.Get("state"); st != "" && len(st) <= maxStateLen {
		v.Set("state", st)
	}
	http.Redirect(w, r, s.prefix+"/dingtalk/authorize?"+v.Encode(), http.StatusFound)
}

// defaultLegacyUpstream is the upstream a return without an upstream
// parameter came from: the DingTalk one, or the only one.
func (s *Server) defaultLegacyUpstream() string {
	var dt []string
	for _, id := range s.order {
		if s.upstreams[id].Provider.Type() == "dingtalk" {
			dt = append(dt, id)
		}
	}
	switch {
	case len(dt) == 1:
		return dt[0]
	case len(s.order) == 1:
		return s.order[0]
	}
	return ""
}

// legacyClientFor finds the one legacy client that registered uri.
func (s *Server) legacyClientFor(ctx context.Context, uri string) (string, bool) {
	if uri == "" {
		return "", false
	}
	byID, _, err := s.clients.snapshot(ctx)
	if err != nil {
		return "", false
	}
	found := ""
	for id, c := range byID {
		if c.c.LegacyAPI && slices.Contains(c.c.RedirectURIs, uri) {
			if found != "" {
				return "", false // ambiguous
			}
			found = id
		}
	}
	return found, found != ""
}

// legacyError is the JSON error legacy apps read.
func (s *Server) legacyError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		oe = oidc.ErrServerError().WithParent(err)
	}
	status := http.StatusBadRequest
	desc := oe.Description
	switch oe.ErrorType {
	case oidc.InvalidClient, "invalid_token":
		status = http.StatusUnauthorized
		if oe.ErrorType == "invalid_token" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
	case "temporarily_unavailable":
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		s.log.WarnContext(r.Context(), "legacy API: storage unavailable", "err", oe.Unwrap())
	case oidc.ServerError:
		status = http.StatusInternalServerError
		desc = "internal error"
		s.log.ErrorContext(r.Context(), "legacy API", "err", oe.Unwrap())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": string(oe.ErrorType), "error_description": desc})
}

// legacyForm reads the parameters whatever the Content-Type says: the body
// as a query string (text/plain, form or none), then the URL query.
func legacyForm(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLegacyBody+1))
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("could not read the request body")
	}
	if len(body) > maxLegacyBody {
		return nil, oidc.ErrInvalidRequest().WithDescription("request body too large")
	}
	f, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("the body must be a query string such as code=…&state=…")
	}
	for k, v := range r.URL.Query() {
		if _, ok := f[k]; !ok {
			f[k] = v
		}
	}
	return f, nil
}

// legacyClient authenticates the app: Basic credentials raw or
// URL-encoded (or client_id and client_secret in the body), and the
// client must have the legacy API enabled.
func (s *Server) legacyClient(ctx context.Context, r *http.Request, f url.Values) (*client, error) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	bad := oidc.ErrInvalidClient().WithDescription("client authentication failed")
	if id == "" {
		return nil, bad
	}
	c, err := s.clients.get(ctx, id)
	if err != nil && ok {
		if dec, derr := url.QueryUnescape(id); derr == nil && dec != id {
			c, err = s.clients.get(ctx, dec)
		}
	}
	switch {
	case err != nil && errors.Is(err, errUnknownClient):
		s.log.InfoContext(ctx, "legacy token: unknown client", "client_id", truncate(id, 64))
		return nil, bad
	case err != nil:
		return nil, err
	}
	good := c.checkSecret(secret)
	if !good {
		if dec, derr := url.QueryUnescape(secret); derr == nil && dec != secret {
			good = c.checkSecret(dec)
		}
	}
	if !good {
		s.log.InfoContext(ctx, "legacy token: client authentication failed", "client_id", c.c.ID)
		return nil, bad
	}
	if !c.c.LegacyAPI {
		s.log.InfoContext(ctx, "legacy token: the client is not enabled for the legacy API (legacy_api)", "client_id", c.c.ID)
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the legacy API is not enabled for this client")
	}
	return c, nil
}

// handleLegacyToken redeems a code or rotates a refresh token.
func (s *Server) handleLegacyToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := legacyForm(r)
	if err != nil {
		s.legacyError(w, r, err)
		return
	}
	c, err := s.legacyClient(ctx, r, f)
	if err != nil {
		s.legacyError(w, r, err)
		return
	}
	var access, refresh string
	var exp time.Time
	switch gt := f.Get("grant_type"); {
	case gt == "refresh_token" || (gt == "" && f.Get("code") == "" && f.Get("refresh_token") != ""):
		access, refresh, exp, err = s.legacyRefresh(ctx, c, f.Get("refresh_token"))
	case gt == "" || gt == string(oidc.GrantTypeCode):
		access, refresh, exp, err = s.legacyRedeem(ctx, c, f.Get("code"))
	default:
		err = oidc.ErrUnsupportedGrantType().WithDescription("grant_type must be authorization_code or refresh_token")
	}
	if err != nil {
		s.legacyError(w, r, err)
		return
	}
	ttl := int64(exp.Sub(s.now()).Round(time.Second).Seconds())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "expiry_in": ttl, "expires_in": ttl,
		"refresh_token": refresh, "token_type": "Bearer",
	})
}

func (s *Server) legacyRedeem(ctx context.Context, c *client, code string) (string, string, time.Time, error) {
	bad := oidc.ErrInvalidGrant().WithDescription("the code is invalid or expired")
	if code == "" {
		return "", "", time.Time{}, oidc.ErrInvalidRequest().WithDescription("code is required")
	}
	a, err := s.openCode(code)
	if err != nil {
		s.log.InfoContext(ctx, "legacy token: unusable code", "client_id", c.c.ID, "err", err)
		return "", "", time.Time{}, bad
	}
	if !a.Legacy || a.ClientID != c.c.ID {
		s.log.InfoContext(ctx, "legacy token: code of another client or of an OIDC login", "client_id", c.c.ID)
		return "", "", time.Time{}, bad
	}
	g, err := s.redeem(ctx, a, true)
	if err != nil {
		return "", "", time.Time{}, err
	}
	exp := s.now().Add(s.cfg.AccessTokenTTL)
	access, err := op.CreateBearerToken(tokenID(g.ID, 0, exp), g.UserID, s.crypto)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	return access, a.refreshToken, exp, nil
}

func (s *Server) legacyRefresh(ctx context.Context, c *client, token string) (string, string, time.Time, error) {
	// c is authenticated: reuse detection may act for it (refresh.go).
	ctx = context.WithValue(ctx, presenterKey{}, c.c.ID)
	req, err := opStorage{s}.TokenRequestByRefreshToken(ctx, token)
	if errors.Is(err, op.ErrInvalidRefreshToken) {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token invalid or expired")
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	rr := req.(*refreshRequest)
	if rr.grant.ClientID != c.c.ID {
		s.log.InfoContext(ctx, "legacy token: refresh token of another client", "client_id", c.c.ID)
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token invalid or expired")
	}
	next, gen, err := s.rotate(ctx, rr)
	if err != nil {
		return "", "", time.Time{}, err
	}
	exp := s.now().Add(s.cfg.AccessTokenTTL)
	access, err := op.CreateBearerToken(tokenID(rr.grant.ID, gen, exp), rr.grant.UserID, s.crypto)
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	return access, next, exp, nil
}

// handleLegacyUserinfo answers the person behind an access token sent bare
// or as "Bearer <token>": username (preferred_username), email (synthetic
// when the person has none) and the other claims of the grant.
func (s *Server) handleLegacyUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		token = r.URL.Query().Get("access_token")
	}
	if token == "" {
		s.legacyError(w, r, errInvalidToken("no access token in the Authorization header"))
		return
	}
	plain, err := s.crypto.Decrypt(token)
	id, sub, ok := strings.Cut(plain, ":")
	if err != nil || !ok {
		s.legacyError(w, r, errInvalidToken("access token expired or unknown"))
		return
	}
	g, u, _, err := s.liveGrant(ctx, id, sub)
	if err != nil {
		s.legacyError(w, r, err)
		return
	}
	if c, err := s.clients.get(ctx, g.ClientID); err != nil || !c.c.LegacyAPI {
		// An opaque OIDC token of an app without the legacy API.
		s.legacyError(w, r, errInvalidToken("the access token's client is not enabled for the legacy API"))
		return
	}
	ui := new(oidc.UserInfo)
	setUserinfo(ui, g.UserID, decodeClaims(u.Claims), g.Scopes)
	b, err := json.Marshal(ui)
	if err != nil {
		s.legacyError(w, r, oidc.ErrServerError().WithParent(err))
		return
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	out["username"] = ui.PreferredUsername
	if ui.PreferredUsername == "" {
		out["username"] = g.UserID
	}
	if ui.Email == "" {
		out["email"] = syntheticLocal(u.ExternalID) + "@" + u.Upstream + ".invalid"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
