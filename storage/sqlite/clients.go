package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
	public, upstreams, access_token_format, static, created_at, updated_at`

const (
	qCreateClient = `INSERT INTO clients (` + clientColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetClient    = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	qListClients  = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qUpdateClient = `UPDATE clients SET secret_hash = ?, name = ?, redirect_uris = ?,
		post_logout_redirect_uris = ?, public = ?, upstreams = ?, access_token_format = ?,
		static = ?, updated_at = ?
		WHERE id = ?`
	qDeleteClient       = `DELETE FROM clients WHERE id = ?`
	qRevokeClientGrants = `UPDATE grants SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL`
)

func scanClient(row interface{ Scan(...any) error }) (*storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.SecretHash, &c.Name,
		(*listCol)(&c.RedirectURIs), (*listCol)(&c.PostLogoutRedirectURIs),
		&c.Public, (*listCol)(&c.Upstreams), &c.AccessTokenFormat, &c.Static,
		(*timeCol)(&c.CreatedAt), (*timeCol)(&c.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateClient registers a client; ErrConflict if the id exists.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	_, err := s.exec(ctx, s.db, qCreateClient,
		c.ID, blobArg(c.SecretHash), c.Name, listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		c.Public, listArg(c.Upstreams), c.AccessTokenFormat, c.Static,
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt))
	return mapErr("create client", err)
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

// UpdateClient replaces everything but the id and CreatedAt; ErrNotFound if
// absent.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	n, err := s.exec(ctx, s.db, qUpdateClient,
		blobArg(c.SecretHash), c.Name, listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		c.Public, listArg(c.Upstreams), c.AccessTokenFormat, c.Static, timeArg(c.UpdatedAt),
		c.ID)
	if err != nil {
		return mapErr("update client", err)
	}
	if n == 0 {
		return errorf("update client", storage.ErrNotFound)
	}
	return nil
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
