package idp

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// maxStateLen bounds state and nonce (Grafana's state is 44 characters).
const maxStateLen = 1024

// openAuthRequest opens a sealed auth request ID and checks its age.
func (s *Server) openAuthRequest(id string) (*authRequest, error) {
	a := new(authRequest)
	if err := s.seal.open(purposeAuthRequest, id, a); err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or altered authorization request")
	}
	if err := s.checkAge(a); err != nil {
		return nil, err
	}
	a.id = id
	return a, nil
}

// checkAge refuses an expired authorization request: a pending one after
// LoginTTL; a completed one, handed to op at once, after CodeTTL (the
// lifetime of the code it yields).
func (s *Server) checkAge(a *authRequest) error {
	now := s.now()
	if a.Done() {
		if now.After(time.Unix(a.DoneAt, 0).Add(s.cfg.CodeTTL)) {
			return oidc.ErrInvalidRequest().WithDescription("authorization request expired")
		}
	} else if now.After(time.Unix(a.Created, 0).Add(s.cfg.LoginTTL)) {
		return oidc.ErrInvalidRequest().WithDescription("authorization request expired")
	}
	return nil
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
	s := o.s
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
		return tokenID(g.ID, 0, exp), r.refreshToken, exp, nil
	case *refreshRequest:
		token, gen, err := s.rotate(ctx, r)
		if err != nil {
			return "", "", time.Time{}, err
		}
		return tokenID(r.grant.ID, gen, exp), token, exp, nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// tokenID is an access token's id (its jti, or the inside of an opaque
// token): the grant, the refresh generation and the expiry, so that an
// opaque token ends with its own lifetime even while its grant lives on.
func tokenID(grantID string, gen int64, exp time.Time) string {
	return grantID + "." + strconv.FormatInt(gen, 10) + "." + strconv.FormatInt(exp.Unix(), 10)
}

// parseTokenID returns the grant id and expiry of an access token id.
func parseTokenID(id string) (grantID string, exp time.Time, ok bool) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(sec, 0), true
}

// redeem turns a completed authorization request (found by its code) into a
// grant: one database statement that also consumes the code.
func (s *Server) redeem(ctx context.Context, a *authRequest, withRefresh bool) (*storage.Grant, error) {
	now := s.now()
	g := &storage.Grant{
		ID:        randomString(16),
		ClientID:  a.ClientID,
		UserID:    a.Subject,
		SessionID: a.Session,
		Scopes:    a.Scopes,
		Audience:  []string{a.ClientID},
		AuthTime:  a.GetAuthTime(),
		AMR:       a.AMR,
		CodeHash:  a.codeHash,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.AccessTokenTTL),
	}
	var secret string
	if withRefresh {
		g.RefreshID = randomString(16)
		secret = randomString(32)
		g.RefreshHash = hash(secret)
		g.RotatedAt = now
		g.ExpiresAt = now.Add(s.cfg.RefreshTTL)
	}
	user, err := s.store.CreateGrant(ctx, g)
	switch {
	case errors.Is(err, storage.ErrConflict):
		// The code was redeemed before: revoke what it produced (RFC 6749 §4.1.2).
		if rerr := s.store.RevokeGrantByCode(ctx, a.codeHash, now); rerr != nil && !errors.Is(rerr, storage.ErrNotFound) {
			s.log.ErrorContext(ctx, "revoke grant of reused code", "client_id", a.ClientID, "err", rerr)
		}
		s.log.WarnContext(ctx, "authorization code reused; its grant is revoked", "client_id", a.ClientID, "user_id", a.Subject)
		s.metrics.codeReuse.Add(1)
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code already used")
	case errors.Is(err, storage.ErrUserDisabled), errors.Is(err, storage.ErrNotFound):
		return nil, oidc.ErrInvalidGrant().WithDescription("user is disabled")
	case errors.Is(err, storage.ErrRevoked):
		return nil, oidc.ErrInvalidGrant().WithDescription("the login session ended before the code was redeemed")
	case err != nil:
		return nil, storageError(err, "redeem code")
	}
	a.claims = decodeClaims(user.Claims)
	if withRefresh {
		a.refreshToken = formatRefresh(g.RefreshID, 0, secret)
	}
	return g, nil
}

