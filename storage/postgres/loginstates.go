package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// ClaimLoginState marks an upstream state used until expiresAt;
// ErrConflict when it was claimed before.
func (s *Store) ClaimLoginState(ctx context.Context, hash []byte, expiresAt time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO login_states (hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, hash, expiresAt)
	if err != nil {
		return fmt.Errorf("claim login state: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("claim login state: %w", storage.ErrConflict)
	}
	return nil
}

// ReleaseLoginState gives a claimed state back (absent: nothing to do).
func (s *Store) ReleaseLoginState(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_states WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("release login state: %w", mapErr(err))
	}
	return nil
}
