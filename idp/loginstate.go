package idp

import (
	"context"
	"errors"
	"net/http"

	"github.com/dingoidc/dingoidc/storage"
)

// claimFailure answers a callback whose state was claimed before (used, or
// its exchange failed) or could not be claimed (the database).
func (s *Server) claimFailure(w http.ResponseWriter, r *http.Request, log interface {
	InfoContext(context.Context, string, ...any)
	WarnContext(context.Context, string, ...any)
}, a *authRequest, upID string, err error) {
	ctx := r.Context()
	if errors.Is(err, storage.ErrConflict) {
		log.InfoContext(ctx, "upstream state used twice")
		s.metrics.loginRefused(upID, a.ClientID, refusedStateReused)
		s.errorPageFor(w, r, a, http.StatusBadRequest, msgLoginInvalid)
		return
	}
	noteUnavailable(ctx, err)
	log.WarnContext(ctx, "claim login state", "err", err)
	s.metrics.loginRefused(upID, a.ClientID, refusedStorage)
	s.errorPageFor(w, r, a, http.StatusServiceUnavailable, msgUnavailable)
}
