package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

const adminTokenColumns = `id, name, hash, scope, created_at, expires_at, revoked_at, last_used_at`

// CreateAdminToken stores a token; ErrConflict when its id or hash exists.
func (s *Store) CreateAdminToken(ctx context.Context, t *storage.AdminToken) error {
	const op = "create admin token"
	switch {
	case t.ID == "":
		return fmt.Errorf("%s: no id", op)
	case len(t.Hash) == 0:
		return fmt.Errorf("%s %q: no hash", op, t.ID)
	case t.Scope != storage.ScopeRead && t.Scope != storage.ScopeWrite:
		return fmt.Errorf("%s %q: scope %q: want %q or %q", op, t.ID, t.Scope, storage.ScopeRead, storage.ScopeWrite)
	case t.CreatedAt.IsZero():
		return fmt.Errorf("%s %q: no creation time", op, t.ID)
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO admin_tokens (`+adminTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`,
		t.ID, t.Name, t.Hash, t.Scope, t.CreatedAt, nullTime(t.ExpiresAt), nullTime(t.RevokedAt),
		nullTime(t.LastUsedAt))
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %q: %w", op, t.ID, storage.ErrConflict)
	}
	return nil
}

// GetAdminTokenByHash returns the token usable at now; ErrNotFound when
// absent, expired or revoked.
func (s *Store) GetAdminTokenByHash(ctx context.Context, hash []byte, now time.Time) (*storage.AdminToken, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+adminTokenColumns+` FROM admin_tokens
		WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
		nullBytes(hash), now)
	t, err := pgx.CollectExactlyOneRow(rows, scanAdminToken)
	if err != nil {
		return nil, fmt.Errorf("get admin token: %w", mapErr(err))
	}
	return &t, nil
}

// ListAdminTokens returns every token kept, newest first.
func (s *Store) ListAdminTokens(ctx context.Context) ([]storage.AdminToken, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+adminTokenColumns+` FROM admin_tokens ORDER BY created_at DESC, id`)
	ts, err := pgx.CollectRows(rows, scanAdminToken)
	if err != nil {
		return nil, fmt.Errorf("list admin tokens: %w", mapErr(err))
	}
	return ts, nil
}

// RevokeAdminToken revokes a token at now (a revoked one keeps its first
// time); ErrNotFound if absent.
func (s *Store) RevokeAdminToken(ctx context.Context, id string, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("revoke admin token: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke admin token %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// TouchAdminToken moves LastUsedAt on to at (never back); ErrNotFound if
// absent.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE admin_tokens SET last_used_at = greatest(last_used_at, $2) WHERE id = $1`, id, at)
	if err != nil {
		return fmt.Errorf("touch admin token: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch admin token %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

func scanAdminToken(row pgx.CollectableRow) (storage.AdminToken, error) {
	var (
		t                      storage.AdminToken
		expires, revoked, used pgtype.Timestamptz
	)
	err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.Scope, &t.CreatedAt, &expires, &revoked, &used)
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = utc(expires), utc(revoked), utc(used)
	return t, err
}
