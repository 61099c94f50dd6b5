package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

// grantColumns are the grants columns in grantScan order, qualified by alias g.
const grantColumns = `g.id, g.client_id, g.user_id, g.session_id, g.scopes, g.audience, g.auth_time,
	g.amr, g.code_hash, g.refresh_id, g.refresh_generation, g.refresh_hash, g.prev_refresh_hash,
	g.rotated_at, g.created_at, g.expires_at, g.revoked_at`

// createGrantSQL redeems a code in one statement. The user row is read FOR
// SHARE, so a concurrent SetUserDisabled either commits first (and the grant
// is not created) or waits for this grant and then revokes it. The insert
// happens only for an enabled user; any unique conflict (code hash, grant id,
// refresh id) makes it insert nothing rather than fail. A grant for a session
// that ended (logout) is not inserted. (A logout racing this very statement
// can still miss the new grant; the window is the statement's duration.)
const createGrantSQL = `
	WITH u AS (
		SELECT ` + userColumns + ` FROM users u WHERE u.id = $3 FOR SHARE
	), s AS (
		SELECT $4::bytea IS NULL OR EXISTS (
			SELECT 1 FROM sessions WHERE id_hash = $4::bytea AND expires_at > $15::timestamptz) AS live
	), ins AS (
		INSERT INTO grants (id, client_id, user_id, session_id, scopes, audience, auth_time, amr,
			code_hash, refresh_id, refresh_generation, refresh_hash, prev_refresh_hash, rotated_at,
			created_at, expires_at, revoked_at)
		SELECT $1::text, $2::text, u.id, $4::bytea, $5::text[], $6::text[], $7::timestamptz,
			$8::text[], $9::bytea, $10::text, $11::bigint, $12::bytea, $13::bytea, $14::timestamptz,
			$15::timestamptz, $16::timestamptz, $17::timestamptz
		FROM u, s WHERE NOT u.disabled AND s.live
		ON CONFLICT DO NOTHING
		RETURNING 1
	)
	SELECT ` + userColumns + `, (SELECT count(*) FROM ins), s.live FROM u, s`

// CreateGrant redeems an authorization code: it inserts the grant and returns
// its user, in one statement. ErrConflict when the code (or the grant id or
// refresh id) exists, ErrUserDisabled when the user is disabled, ErrNotFound
// when it does not exist.
func (s *Store) CreateGrant(ctx context.Context, g *storage.Grant) (*storage.User, error) {
	var ur userScan
	var inserted int64
	var sessionLive bool
	err := s.pool.QueryRow(ctx, createGrantSQL,
		g.ID, g.ClientID, g.UserID, nullBytes(g.SessionID), list(g.Scopes), list(g.Audience),
		nullTime(g.AuthTime), list(g.AMR), nullBytes(g.CodeHash), nullText(g.RefreshID),
		g.RefreshGeneration, nullBytes(g.RefreshHash), nullBytes(g.PrevRefreshHash), nullTime(g.RotatedAt),
		g.CreatedAt, g.ExpiresAt, nullTime(g.RevokedAt),
	).Scan(append(ur.dest(), &inserted, &sessionLive)...)
	if err != nil {
		return nil, fmt.Errorf("create grant: %w", mapErr(err))
	}
	s.stats.addWrites(inserted)
	switch {
	case ur.u.Disabled:
		return nil, fmt.Errorf("create grant: %w", storage.ErrUserDisabled)
	case !sessionLive:
		return nil, fmt.Errorf("create grant: the session ended: %w", storage.ErrRevoked)
	case inserted == 0:
		return nil, fmt.Errorf("create grant: %w", storage.ErrConflict)
	}
	return ur.result(), nil
}

