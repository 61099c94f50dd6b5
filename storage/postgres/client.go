package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
)

const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris, public,
	upstreams, access_token_format, static, created_at, updated_at`

// CreateClient inserts c; ErrConflict if its id exists.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO NOTHING`,
		c.ID, nullBytes(c.SecretHash), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.Upstreams), c.AccessTokenFormat, c.Static, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create client: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create client %q: %w", c.ID, storage.ErrConflict)
	}
	return nil
}

// GetClient returns the client with the given id.
func (s *Store) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id)
	c, err := pgx.CollectExactlyOneRow(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("get client: %w", mapErr(err))
	}
	return &c, nil
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	cs, err := pgx.CollectRows(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", mapErr(err))
	}
	return cs, nil
}

// UpdateClient replaces every field of the client but its id and CreatedAt;
// ErrNotFound if it does not exist.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
			post_logout_redirect_uris = $5, public = $6, upstreams = $7,
			access_token_format = $8, static = $9, updated_at = $10
		WHERE id = $1`,
		c.ID, nullBytes(c.SecretHash), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.Upstreams), c.AccessTokenFormat, c.Static, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update client: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update client %q: %w", c.ID, storage.ErrNotFound)
	}
	return nil
}

// DeleteClient deletes the client and revokes its live grants, in one
// statement; ErrNotFound if it does not exist.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	var deleted, revoked int64
	err := s.pool.QueryRow(ctx, `
		WITH c AS (
			DELETE FROM clients WHERE id = $1 RETURNING id
		), g AS (
			UPDATE grants SET revoked_at = $2 WHERE id IN (
				SELECT id FROM grants WHERE client_id IN (SELECT id FROM c) AND revoked_at IS NULL
				ORDER BY id FOR UPDATE)
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM g)`,
		id, now).Scan(&deleted, &revoked)
	if err != nil {
		return fmt.Errorf("delete client: %w", mapErr(err))
	}
	s.stats.addWrites(deleted + revoked)
	if deleted == 0 {
		return fmt.Errorf("delete client %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

func scanClient(row pgx.CollectableRow) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.SecretHash, &c.Name, &c.RedirectURIs, &c.PostLogoutRedirectURIs,
		&c.Public, &c.Upstreams, &c.AccessTokenFormat, &c.Static, &c.CreatedAt, &c.UpdatedAt)
	c.RedirectURIs = readList(c.RedirectURIs)
	c.PostLogoutRedirectURIs = readList(c.PostLogoutRedirectURIs)
	c.Upstreams = readList(c.Upstreams)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, err
}
