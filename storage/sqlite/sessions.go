package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const (
	qCreateSession = `INSERT INTO sessions
		(id_hash, user_id, upstream, auth_time, amr, expires_at, login_state_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qGetSession = `SELECT s.id_hash, s.user_id, s.upstream, s.auth_time, s.amr,
			s.expires_at, s.login_state_hash, s.created_at, ` + userColumnsU + `
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ? AND s.expires_at > ?`
	qDeleteSession       = `DELETE FROM sessions WHERE id_hash = ?`
	qRevokeSessionGrants = `UPDATE grants SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL`
)

// CreateSession stores an SSO session; ErrConflict when its id or its login
// state was used before, ErrNotFound when its user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	_, err := s.exec(ctx, s.db, qCreateSession,
		sess.IDHash, sess.UserID, sess.Upstream, timeArg(sess.AuthTime), listArg(sess.AMR),
		timeArg(sess.ExpiresAt), blobArg(sess.LoginStateHash), timeArg(sess.CreatedAt))
	return mapErr("create session", err)
}

// GetSession returns the session live at now with its user, in one query;
// ErrNotFound when absent or expired, ErrUserDisabled when its user is.
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (*storage.Session, *storage.User, error) {
	const op = "get session"
	var (
		sess storage.Session
		u    storage.User
	)
	dest := append([]any{&sess.IDHash, &sess.UserID, &sess.Upstream, (*timeCol)(&sess.AuthTime),
		(*listCol)(&sess.AMR), (*timeCol)(&sess.ExpiresAt), &sess.LoginStateHash,
		(*timeCol)(&sess.CreatedAt)}, userDest(&u)...)
	err := s.queryRow(ctx, s.db, qGetSession, idHash, now.UnixNano()).Scan(dest...)
	if err != nil {
		return nil, nil, mapErr(op, err)
	}
	if u.Disabled {
		return nil, nil, errorf(op, storage.ErrUserDisabled)
	}
	return &sess, &u, nil
}

// DeleteSession removes a session and revokes the grants issued under it;
// ErrNotFound when there was no such session (its grants are revoked all
// the same).
func (s *Store) DeleteSession(ctx context.Context, idHash []byte, now time.Time) error {
	var deleted int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		deleted, err = s.exec(ctx, tx, qDeleteSession, idHash)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, qRevokeSessionGrants, timeArg(now), idHash)
		return err
	})
	if err != nil {
		return mapErr("delete session", err)
	}
	if deleted == 0 {
		return errorf("delete session", storage.ErrNotFound)
	}
	return nil
}

// UpsertUserAndCreateSession upserts the user as UpsertUser does and creates
// the session for it as CreateSession does, in one transaction; no session
// when the user is disabled, ErrConflict (and the user upsert rolled back)
// when the session id or login state was used before.
func (s *Store) UpsertUserAndCreateSession(ctx context.Context, u *storage.User, sess *storage.Session) (*storage.User, error) {
	var out storage.User
	var op string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		op = "upsert user"
		if err := s.writeRow(ctx, tx, qUpsertUser,
			[]any{u.ID, u.Upstream, u.ExternalID, jsonArg(u.Claims), u.Disabled,
				timeArg(u.CreatedAt), timeArg(u.UpdatedAt), timeArg(u.LastLoginAt)},
			userDest(&out)...); err != nil {
			return err
		}
		sess.UserID = out.ID
		if out.Disabled {
			return nil
		}
		op = "create session"
		_, err := s.exec(ctx, tx, qCreateSession,
			sess.IDHash, sess.UserID, sess.Upstream, timeArg(sess.AuthTime), listArg(sess.AMR),
			timeArg(sess.ExpiresAt), blobArg(sess.LoginStateHash), timeArg(sess.CreatedAt))
		return err
	})
	if err != nil {
		if op == "" {
			op = "upsert user and create session"
		}
		return nil, mapErr(op, err)
	}
	return &out, nil
}
