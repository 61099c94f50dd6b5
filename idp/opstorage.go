package idp

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

// opStorage adapts the Server to zitadel/oidc's op.Storage. It is the only
// place that knows both op's types and storage's.
type opStorage struct{ s *Server }

var (
	_ op.Storage                        = opStorage{}
	_ op.CanSetUserinfoFromRequest      = opStorage{}
	_ op.CanGetPrivateClaimsFromRequest = opStorage{}
)

// ---- authorization requests (sealed, never stored) ----

func (o opStorage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	s := o.s
	c, err := s.clients.get(ctx, r.ClientID)
	if err != nil {
		return nil, err
	}
	if hasRequestURI(ctx) {
		return nil, &oidc.Error{ErrorType: "request_uri_not_supported", Description: "request_uri is not supported"}
	}
	if r.ResponseMode != "" && r.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	// The request travels sealed in a URL and a cookie: keep it small.
	if len(r.State) > maxStateLen || len(r.Nonce) > maxStateLen {
		return nil, oidc.ErrInvalidRequest().WithDescription("state and nonce must be at most 1024 characters")
	}
	if r.CodeChallenge != "" && r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256; plain is not supported")
	}
	if c.c.Public && r.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for this client")
	}
	a := newAuthRequest(r, hintSubject, s.now())
	if a.id, err = s.seal.seal(purposeAuthRequest, a); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return a, nil
}

func (o opStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	a, err := o.s.openAuthRequest(id)
	if err != nil || !a.Done() {
		return a, err
	}
	// op makes the code by encrypting GetID() (JWE, AES-256-GCM): give it
	// only what the token endpoint needs, so the code stays short.
	if a.id, err = a.codePayload(); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return a, nil
}

func (o opStorage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	a, err := o.s.openCode(code)
	if err != nil {
		return nil, err
	}
	if a.Legacy {
		return nil, errors.New("a legacy API code is redeemed at /dingtalk/token only")
	}
	return a, nil
}

// openCode opens an authorization code: the completed request it carries.
func (s *Server) openCode(code string) (*authRequest, error) {
	payload, err := s.crypto.Decrypt(code)
	if err != nil {
		return nil, errors.New("code does not decrypt")
	}
	a := new(authRequest)
	if err := json.Unmarshal([]byte(payload), a); err != nil || !a.Done() {
		return nil, errors.New("code holds no completed request")
	}
	if s.now().After(time.Unix(a.DoneAt, 0).Add(s.cfg.CodeTTL)) {
		return nil, errors.New("code expired")
	}
	a.id = payload
	// Every code made from one completed login shares this hash, so only
	// one of them is ever redeemed (and a second counts as code reuse).
	a.codeHash = hash("code:" + a.Nonce)
	return a, nil
}

// SaveAuthCode has nothing to save: the code is the encrypted request, and
// its single use is enforced when it is redeemed.
func (o opStorage) SaveAuthCode(context.Context, string, string) error { return nil }

// DeleteAuthRequest has nothing to delete (see authRequest).
func (o opStorage) DeleteAuthRequest(context.Context, string) error { return nil }

// ---- tokens ----

func (o opStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	g, err := o.s.redeem(ctx, a, false)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := o.s.now().Add(o.s.cfg.AccessTokenTTL)
	o.s.metrics.tokenIssued(grantCode)
	return tokenID(g.ID, 0, exp), exp, nil
}

