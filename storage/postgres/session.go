package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

// sessionColumns are the sessions columns in sessionScan order, qualified by
// alias s.
const sessionColumns = `s.id_hash, s.user_id, s.upstream, s.auth_time, s.amr, s.expires_at,
	s.login_state_hash, s.created_at`

// CreateSession inserts a session. ErrConflict when its id or its login state
// hash exists (the upstream state is single-use); ErrNotFound when its user
// does not exist.
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO sessions (id_hash, user_id, upstream, auth_time, amr, expires_at, login_state_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`,
		sess.IDHash, sess.UserID, sess.Upstream, nullTime(sess.AuthTime), list(sess.AMR), sess.ExpiresAt,
		nullBytes(sess.LoginStateHash), sess.CreatedAt)
	if err != nil {
		return fmt.Errorf("create session: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create session: %w", storage.ErrConflict)
	}
	return nil
}

// GetSession returns the session live at now and its user, in one statement.
func (s *Store) GetSession(ctx context.Context, idHash []byte, now time.Time) (*storage.Session, *storage.User, error) {
	var sr sessionScan
	var ur userScan
	err := s.pool.QueryRow(ctx, `
		SELECT `+sessionColumns+`, `+userColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = $1 AND s.expires_at > $2`,
		idHash, now).Scan(append(sr.dest(), ur.dest()...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("get session: %w", mapErr(err))
	}
	if ur.u.Disabled {
		return nil, nil, fmt.Errorf("get session: %w", storage.ErrUserDisabled)
	}
	return sr.result(), ur.result(), nil
}

// DeleteSession deletes the session and revokes the grants issued under it,
// in one statement; ErrNotFound if the session does not exist (its grants, if
// any, are revoked all the same).
func (s *Store) DeleteSession(ctx context.Context, idHash []byte, now time.Time) error {
	var deleted, revoked int64
	err := s.pool.QueryRow(ctx, `
		WITH s AS (
			DELETE FROM sessions WHERE id_hash = $1 RETURNING 1
		), g AS (
			UPDATE grants SET revoked_at = $2 WHERE id IN (
				SELECT id FROM grants WHERE session_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE)
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM g)`,
		idHash, now).Scan(&deleted, &revoked)
	if err != nil {
		return fmt.Errorf("delete session: %w", mapErr(err))
	}
	s.stats.addWrites(deleted + revoked)
	if deleted == 0 {
		return fmt.Errorf("delete session: %w", storage.ErrNotFound)
	}
	return nil
}

// sessionScan receives the sessionColumns of one row.
type sessionScan struct {
	s        storage.Session
	authTime pgtype.Timestamptz
}

func (r *sessionScan) dest() []any {
	s := &r.s
	return []any{&s.IDHash, &s.UserID, &s.Upstream, &r.authTime, &s.AMR, &s.ExpiresAt, &s.LoginStateHash, &s.CreatedAt}
}

func (r *sessionScan) result() *storage.Session {
	r.s.AuthTime = utc(r.authTime)
	r.s.AMR = readList(r.s.AMR)
	r.s.ExpiresAt = r.s.ExpiresAt.UTC()
	r.s.CreatedAt = r.s.CreatedAt.UTC()
	return &r.s
}

// upsertUserAndCreateSessionSQL is UpsertUser's statement and
// CreateSession's in one: the session is inserted for the stored user unless
// it is disabled. Without ON CONFLICT, a used session id or login state fails
// the whole statement (unique_violation), so the user upsert is undone too.
const upsertUserAndCreateSessionSQL = `
	WITH u AS (
		INSERT INTO users AS u (id, upstream, external_id, claims, disabled, created_at, updated_at,
			last_login_at, last_checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (upstream, external_id) DO UPDATE
		SET claims = EXCLUDED.claims, updated_at = EXCLUDED.updated_at, last_login_at = EXCLUDED.last_login_at,
			last_checked_at = coalesce(EXCLUDED.last_checked_at, u.last_checked_at)
		RETURNING ` + userColumns + `
	), s AS (
		INSERT INTO sessions (id_hash, user_id, upstream, auth_time, amr, expires_at, login_state_hash, created_at)
		SELECT $9::bytea, u.id, $10::text, $11::timestamptz, $12::text[], $13::timestamptz, $14::bytea,
			$15::timestamptz
		FROM u WHERE NOT u.disabled
		RETURNING 1
	)
	SELECT ` + userColumns + `, (SELECT count(*) FROM s) FROM u`

// UpsertUserAndCreateSession upserts the user as UpsertUser does and creates
// the session for it as CreateSession does, in one statement; no session when
// the user is disabled, ErrConflict (and nothing written) when the session id
// or login state was used before.
func (s *Store) UpsertUserAndCreateSession(ctx context.Context, in *storage.User, sess *storage.Session) (*storage.User, error) {
	var r userScan
	var inserted int64
	run := func() error {
		return s.pool.QueryRow(ctx, upsertUserAndCreateSessionSQL,
			in.ID, in.Upstream, in.ExternalID, claims(in.Claims), in.Disabled,
			in.CreatedAt, in.UpdatedAt, nullTime(in.LastLoginAt),
			sess.IDHash, sess.Upstream, nullTime(sess.AuthTime), list(sess.AMR), sess.ExpiresAt,
			nullBytes(sess.LoginStateHash), sess.CreatedAt).Scan(append(r.dest(), &inserted)...)
	}
	err := run()
	if newUserRaced(err) {
		// The same new person's first login committed its row between our
		// arbiter check and our insert: now ON CONFLICT finds it.
		err = run()
	}
	if err != nil {
		return nil, fmt.Errorf("upsert user and create session: %w", mapErr(err))
	}
	s.stats.addWrites(1 + inserted) // the user row, and the session row unless disabled
	u := r.result()
	sess.UserID = u.ID
	return u, nil
}

// newUserRaced reports whether err is the users primary key violated by a
// concurrent insert of the same person: ON CONFLICT (upstream, external_id)
// only arbitrates that index, so a row committed by a concurrent first login
// while ours was being inserted fails on the id instead. Run again, the
// statement sees the row and updates it; a subject taken by another person
// fails the same way again (ErrConflict).
func newUserRaced(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "users_pkey"
}
