package sqlite

import (
	"context"
	"time"
)

const (
	qClaimLoginState          = `INSERT INTO login_states (hash, expires_at) VALUES (?, ?)`
	qReleaseLoginState        = `DELETE FROM login_states WHERE hash = ?`
	qDeleteExpiredLoginStates = `DELETE FROM login_states WHERE expires_at <= ?`
)

// ClaimLoginState marks an upstream state used until expiresAt;
// ErrConflict when it was claimed before.
func (s *Store) ClaimLoginState(ctx context.Context, hash []byte, expiresAt time.Time) error {
	_, err := s.exec(ctx, s.db, qClaimLoginState, hash, timeArg(expiresAt))
	return mapErr("claim login state", err)
}

// ReleaseLoginState gives a claimed state back (absent: nothing to do).
func (s *Store) ReleaseLoginState(ctx context.Context, hash []byte) error {
	_, err := s.exec(ctx, s.db, qReleaseLoginState, hash)
	return mapErr("release login state", err)
}
