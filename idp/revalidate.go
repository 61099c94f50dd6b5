package idp

import (
	"context"
	"errors"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

// DefaultRevalidateAfter is how long after a person's last upstream check
// (their login, or a check at a refresh) a refresh checks them again, when
// UpstreamConfig.RevalidateAfter is zero.
const DefaultRevalidateAfter = time.Hour

// revalidate checks, at a refresh of grant g, that the person u is still
// allowed upstream when their last check is older than the upstream's
// RevalidateAfter and the upstream can tell (upstream.Revalidator). A
// person gone or disabled upstream loses the grant (invalid_grant); when
// the upstream cannot tell (unreachable, no data to look them up by) the
// grant is kept and the log says so.
func (s *Server) revalidate(ctx context.Context, g *storage.Grant, u *storage.User) error {
	entry := s.upstreams[u.Upstream]
	if entry == nil {
		return nil
	}
	rv, ok := entry.Provider.(upstream.Revalidator)
	if !ok {
		return nil
	}
	after := entry.RevalidateAfter
	if after <= 0 {
		after = DefaultRevalidateAfter
	}
	now := s.now()
	// LastCheckedAt moves with every login (UpsertUser) and every check
	// here (SetUserChecked); it comes with the grant's user, so deciding
	// costs no statement.
	checked := u.LastCheckedAt
	if checked.Before(u.LastLoginAt) {
		checked = u.LastLoginAt
	}
	if now.Sub(checked) < after {
		return nil
	}
	log := s.log.With("upstream", u.Upstream, "user_id", u.ID, "client_id", g.ClientID)
	err := rv.Revalidate(ctx, upstream.Person{ExternalID: u.ExternalID, Claims: decodeClaims(u.Claims)})
	switch {
	case err == nil:
		if err := s.store.SetUserChecked(ctx, u.ID, now); err != nil {
			log.WarnContext(ctx, "could not record the upstream check", "err", err)
		}
		return nil
	case errors.Is(err, upstream.ErrNotAllowed):
		if err := s.store.RevokeGrant(ctx, g.ID, now); err != nil {
			return storageError(err, "revoke the grant of a leaver")
		}
		s.audit(ctx, "system", "grant.revoke_upstream_leaver", g.ID, map[string]any{"client_id": g.ClientID, "user_id": u.ID})
		log.InfoContext(ctx, "person gone or disabled upstream; grant revoked at refresh", "err", err)
		s.recordSignIn(ctx, storage.SignInEvent{UserID: u.ID, ClientID: g.ClientID, Upstream: u.Upstream, Result: SignInRefreshRefused, Reason: ReasonUpstreamLeaver})
		return oidc.ErrInvalidGrant().WithDescription("the person may no longer log in")
	default:
		log.WarnContext(ctx, "could not check the person with the upstream; keeping the grant", "err", err)
		return nil
	}
}
