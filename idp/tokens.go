package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dingoidc/dingoidc/storage"
)

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
		s.metrics.codeReuse.Inc()
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

func errInvalidToken(desc string) *oidc.Error {
	return &oidc.Error{ErrorType: "invalid_token", Description: desc}
}
