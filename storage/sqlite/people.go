package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const (
	qListUserSessions = `SELECT id_hash, user_id, upstream, auth_time, amr, expires_at,
			login_state_hash, created_at
		FROM sessions WHERE user_id = ? AND expires_at > ?
		ORDER BY created_at DESC, id_hash`
	qListUserGrants = `SELECT ` + grantColumns + ` FROM grants
		WHERE user_id = ? AND expires_at > ? AND revoked_at IS NULL
		ORDER BY created_at DESC, id`
	qUserExists = `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`
)

// ListUserSessions returns the user's sessions live at now, newest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error) {
	const op = "list user sessions"
	rows, err := s.query(ctx, s.db, qListUserSessions, userID, now.UnixNano())
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Session
	for rows.Next() {
		var sess storage.Session
		err := rows.Scan(&sess.IDHash, &sess.UserID, &sess.Upstream, (*timeCol)(&sess.AuthTime),
			(*listCol)(&sess.AMR), (*timeCol)(&sess.ExpiresAt), &sess.LoginStateHash,
			(*timeCol)(&sess.CreatedAt))
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// ListUserGrants returns the user's grants live at now and not revoked,
// newest first.
func (s *Store) ListUserGrants(ctx context.Context, userID string, now time.Time) ([]storage.Grant, error) {
	const op = "list user grants"
	rows, err := s.query(ctx, s.db, qListUserGrants, userID, now.UnixNano())
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.Grant
	for rows.Next() {
		var g storage.Grant
		if err := rows.Scan(grantDest(&g)...); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// RevokeUserSessions deletes the user's sessions and revokes its grants, in
// one immediate transaction, and returns how many it ended; ErrNotFound if
// the user is absent.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, now time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		var exists bool
		if err := s.queryRow(ctx, tx, qUserExists, userID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return sql.ErrNoRows
		}
		n, err := s.exec(ctx, tx, qDeleteUserSessions, userID)
		if err != nil {
			return err
		}
		total += n
		n, err = s.exec(ctx, tx, qRevokeUserGrants, timeArg(now), userID)
		total += n
		return err
	})
	if err != nil {
		return 0, mapErr("revoke user sessions", err)
	}
	return total, nil
}
