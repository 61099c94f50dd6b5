package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const adminTokenColumns = `id, name, hash, scope, created_at, expires_at, revoked_at, last_used_at`

const (
	qCreateAdminToken = `INSERT INTO admin_tokens (` + adminTokenColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAdminTokenByHash = `SELECT ` + adminTokenColumns + ` FROM admin_tokens
		WHERE hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)`
	qListAdminTokens      = `SELECT ` + adminTokenColumns + ` FROM admin_tokens ORDER BY created_at DESC, id`
	qRevokeAdminToken     = `UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	qTouchAdminToken      = `UPDATE admin_tokens SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2`
	qDeleteOldAdminTokens = `DELETE FROM admin_tokens WHERE expires_at <= ?1 OR revoked_at <= ?1`
)

func adminTokenDest(t *storage.AdminToken) []any {
	return []any{&t.ID, &t.Name, &t.Hash, &t.Scope, (*timeCol)(&t.CreatedAt),
		(*timeCol)(&t.ExpiresAt), (*timeCol)(&t.RevokedAt), (*timeCol)(&t.LastUsedAt)}
}

// validAdminToken refuses what the schema would refuse less clearly.
func validAdminToken(t *storage.AdminToken) error {
	switch {
	case t.ID == "":
		return fmt.Errorf("no id")
	case len(t.Hash) == 0:
		return fmt.Errorf("token %q: no hash", t.ID)
	case t.Scope != storage.ScopeRead && t.Scope != storage.ScopeWrite:
		return fmt.Errorf("token %q: scope %q: want %q or %q", t.ID, t.Scope, storage.ScopeRead, storage.ScopeWrite)
	case t.CreatedAt.IsZero():
		return fmt.Errorf("token %q: no creation time", t.ID)
	}
	return nil
}

// CreateAdminToken stores a token; ErrConflict when its id or hash exists.
func (s *Store) CreateAdminToken(ctx context.Context, t *storage.AdminToken) error {
	const op = "create admin token"
	if err := validAdminToken(t); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := s.exec(ctx, s.db, qCreateAdminToken, t.ID, t.Name, t.Hash, t.Scope,
		timeArg(t.CreatedAt), timeArg(t.ExpiresAt), timeArg(t.RevokedAt), timeArg(t.LastUsedAt))
	return mapErr(op, err)
}

// GetAdminTokenByHash returns the token usable at now; ErrNotFound when
// absent, expired or revoked.
func (s *Store) GetAdminTokenByHash(ctx context.Context, hash []byte, now time.Time) (*storage.AdminToken, error) {
	var t storage.AdminToken
	err := s.queryRow(ctx, s.db, qGetAdminTokenByHash, blobArg(hash), now.UnixNano()).Scan(adminTokenDest(&t)...)
	if err != nil {
		return nil, mapErr("get admin token", err)
	}
	return &t, nil
}

// ListAdminTokens returns every token kept, newest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	const op = "list admin tokens"
	rows, err := s.query(ctx, s.db, qListAdminTokens)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AdminToken
	for rows.Next() {
		var t storage.AdminToken
		if err := rows.Scan(adminTokenDest(&t)...); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// RevokeAdminToken revokes a token at now (a revoked one keeps its first
// time); ErrNotFound if absent.
func (s *Store) RevokeAdminToken(ctx context.Context, id string, now time.Time) error {
	n, err := s.exec(ctx, s.db, qRevokeAdminToken, timeArg(now), id)
	if err != nil {
		return mapErr("revoke admin token", err)
	}
	if n == 0 {
		return errorf("revoke admin token", storage.ErrNotFound)
	}
	return nil
}

// TouchAdminToken moves LastUsedAt on to at (never back); ErrNotFound if
// absent.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, s.db, qTouchAdminToken, at.UnixNano(), id)
	if err != nil {
		return mapErr("touch admin token", err)
	}
	if n == 0 {
		return errorf("touch admin token", storage.ErrNotFound)
	}
	return nil
}
