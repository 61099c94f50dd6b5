package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris, public,
	upstreams, access_token_format, static, created_at, updated_at,
	allowed_groups, allowed_tenants, legacy_api, version`

// CreateClient inserts c at version 1 (and sets c.Version); ErrConflict if
// its id exists.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)
		ON CONFLICT (id) DO NOTHING`,
		c.ID, nullBytes(c.SecretHash), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.Upstreams), c.AccessTokenFormat, c.Static, c.CreatedAt, c.UpdatedAt,
		list(c.AllowedGroups), list(c.AllowedTenants), c.LegacyAPI)
	if err != nil {
		return fmt.Errorf("create client: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create client %q: %w", c.ID, storage.ErrConflict)
	}
	c.Version = 1
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

// updateClientSQL replaces a client's fields and moves its version on, if
// $14 is NULL or the stored version, in one statement. It returns the new
// version (NULL when nothing was updated) and whether the client exists.
// Two updates racing with the same expected version: the second waits for
// the first's row lock, then finds the version moved on and updates nothing.
const updateClientSQL = `
	WITH upd AS (
		UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
			post_logout_redirect_uris = $5, public = $6, upstreams = $7,
			access_token_format = $8, static = $9, updated_at = $10,
			allowed_groups = $11, allowed_tenants = $12, legacy_api = $13,
			version = version + 1
		WHERE id = $1 AND ($14::bigint IS NULL OR version = $14::bigint)
		RETURNING version
	)
	SELECT (SELECT version FROM upd), EXISTS (SELECT 1 FROM clients WHERE id = $1)`

// UpdateClient replaces every field of the client but its id and CreatedAt,
// moves its version on and sets c.Version; ErrNotFound if it does not exist.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	return s.updateClient(ctx, c, pgtype.Int8{})
}

// UpdateClientIf is UpdateClient if the stored version is expectedVersion:
// ErrConflict when another update came first, in the same one statement.
func (s *Store) UpdateClientIf(ctx context.Context, c *storage.Client, expectedVersion int64) error {
	return s.updateClient(ctx, c, pgtype.Int8{Int64: expectedVersion, Valid: true})
}

func (s *Store) updateClient(ctx context.Context, c *storage.Client, expected pgtype.Int8) error {
	var (
		version pgtype.Int8
		exists  bool
	)
	err := s.pool.QueryRow(ctx, updateClientSQL,
		c.ID, nullBytes(c.SecretHash), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.Public, list(c.Upstreams), c.AccessTokenFormat, c.Static, c.UpdatedAt,
		list(c.AllowedGroups), list(c.AllowedTenants), c.LegacyAPI, expected).Scan(&version, &exists)
	if err != nil {
		return fmt.Errorf("update client: %w", mapErr(err))
	}
	switch {
	case version.Valid:
		s.stats.addWrites(1)
		c.Version = version.Int64
		return nil
	case !exists:
		return fmt.Errorf("update client %q: %w", c.ID, storage.ErrNotFound)
	default:
		return fmt.Errorf("update client %q: version %d is stale: %w", c.ID, expected.Int64, storage.ErrConflict)
	}
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
		&c.Public, &c.Upstreams, &c.AccessTokenFormat, &c.Static, &c.CreatedAt, &c.UpdatedAt,
		&c.AllowedGroups, &c.AllowedTenants, &c.LegacyAPI, &c.Version)
	c.AllowedGroups = readList(c.AllowedGroups)
	c.AllowedTenants = readList(c.AllowedTenants)
	c.RedirectURIs = readList(c.RedirectURIs)
	c.PostLogoutRedirectURIs = readList(c.PostLogoutRedirectURIs)
	c.Upstreams = readList(c.Upstreams)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, err
}
