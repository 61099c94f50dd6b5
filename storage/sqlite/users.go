package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

const userColumns = `id, upstream, external_id, claims, disabled, created_at, updated_at, last_login_at,
	last_checked_at`

const (
	qUpsertUser = `INSERT INTO users (` + userColumns + `)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
		ON CONFLICT (upstream, external_id) DO UPDATE SET
			claims = excluded.claims,
			updated_at = excluded.updated_at,
			last_login_at = coalesce(excluded.last_login_at, users.last_login_at),
			last_checked_at = coalesce(excluded.last_checked_at, users.last_checked_at)
		RETURNING ` + userColumns
	qGetUser = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	// ?2 is the cursor ('' sorts before every id); ?3 the lower-cased
	// query, found with instr (no LIKE wildcards to escape).
	qListUsers = `SELECT ` + userColumns + ` FROM users
		WHERE (?1 = '' OR upstream = ?1)
			AND id > ?2
			AND (?3 = '' OR instr(lower(id), ?3) > 0 OR instr(lower(external_id), ?3) > 0
				OR instr(lower(coalesce(json_extract(claims, '$.name'), '')), ?3) > 0
				OR instr(lower(coalesce(json_extract(claims, '$.preferred_username'), '')), ?3) > 0
				OR instr(lower(coalesce(json_extract(claims, '$.employee_code'), '')), ?3) > 0
				OR instr(lower(coalesce(json_extract(claims, '$.account_id'), '')), ?3) > 0)
		ORDER BY id LIMIT ?4`
	qSetUserChecked     = `UPDATE users SET last_checked_at = ? WHERE id = ?`
	qEnableUser         = `UPDATE users SET disabled = 0 WHERE id = ?`
	qDisableUser        = `UPDATE users SET disabled = 1 WHERE id = ?`
	qDeleteUserSessions = `DELETE FROM sessions WHERE user_id = ?`
	qRevokeUserGrants   = `UPDATE grants SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`
)

// userColumnsU is userColumns for the alias u, in joins.
const userColumnsU = `u.id, u.upstream, u.external_id, u.claims, u.disabled, u.created_at,
	u.updated_at, u.last_login_at, u.last_checked_at`

// userDest returns the scan destinations for userColumns.
func userDest(u *storage.User) []any {
	return []any{&u.ID, &u.Upstream, &u.ExternalID, &u.Claims, &u.Disabled,
		(*timeCol)(&u.CreatedAt), (*timeCol)(&u.UpdatedAt), (*timeCol)(&u.LastLoginAt),
		(*timeCol)(&u.LastCheckedAt)}
}

// UpsertUser creates the user or, when (Upstream, ExternalID) exists,
// refreshes its claims, UpdatedAt, LastLoginAt and LastCheckedAt (both from
// u.LastLoginAt), in one statement. The id, CreatedAt and Disabled of an
// existing user are kept.
func (s *Store) UpsertUser(ctx context.Context, u *storage.User) (*storage.User, error) {
	var out storage.User
	err := s.writeRow(ctx, s.db, qUpsertUser,
		[]any{u.ID, u.Upstream, u.ExternalID, jsonArg(u.Claims), u.Disabled,
			timeArg(u.CreatedAt), timeArg(u.UpdatedAt), timeArg(u.LastLoginAt)},
		userDest(&out)...)
	if err != nil {
		return nil, mapErr("upsert user", err)
	}
	return &out, nil
}

// GetUser returns one user; ErrNotFound if absent.
func (s *Store) GetUser(ctx context.Context, id string) (*storage.User, error) {
	var u storage.User
	err := s.queryRow(ctx, s.db, qGetUser, id).Scan(userDest(&u)...)
	if err != nil {
		return nil, mapErr("get user", err)
	}
	return &u, nil
}

// ListUsers returns the users ordered by id, narrowed by f.
func (s *Store) ListUsers(ctx context.Context, f storage.UserFilter) ([]storage.User, error) {
	// Stored ids and claims are valid UTF-8 without NUL bytes: a filter
	// that is not matches nobody (and Postgres would refuse it).
	if !storable(f.Upstream) || !storable(f.Query) || !storable(f.After) {
		return nil, nil
	}
	limit := int64(-1) // SQLite: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := s.query(ctx, s.db, qListUsers, f.Upstream, f.After, strings.ToLower(f.Query), limit)
	if err != nil {
		return nil, mapErr("list users", err)
	}
	defer rows.Close()
	var out []storage.User
	for rows.Next() {
		var u storage.User
		if err := rows.Scan(userDest(&u)...); err != nil {
			return nil, mapErr("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list users", err)
	}
	return out, nil
}

// SetUserDisabled disables or enables a user; disabling also deletes its
// sessions and revokes its grants, in one transaction.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	const op = "set user disabled"
	if !disabled {
		n, err := s.exec(ctx, s.db, qEnableUser, id)
		if err != nil {
			return mapErr(op, err)
		}
		if n == 0 {
			return errorf(op, storage.ErrNotFound)
		}
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, qDisableUser, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return sql.ErrNoRows
		}
		if _, err := s.exec(ctx, tx, qDeleteUserSessions, id); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, qRevokeUserGrants, timeArg(now), id)
		return err
	})
	return mapErr(op, err)
}

// SetUserChecked sets the user's LastCheckedAt; ErrNotFound if absent.
func (s *Store) SetUserChecked(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, s.db, qSetUserChecked, timeArg(at), id)
	if err != nil {
		return mapErr("set user checked", err)
	}
	if n == 0 {
		return errorf("set user checked", storage.ErrNotFound)
	}
	return nil
}
