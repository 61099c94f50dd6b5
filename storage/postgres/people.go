package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
)

// ListUserSessions returns the user's sessions live at now, newest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.expires_at > $2
		ORDER BY s.created_at DESC, s.id_hash`, userID, now)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Session, error) {
		var r sessionScan
		err := row.Scan(r.dest()...)
		return *r.result(), err
	})
	if err != nil {
		return nil, fmt.Errorf("list user sessions: %w", mapErr(err))
	}
	return out, nil
}

// ListUserGrants returns the user's grants live at now and not revoked,
// newest first.
func (s *Store) ListUserGrants(ctx context.Context, userID string, now time.Time) ([]storage.Grant, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+grantColumns+` FROM grants g
		WHERE g.user_id = $1 AND g.expires_at > $2 AND g.revoked_at IS NULL
		ORDER BY g.created_at DESC, g.id`, userID, now)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Grant, error) {
		var r grantScan
		err := row.Scan(r.dest()...)
		return *r.result(), err
	})
	if err != nil {
		return nil, fmt.Errorf("list user grants: %w", mapErr(err))
	}
	return out, nil
}

// RevokeUserSessions deletes the user's sessions and revokes its live
// grants, in one statement (rows locked in key order, sessions first, as in
// SetUserDisabled), and returns how many it ended; ErrNotFound if the user
// is absent. As for DeleteSession, a code redeemed during this very
// statement can still yield a grant.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, now time.Time) (int64, error) {
	var found, deleted, revoked int64
	err := s.pool.QueryRow(ctx, `
		WITH s AS (
			DELETE FROM sessions WHERE id_hash IN (
				SELECT id_hash FROM sessions WHERE user_id = $1 ORDER BY id_hash FOR UPDATE)
			RETURNING 1
		), g AS (
			UPDATE grants SET revoked_at = $2 WHERE id IN (
				SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE)
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM users WHERE id = $1), (SELECT count(*) FROM s), (SELECT count(*) FROM g)`,
		userID, now).Scan(&found, &deleted, &revoked)
	if err != nil {
		return 0, fmt.Errorf("revoke user sessions: %w", mapErr(err))
	}
	s.stats.addWrites(deleted + revoked)
	if found == 0 {
		return 0, fmt.Errorf("revoke user sessions %q: %w", userID, storage.ErrNotFound)
	}
	return deleted + revoked, nil
}
