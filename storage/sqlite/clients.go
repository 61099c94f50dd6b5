package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
	public, upstreams, access_token_format, static, created_at, updated_at,
	allowed_groups, allowed_tenants, legacy_api, version`

// clientSet is the SET list of both updates; ?1 is the id and ?14 the
// expected version of UpdateClientIf.
const clientSet = `UPDATE clients SET secret_hash = ?2, name = ?3, redirect_uris = ?4,
		post_logout_redirect_uris = ?5, public = ?6, upstreams = ?7, access_token_format = ?8,
		static = ?9, updated_at = ?10, allowed_groups = ?11, allowed_tenants = ?12,
		legacy_api = ?13, version = version + 1`

const (
	qCreateClient = `INSERT INTO clients (` + clientColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`
	qGetClient          = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	qListClients        = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qUpdateClient       = clientSet + ` WHERE id = ?1 RETURNING version`
	qUpdateClientIf     = clientSet + ` WHERE id = ?1 AND version = ?14 RETURNING version`
	qClientExists       = `SELECT EXISTS (SELECT 1 FROM clients WHERE id = ?)`
	qDeleteClient       = `DELETE FROM clients WHERE id = ?`
	qRevokeClientGrants = `UPDATE grants SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL`
)

func scanClient(row interface{ Scan(...any) error }) (*storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.SecretHash, &c.Name,
		(*listCol)(&c.RedirectURIs), (*listCol)(&c.PostLogoutRedirectURIs),
		&c.Public, (*listCol)(&c.Upstreams), &c.AccessTokenFormat, &c.Static,
		(*timeCol)(&c.CreatedAt), (*timeCol)(&c.UpdatedAt),
		(*listCol)(&c.AllowedGroups), (*listCol)(&c.AllowedTenants), &c.LegacyAPI, &c.Version)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateClient registers a client at version 1 (and sets c.Version);
// ErrConflict if the id exists.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	_, err := s.exec(ctx, s.db, qCreateClient,
		c.ID, blobArg(c.SecretHash), c.Name, listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		c.Public, listArg(c.Upstreams), c.AccessTokenFormat, c.Static,
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt),
		listArg(c.AllowedGroups), listArg(c.AllowedTenants), c.LegacyAPI)
	if err != nil {
		return mapErr("create client", err)
	}
	c.Version = 1
	return nil
}

// GetClient returns one client; ErrNotFound if absent.
func (s *Store) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	c, err := scanClient(s.queryRow(ctx, s.db, qGetClient, id))
	if err != nil {
		return nil, mapErr("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.query(ctx, s.db, qListClients)
	if err != nil {
		return nil, mapErr("list clients", err)
	}
	defer rows.Close()
	var out []storage.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, mapErr("list clients", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list clients", err)
	}
	return out, nil
}

// clientArgs are the arguments of clientSet.
func clientArgs(c *storage.Client) []any {
	return []any{c.ID, blobArg(c.SecretHash), c.Name, listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		c.Public, listArg(c.Upstreams), c.AccessTokenFormat, c.Static, timeArg(c.UpdatedAt),
		listArg(c.AllowedGroups), listArg(c.AllowedTenants), c.LegacyAPI}
}

// UpdateClient replaces everything but the id and CreatedAt, moves the
// version on and sets c.Version; ErrNotFound if absent.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	var v int64
	if err := s.writeRow(ctx, s.db, qUpdateClient, clientArgs(c), &v); err != nil {
		return mapErr("update client", err)
	}
	c.Version = v
	return nil
}

// UpdateClientIf is UpdateClient if the stored version is expectedVersion.
// Only when nothing matched does a second query tell ErrConflict (another
// update won) from ErrNotFound.
func (s *Store) UpdateClientIf(ctx context.Context, c *storage.Client, expectedVersion int64) error {
	const op = "update client"
	var v int64
	err := s.writeRow(ctx, s.db, qUpdateClientIf, append(clientArgs(c), expectedVersion), &v)
	if err == nil {
		c.Version = v
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return mapErr(op, err)
	}
	var exists bool
	if err := s.queryRow(ctx, s.db, qClientExists, c.ID).Scan(&exists); err != nil {
		return mapErr(op, err)
	}
	if !exists {
		return errorf(op, storage.ErrNotFound)
	}
	return fmt.Errorf("%s %q: version %d is stale: %w", op, c.ID, expectedVersion, storage.ErrConflict)
}

// DeleteClient removes a client and revokes its grants; ErrNotFound if
// absent.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, qDeleteClient, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		_, err = s.exec(ctx, tx, qRevokeClientGrants, timeArg(now), id)
		return err
	})
	return mapErr("delete client", err)
}
