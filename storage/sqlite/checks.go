package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const (
	qUserCheckedAt  = `SELECT checked_at FROM user_checks WHERE user_id = ?`
	qSetUserChecked = `INSERT INTO user_checks (user_id, checked_at)
		SELECT id, ? FROM users WHERE id = ?
		ON CONFLICT (user_id) DO UPDATE SET checked_at = excluded.checked_at`
)

// UserCheckedAt returns when the user was last checked with its upstream
// outside a login; zero when never.
func (s *Store) UserCheckedAt(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := s.queryRow(ctx, s.db, qUserCheckedAt, id).Scan((*timeCol)(&at))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, mapErr("user checked at", err)
	}
	return at, nil
}

// SetUserChecked records a check of the user at at, in one statement;
// ErrNotFound when there is no such user.
func (s *Store) SetUserChecked(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, s.db, qSetUserChecked, timeArg(at), id)
	if err != nil {
		return mapErr("set user checked", err)
	}
	if n == 0 {
		return errorf("set user checked", storage.ErrNotFound)
	}
	return nil
}