func (o opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	s := o.s
	exp := s.now().Add(s.cfg.AccessTokenTTL)
	switch r := req.(type) {
	case *authRequest:
		g, err := s.redeem(ctx, r, true)
		if err != nil {
			return "", "", time.Time{}, err
		}
		s.metrics.tokenIssued(grantCode)
		return tokenID(g.ID, 0, exp), r.refreshToken, exp, nil
	case *refreshRequest:
		token, gen, err := s.refreshTokens(ctx, r)
		if err != nil {
			return "", "", time.Time{}, err
		}
		s.metrics.tokenIssued(grantRefresh)
		return tokenID(r.grant.ID, gen, exp), token, exp, nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (o opStorage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s := o.s
	now := s.now()
	grantID, _, ok := parseTokenID(tokenOrID)
	if !ok {
		return nil // RFC 7009: unknown tokens are not an error
	}
	g, _, err := s.store.GetGrant(ctx, grantID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // RFC 7009: unknown tokens are not an error
	}
	if err != nil {
		noteUnavailable(ctx, err)
		return oidc.ErrServerError().WithParent(err)
	}
	if g.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	if err := s.store.RevokeGrant(ctx, g.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
		noteUnavailable(ctx, err)
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// TerminateSession is not used: dingoidc serves end_session itself.
func (o opStorage) TerminateSession(context.Context, string, string) error { return nil }

// ---- keys ----

func (o opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return o.s.keys.SigningKey(ctx)
}

func (o opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (o opStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	return o.s.keys.KeySet(ctx)
}

// ---- clients ----

func (o opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	return o.s.clients.get(ctx, id)
}

func (o opStorage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := o.s.clients.get(ctx, id)
	if err != nil {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	if c.checkSecret(secret) {
		return nil
	}
	// op URL-decodes Basic credentials (RFC 6749 §2.3.1); Nextcloud and
	// JumpServer send them raw. Accept the raw form too.
	if raw, ok := rawBasicSecret(ctx); ok && c.checkSecret(raw) {
		return nil
	}
	o.s.log.InfoContext(ctx, "client authentication failed", "client_id", id)
	return oidc.ErrInvalidClient().WithDescription("client authentication failed")
}

// ---- claims ----

// SetUserinfoFromScopes does nothing: claims are set from the request (the
// grant carries the user's claims), see SetUserinfoFromRequest.
func (o opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (o opStorage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	switch r := req.(type) {
	case *authRequest:
		setUserinfo(ui, r.Subject, r.claims, scopes)
	case *refreshRequest:
		setUserinfo(ui, r.grant.UserID, r.claims, scopes)
	}
	return nil
}

func (o opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	g, u, _, err := o.s.liveGrant(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	setUserinfo(ui, g.UserID, decodeClaims(u.Claims), g.Scopes)
	return nil
}

// SetIntrospectionFromToken answers the client a live token was issued to
// (authenticated by op before this is called); for any other client the
// token is {"active": false}, so one app cannot read another's users
// through their tokens. There is no list of resource servers per client:
// an API that checks tokens introspects with the credentials of the app
// the token was issued to (docs/architecture.md, Token flows).
func (o opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	g, u, exp, err := o.s.liveGrant(ctx, tokenID, subject)
	if err != nil {
		noteUnavailable(ctx, err) // 503, not a false "active": false
		return err                // op answers {"active": false}
	}
	if g.ClientID != clientID {
		o.s.log.InfoContext(ctx, "introspection of another client's token refused", "client_id", clientID, "token_client_id", g.ClientID)
		return errInvalidToken("token of another client")
	}
	resp.Expiration = oidc.FromTime(exp)
	ui := new(oidc.UserInfo)
	setUserinfo(ui, g.UserID, decodeClaims(u.Claims), g.Scopes)
	resp.SetUserInfo(ui)
	resp.Active = true
	resp.Scope = g.Scopes
	resp.ClientID = g.ClientID
	resp.Audience = g.Audience
	resp.Subject = g.UserID
	resp.TokenType = oidc.BearerToken
	return nil
}

func (o opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest adds nothing to JWT access tokens: they carry
// iss, sub, aud, exp, iat, jti and client_id only (small, and no personal
// data in a bearer token).
func (o opStorage) GetPrivateClaimsFromRequest(context.Context, op.TokenRequest, []string) (map[string]any, error) {
	return nil, nil
}

func (o opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("jwt profile is not supported")
}

func (o opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("jwt profile is not supported")
}

func (o opStorage) Health(ctx context.Context) error { return o.s.store.Ping(ctx) }
