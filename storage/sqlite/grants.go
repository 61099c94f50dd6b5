package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const grantColumns = `id, client_id, user_id, session_id, scopes, audience, auth_time, amr,
	code_hash, refresh_id, refresh_generation, refresh_hash, prev_refresh_hash, rotated_at,
	created_at, expires_at, revoked_at`

const grantColumnsG = `g.id, g.client_id, g.user_id, g.session_id, g.scopes, g.audience, g.auth_time, g.amr,
	g.code_hash, g.refresh_id, g.refresh_generation, g.refresh_hash, g.prev_refresh_hash, g.rotated_at,
	g.created_at, g.expires_at, g.revoked_at`

const (
	qUserForGrant = `SELECT ` + userColumns + `,
		? IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id_hash = ? AND expires_at > ?)
		FROM users WHERE id = ?`
	qCreateGrant = `INSERT INTO grants (` + grantColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRevokeGrantByCode = `UPDATE grants SET revoked_at = coalesce(revoked_at, ?) WHERE code_hash = ?`
	qRevokeGrant       = `UPDATE grants SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	qGetGrant          = `SELECT ` + grantColumnsG + `, ` + userColumnsU + `
		FROM grants g JOIN users u ON u.id = g.user_id
		WHERE g.id = ? AND g.expires_at > ?`
	qGetGrantByRefreshID = `SELECT ` + grantColumnsG + `, ` + userColumnsU + `
		FROM grants g JOIN users u ON u.id = g.user_id
		WHERE g.refresh_id = ? AND g.expires_at > ?`
	qRotateRefresh = `UPDATE grants SET
			refresh_generation = refresh_generation + 1,
			prev_refresh_hash = refresh_hash,
			refresh_hash = ?,
			rotated_at = ?,
			expires_at = ?
		WHERE refresh_id = ? AND refresh_generation = ? AND refresh_hash = ?
			AND revoked_at IS NULL AND expires_at > ?
			AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = grants.user_id AND u.disabled)
		RETURNING ` + grantColumns
	qWhyNotRotated = `SELECT g.revoked_at, u.disabled
		FROM grants g JOIN users u ON u.id = g.user_id
		WHERE g.refresh_id = ? AND g.expires_at > ?`
)

// grantDest returns the scan destinations for grantColumns.
func grantDest(g *storage.Grant) []any {
	return []any{&g.ID, &g.ClientID, &g.UserID, &g.SessionID, (*listCol)(&g.Scopes),
		(*listCol)(&g.Audience), (*timeCol)(&g.AuthTime), (*listCol)(&g.AMR),
		&g.CodeHash, (*textCol)(&g.RefreshID), &g.RefreshGeneration, &g.RefreshHash,
		&g.PrevRefreshHash, (*timeCol)(&g.RotatedAt),
		(*timeCol)(&g.CreatedAt), (*timeCol)(&g.ExpiresAt), (*timeCol)(&g.RevokedAt)}
}

// CreateGrant redeems an authorization code in one immediate transaction:
// it reads the user (ErrNotFound, ErrUserDisabled) and inserts the grant,
// whose unique code hash makes a second redemption ErrConflict.
func (s *Store) CreateGrant(ctx context.Context, g *storage.Grant) (*storage.User, error) {
	const op = "create grant"
	var u storage.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var sessionLive bool
		err := s.queryRow(ctx, tx, qUserForGrant, blobArg(g.SessionID), blobArg(g.SessionID), timeArg(g.CreatedAt), g.UserID).
			Scan(append(userDest(&u), &sessionLive)...)
		if err != nil {
			return err
		}
		if u.Disabled {
			return storage.ErrUserDisabled
		}
		if !sessionLive {
			return storage.ErrRevoked
		}
		_, err = s.exec(ctx, tx, qCreateGrant,
			g.ID, g.ClientID, g.UserID, blobArg(g.SessionID), listArg(g.Scopes),
			listArg(g.Audience), timeArg(g.AuthTime), listArg(g.AMR),
			blobArg(g.CodeHash), textArg(g.RefreshID), g.RefreshGeneration, blobArg(g.RefreshHash),
			blobArg(g.PrevRefreshHash), timeArg(g.RotatedAt),
			timeArg(g.CreatedAt), timeArg(g.ExpiresAt), timeArg(g.RevokedAt))
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return &u, nil
}

// RevokeGrantByCode revokes the grant an authorization code produced;
// ErrNotFound if the code was never redeemed. A grant revoked before keeps
// its first revocation time.
func (s *Store) RevokeGrantByCode(ctx context.Context, codeHash []byte, now time.Time) error {
	n, err := s.exec(ctx, s.db, qRevokeGrantByCode, timeArg(now), blobArg(codeHash))
	if err != nil {
		return mapErr("revoke grant by code", err)
	}
	if n == 0 {
		return errorf("revoke grant by code", storage.ErrNotFound)
	}
	return nil
}

// GetGrant returns a grant live at now (revoked or not) with its user.
func (s *Store) GetGrant(ctx context.Context, id string, now time.Time) (*storage.Grant, *storage.User, error) {
	return s.getGrant(ctx, "get grant", qGetGrant, id, now)
}

// GetGrantByRefreshID finds a refresh family live at now with its user.
func (s *Store) GetGrantByRefreshID(ctx context.Context, refreshID string, now time.Time) (*storage.Grant, *storage.User, error) {
	return s.getGrant(ctx, "get grant by refresh id", qGetGrantByRefreshID, refreshID, now)
}

func (s *Store) getGrant(ctx context.Context, op, query, key string, now time.Time) (*storage.Grant, *storage.User, error) {
	var (
		g storage.Grant
		u storage.User
	)
	err := s.queryRow(ctx, s.db, query, key, now.UnixNano()).
		Scan(append(grantDest(&g), userDest(&u)...)...)
	if err != nil {
		return nil, nil, mapErr(op, err)
	}
	return &g, &u, nil
}

// RotateRefresh moves a refresh family one generation on with one
// conditional UPDATE. Only when it matches nothing does a second query tell
// why: ErrNotFound (absent or expired), ErrUserDisabled, ErrRevoked, or
// ErrConflict (another rotation won, or the hash does not match).
func (s *Store) RotateRefresh(ctx context.Context, r storage.Rotation) (*storage.Grant, error) {
	const op = "rotate refresh"
	var g storage.Grant
	err := s.writeRow(ctx, s.db, qRotateRefresh,
		[]any{blobArg(r.NewHash), timeArg(r.Now), timeArg(r.ExpiresAt),
			r.RefreshID, r.FromGeneration, blobArg(r.FromHash), r.Now.UnixNano()},
		grantDest(&g)...)
	if err == nil {
		return &g, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, mapErr(op, err)
	}

	var (
		revoked  sql.NullInt64
		disabled bool
	)
	err = s.queryRow(ctx, s.db, qWhyNotRotated, r.RefreshID, r.Now.UnixNano()).
		Scan(&revoked, &disabled)
	switch {
	case err != nil:
		return nil, mapErr(op, err)
	case disabled:
		return nil, errorf(op, storage.ErrUserDisabled)
	case revoked.Valid:
		return nil, errorf(op, storage.ErrRevoked)
	default:
		return nil, errorf(op, storage.ErrConflict)
	}
}

// RevokeGrant revokes one grant; ErrNotFound if absent. A grant revoked
// before keeps its first revocation time.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	n, err := s.exec(ctx, s.db, qRevokeGrant, timeArg(now), id)
	if err != nil {
		return mapErr("revoke grant", err)
	}
	if n == 0 {
		return errorf("revoke grant", storage.ErrNotFound)
	}
	return nil
}
