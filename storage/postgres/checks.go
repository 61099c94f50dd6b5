package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
)

// UserCheckedAt returns when the user was last checked with its upstream
// outside a login; zero when never.
func (s *Store) UserCheckedAt(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT checked_at FROM user_checks WHERE user_id = $1`, id).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("user checked at: %w", mapErr(err))
	}
	return at.UTC(), nil
}

// SetUserChecked records a check of the user at at, in one statement;
// ErrNotFound when there is no such user.
func (s *Store) SetUserChecked(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO user_checks (user_id, checked_at)
		SELECT id, $2 FROM users WHERE id = $1
		ON CONFLICT (user_id) DO UPDATE SET checked_at = EXCLUDED.checked_at`, id, at)
	if err != nil {
		return fmt.Errorf("set user checked: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set user checked %q: %w", id, storage.ErrNotFound)
	}
	return nil
}
