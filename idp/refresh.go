package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

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
	claims    map[string]any // the person's, as of their last login
	upstream  string
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
		noteUnavailable(ctx, err) // op makes any error here invalid_grant
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
	case gen < g.RefreshGeneration && presentingClient(ctx) != g.ClientID:
		// Another client presents this family's token: not its token, so
		// it proves no reuse by the owner and must not end the owner's
		// grant (op checks the owner only after this call). op has
		// authenticated the presenting client by now.
		return nil, op.ErrInvalidRefreshToken
	case gen < g.RefreshGeneration && s.genuineRefresh(g, gen, secret):
		// A genuine token of an earlier generation, presented by its
		// authenticated owner: reuse of a rotated token (RFC 9700
		// §4.14.2). Revoke everything. A made-up secret never gets here,
		// so nobody can revoke a grant by guessing.
		if err := s.store.RevokeGrant(ctx, g.ID, now); err != nil {
			noteUnavailable(ctx, err)
			return nil, storageError(err, "revoke reused refresh token")
		}
		s.audit(ctx, "system", "grant.revoke_refresh_reuse", g.ID, map[string]any{"client_id": g.ClientID, "user_id": g.UserID})
		s.log.WarnContext(ctx, "rotated refresh token reused; grant revoked", "client_id", g.ClientID, "user_id", g.UserID)
		s.metrics.refreshReuse.Inc()
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	default:
		return nil, op.ErrInvalidRefreshToken
	}
	if err := s.revalidate(ctx, g, u); err != nil {
		return nil, err
	}
	return &refreshRequest{grant: g, claims: decodeClaims(u.Claims), upstream: u.Upstream, presented: gen, secret: secret, scopes: g.Scopes}, nil
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