// storageError turns a storage failure into the OIDC error the client sees.
func storageError(err error, op string) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return (&oidc.Error{ErrorType: "temporarily_unavailable", Description: "the service is temporarily unavailable"}).WithParent(fmt.Errorf("%s: %w", op, err))
	}
	return oidc.ErrServerError().WithParent(fmt.Errorf("%s: %w", op, err))
}

func decodeClaims(b []byte) map[string]any {
	m := map[string]any{}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// ---- refresh tokens ----

// A refresh token is "<refresh id>.<generation>.<secret>". The database keeps
// the hashes of the current and previous secrets. The next secret is derived
// from the presented one with a server key, so two clients refreshing the
// same token at once both get the same new token, and a refresh repeated
// within the grace window answers the token already issued.

func formatRefresh(id string, gen int64, secret string) string {
	return id + "." + strconv.FormatInt(gen, 10) + "." + secret
}

func parseRefresh(token string) (id string, gen int64, secret string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", 0, "", false
	}
	gen, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || gen < 0 {
		return "", 0, "", false
	}
	return parts[0], gen, parts[2], true
}

func (s *Server) nextSecret(refreshID string, gen int64, secret string) string {
	return encodeB64(mac(s.refreshKey, refreshID, strconv.FormatInt(gen+1, 10), secret))
}