// RevokeGrantByCode revokes the grant an authorization code produced (a grant
// already revoked keeps its time). ErrNotFound if the code was never redeemed.
func (s *Store) RevokeGrantByCode(ctx context.Context, codeHash []byte, now time.Time) error {
	if len(codeHash) == 0 {
		return fmt.Errorf("revoke grant by code: %w", storage.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE grants SET revoked_at = coalesce(revoked_at, $2) WHERE code_hash = $1`, codeHash, now)
	if err != nil {
		return fmt.Errorf("revoke grant by code: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke grant by code: %w", storage.ErrNotFound)
	}
	return nil
}

// RevokeGrant revokes one grant (a grant already revoked keeps its time).
// ErrNotFound if it does not exist.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE grants SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("revoke grant: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke grant %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// GetGrant returns the grant unexpired at now and its user, in one statement.
// A revoked grant is returned with RevokedAt set.
func (s *Store) GetGrant(ctx context.Context, id string, now time.Time) (*storage.Grant, *storage.User, error) {
	g, u, err := s.getGrant(ctx, `g.id = $1`, id, now)
	if err != nil {
		return nil, nil, fmt.Errorf("get grant: %w", err)
	}
	return g, u, nil
}

// GetGrantByRefreshID returns the refresh family unexpired at now and its
// user, in one statement.
func (s *Store) GetGrantByRefreshID(ctx context.Context, refreshID string, now time.Time) (*storage.Grant, *storage.User, error) {
	if refreshID == "" {
		return nil, nil, fmt.Errorf("get grant by refresh id: %w", storage.ErrNotFound)
	}
	g, u, err := s.getGrant(ctx, `g.refresh_id = $1`, refreshID, now)
	if err != nil {
		return nil, nil, fmt.Errorf("get grant by refresh id: %w", err)
	}
	return g, u, nil
}

func (s *Store) getGrant(ctx context.Context, where string, key string, now time.Time) (*storage.Grant, *storage.User, error) {
	var gr grantScan
	var ur userScan
	err := s.pool.QueryRow(ctx, `
		SELECT `+grantColumns+`, `+userColumns+`
		FROM grants g JOIN users u ON u.id = g.user_id
		WHERE `+where+` AND g.expires_at > $2`,
		key, now).Scan(append(gr.dest(), ur.dest()...)...)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	return gr.result(), ur.result(), nil
}

// rotateSQL moves a refresh family one generation on if and only if the grant
// is live, not revoked, at the presented generation with the presented hash,
// and its user is enabled. Two concurrent rotations of one generation
// serialize on the row: the second re-checks the row the first committed,
// matches nothing and is told ErrConflict.
const rotateSQL = `
	UPDATE grants g SET
		refresh_generation = g.refresh_generation + 1,
		prev_refresh_hash = g.refresh_hash,
		refresh_hash = $4,
		rotated_at = $5,
		expires_at = coalesce($6, g.expires_at)
	FROM users u
	WHERE g.refresh_id = $1 AND g.refresh_generation = $2 AND g.refresh_hash = $3
		AND g.revoked_at IS NULL AND g.expires_at > $5
		AND u.id = g.user_id AND NOT u.disabled
	RETURNING ` + grantColumns

// RotateRefresh moves a refresh family to its next generation in one
// statement. Only when that matches nothing does a second statement tell
// ErrNotFound (absent or expired), ErrRevoked, ErrUserDisabled and
// ErrConflict (another generation or hash: someone rotated first) apart.
func (s *Store) RotateRefresh(ctx context.Context, r storage.Rotation) (*storage.Grant, error) {
	if r.RefreshID == "" || len(r.FromHash) == 0 {
		return nil, fmt.Errorf("rotate refresh: %w", storage.ErrNotFound)
	}
	var gr grantScan
	err := s.pool.QueryRow(ctx, rotateSQL,
		r.RefreshID, r.FromGeneration, r.FromHash, nullBytes(r.NewHash), r.Now, nullTime(r.ExpiresAt),
	).Scan(gr.dest()...)
	if err == nil {
		return gr.result(), nil
	}
	if err = mapErr(err); !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("rotate refresh: %w", err)
	}
	return nil, fmt.Errorf("rotate refresh: %w", s.whyNotRotated(ctx, r))
}

// whyNotRotated tells why rotateSQL matched nothing.
func (s *Store) whyNotRotated(ctx context.Context, r storage.Rotation) error {
	var (
		revokedAt pgtype.Timestamptz
		expiresAt time.Time
		disabled  bool
	)
	err := s.pool.QueryRow(ctx, `
		SELECT g.revoked_at, g.expires_at, u.disabled
		FROM grants g JOIN users u ON u.id = g.user_id
		WHERE g.refresh_id = $1`,
		r.RefreshID).Scan(&revokedAt, &expiresAt, &disabled)
	switch {
	case err != nil:
		return mapErr(err)
	case !expiresAt.After(r.Now):
		return storage.ErrNotFound
	case disabled: // before revoked: disabling a user revokes its grants
		return storage.ErrUserDisabled
	case revokedAt.Valid:
		return storage.ErrRevoked
	}
	// Another generation or hash: someone rotated first. (If the family
	// is rotatable again, it changed between the two statements: a lost
	// race too.)
	return storage.ErrConflict
}

// grantScan receives the grantColumns of one row.
type grantScan struct {
	g                              storage.Grant
	authTime, rotatedAt, revokedAt pgtype.Timestamptz
	refreshID                      pgtype.Text
}

func (r *grantScan) dest() []any {
	g := &r.g
	return []any{&g.ID, &g.ClientID, &g.UserID, &g.SessionID, &g.Scopes, &g.Audience, &r.authTime,
		&g.AMR, &g.CodeHash, &r.refreshID, &g.RefreshGeneration, &g.RefreshHash, &g.PrevRefreshHash,
		&r.rotatedAt, &g.CreatedAt, &g.ExpiresAt, &r.revokedAt}
}

func (r *grantScan) result() *storage.Grant {
	g := &r.g
	g.Scopes = readList(g.Scopes)
	g.Audience = readList(g.Audience)
	g.AMR = readList(g.AMR)
	g.AuthTime = utc(r.authTime)
	g.RefreshID = r.refreshID.String
	g.RotatedAt = utc(r.rotatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	g.ExpiresAt = g.ExpiresAt.UTC()
	g.RevokedAt = utc(r.revokedAt)
	return g
}