type refreshRequest struct {
	grant     *storage.Grant
	claims    map[string]any
	presented int64  // generation presented
	secret    string // presented secret
	scopes    []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string       { return r.grant.Audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.grant.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

func (o opStorage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	s := o.s
	id, gen, secret, ok := parseRefresh(token)
	if !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	now := s.now()
	g, u, err := s.store.GetGrantByRefreshID(ctx, id, now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, op.ErrInvalidRefreshToken
	case err != nil:
		return nil, storageError(err, "find refresh token")
	case g.Revoked():
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token revoked")
	case u.Disabled:
		return nil, oidc.ErrInvalidGrant().WithDescription("user is disabled")
	}
	h := hash(secret)
	switch {
	case gen == g.RefreshGeneration && slices.Equal(h, g.RefreshHash):
	case gen == g.RefreshGeneration-1 && slices.Equal(h, g.PrevRefreshHash) && !now.After(g.RotatedAt.Add(s.cfg.RefreshGrace)):
	case gen < g.RefreshGeneration && s.genuineRefresh(g, gen, secret):
		// A genuine token of an earlier generation: reuse of a rotated
		// token (RFC 9700 §4.14.2). Revoke everything. A made-up secret
		// never gets here, so nobody can revoke a grant by guessing.
		if err := s.store.RevokeGrant(ctx, g.ID, now); err != nil {
			return nil, storageError(err, "revoke reused refresh token")
		}
		s.audit(ctx, "system", "grant.revoke_refresh_reuse", g.ID, map[string]any{"client_id": g.ClientID, "user_id": g.UserID})
		s.log.WarnContext(ctx, "rotated refresh token reused; grant revoked", "client_id", g.ClientID, "user_id", g.UserID)
		s.metrics.refreshReuse.Add(1)
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	default:
		return nil, op.ErrInvalidRefreshToken
	}
	if err := s.revalidate(ctx, g, u); err != nil {
		return nil, err
	}
	return &refreshRequest{grant: g, claims: decodeClaims(u.Claims), presented: gen, secret: secret, scopes: g.Scopes}, nil
}

// maxRefreshChain bounds the derivation genuineRefresh does (one HMAC a
// generation; a token refreshed hourly for 90 days is ~2,200 generations).
const maxRefreshChain = 20000

// genuineRefresh reports whether secret really is the family's token of
// generation gen: deriving forward from it must reach the current hash.
func (s *Server) genuineRefresh(g *storage.Grant, gen int64, secret string) bool {
	steps := g.RefreshGeneration - gen
	if steps < 0 || steps > maxRefreshChain {
		return false
	}
	for i := gen; i < g.RefreshGeneration; i++ {
		secret = s.nextSecret(g.RefreshID, i, secret)
	}
	return hmac.Equal(hash(secret), g.RefreshHash)
}

// rotate moves the family one generation on, or, when another request did
// that already (concurrent refresh or a retry within the grace window),
// answers the token it produced.
func (s *Server) rotate(ctx context.Context, r *refreshRequest) (string, int64, error) {
	g := r.grant
	next := s.nextSecret(g.RefreshID, r.presented, r.secret)
	nextGen := r.presented + 1
	token := formatRefresh(g.RefreshID, nextGen, next)
	if r.presented == g.RefreshGeneration-1 {
		// Within the grace window (checked when the request was read).
		if slices.Equal(hash(next), g.RefreshHash) {
			return token, nextGen, nil
		}
		return "", 0, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	}
	now := s.now()
	_, err := s.store.RotateRefresh(ctx, storage.Rotation{
		RefreshID:      g.RefreshID,
		FromGeneration: r.presented,
		FromHash:       hash(r.secret),
		NewHash:        hash(next),
		Now:            now,
		ExpiresAt:      s.refreshExpiry(g, now),
	})
	switch {
	case err == nil:
		return token, nextGen, nil
	case errors.Is(err, storage.ErrConflict):
		// A concurrent refresh won; it derived the same token.
		cur, _, gerr := s.store.GetGrantByRefreshID(ctx, g.RefreshID, now)
		if gerr == nil && !cur.Revoked() && cur.RefreshGeneration == nextGen && slices.Equal(cur.RefreshHash, hash(next)) {
			return token, nextGen, nil
		}
		return "", 0, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrNotFound):
		return "", 0, oidc.ErrInvalidGrant().WithDescription("refresh token revoked")
	case errors.Is(err, storage.ErrUserDisabled):
		return "", 0, oidc.ErrInvalidGrant().WithDescription("user is disabled")
	default:
		return "", 0, storageError(err, "rotate refresh token")
	}
}

// refreshExpiry is when a family rotated at now ends: RefreshTTL after its
// last use, but never later than RefreshMaxTTL after the scan.
func (s *Server) refreshExpiry(g *storage.Grant, now time.Time) time.Time {
	exp := now.Add(s.cfg.RefreshTTL)
	start := g.AuthTime // the scan that began it
	if start.IsZero() {
		start = g.CreatedAt
	}
	if limit := start.Add(s.cfg.RefreshMaxTTL); exp.After(limit) {
		exp = limit
	}
	return exp
}

// GetRefreshTokenInfo identifies a refresh token for revocation: only a
// genuine token of the family (any generation) names its grant.
func (o opStorage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	id, gen, secret, ok := parseRefresh(token)
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	g, _, err := o.s.store.GetGrantByRefreshID(ctx, id, o.s.now())
	if err != nil || g.ClientID != clientID || !o.s.genuineRefresh(g, gen, secret) {
		return "", "", op.ErrInvalidRefreshToken
	}
	return g.UserID, tokenID(g.ID, g.RefreshGeneration, g.ExpiresAt), nil
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
		return oidc.ErrServerError().WithParent(err)
	}
	if g.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	if err := s.store.RevokeGrant(ctx, g.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
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

// SetIntrospectionFromToken answers any authenticated client (a resource
// server registered as a client) about a live token.
func (o opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	g, u, exp, err := o.s.liveGrant(ctx, tokenID, subject)
	if err != nil {
		return err // op answers {"active": false}
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

// liveGrant finds the grant behind an access token and checks it may still
// be used.
func (s *Server) liveGrant(ctx context.Context, tokenID, subject string) (*storage.Grant, *storage.User, time.Time, error) {
	grantID, exp, ok := parseTokenID(tokenID)
	now := s.now()
	if !ok || !now.Before(exp) {
		return nil, nil, time.Time{}, errInvalidToken("access token expired or unknown")
	}
	g, u, err := s.store.GetGrant(ctx, grantID, now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil, time.Time{}, errInvalidToken("access token expired or unknown")
	case err != nil:
		return nil, nil, time.Time{}, storageError(err, "find grant")
	case g.Revoked():
		return nil, nil, time.Time{}, errInvalidToken("access token revoked")
	case u.Disabled:
		return nil, nil, time.Time{}, errInvalidToken("user is disabled")
	case g.UserID != subject:
		return nil, nil, time.Time{}, errInvalidToken("access token invalid")
	}
	return g, u, exp, nil
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

func errInvalidToken(desc string) *oidc.Error {
	return &oidc.Error{ErrorType: "invalid_token", Description: desc}
}
