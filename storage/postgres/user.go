package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

// userColumns are the users columns in scanUser order, qualified by alias u.
const userColumns = `u.id, u.upstream, u.external_id, u.claims, u.disabled,
	u.created_at, u.updated_at, u.last_login_at, u.last_checked_at`

// UpsertUser inserts the user, or, when (Upstream, ExternalID) exists,
// refreshes its claims, UpdatedAt, LastLoginAt and LastCheckedAt (both from
// in.LastLoginAt; keeping its id, CreatedAt and Disabled), in one statement.
// It returns the stored row.
func (s *Store) UpsertUser(ctx context.Context, in *storage.User) (*storage.User, error) {
	var r userScan
	err := s.pool.QueryRow(ctx, `
		INSERT INTO users AS u (id, upstream, external_id, claims, disabled, created_at, updated_at,
			last_login_at, last_checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (upstream, external_id) DO UPDATE
		SET claims = EXCLUDED.claims, updated_at = EXCLUDED.updated_at, last_login_at = EXCLUDED.last_login_at,
			last_checked_at = coalesce(EXCLUDED.last_checked_at, u.last_checked_at)
		RETURNING `+userColumns,
		in.ID, in.Upstream, in.ExternalID, claims(in.Claims), in.Disabled,
		in.CreatedAt, in.UpdatedAt, nullTime(in.LastLoginAt)).Scan(r.dest()...)
	if err != nil {
		return nil, fmt.Errorf("upsert user: %w", mapErr(err))
	}
	return r.result(), nil
}

// GetUser returns the user with the given id (the subject).
func (s *Store) GetUser(ctx context.Context, id string) (*storage.User, error) {
	var r userScan
	err := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id).Scan(r.dest()...)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", mapErr(err))
	}
	return r.result(), nil
}

// ListUsers returns users ordered by id, narrowed by f.
func (s *Store) ListUsers(ctx context.Context, f storage.UserFilter) ([]storage.User, error) {
	// Stored ids and claims are valid UTF-8 without NUL bytes: a filter
	// that is not matches nobody (and Postgres would refuse it).
	if !storable(f.Upstream) || !storable(f.Query) || !storable(f.After) {
		return nil, nil
	}
	var limit pgtype.Int8
	if f.Limit > 0 {
		limit = pgtype.Int8{Int64: int64(f.Limit), Valid: true}
	}
	// $2 is the cursor ('' sorts before every id); $3 the lower-cased
	// query, found with strpos (no LIKE wildcards to escape).
	rows, _ := s.pool.Query(ctx, `
		SELECT `+userColumns+` FROM users u
		WHERE ($1 = '' OR u.upstream = $1)
			AND u.id > $2
			AND ($3 = '' OR strpos(lower(u.id), $3) > 0 OR strpos(lower(u.external_id), $3) > 0
				OR strpos(lower(u.claims->>'name'), $3) > 0
				OR strpos(lower(u.claims->>'preferred_username'), $3) > 0
				OR strpos(lower(u.claims->>'employee_code'), $3) > 0
				OR strpos(lower(u.claims->>'account_id'), $3) > 0)
		ORDER BY u.id
		LIMIT $4`, f.Upstream, f.After, strings.ToLower(f.Query), limit)
	us, err := pgx.CollectRows(rows, scanUserRow)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", mapErr(err))
	}
	return us, nil
}

// SetUserDisabled disables or enables a user. Disabling also deletes its
// sessions and revokes its live grants in the same transaction. The UPDATE of
// the user waits for any CreateGrant holding the user row (FOR SHARE), and the
// revocation, a later statement, sees the grant that CreateGrant committed: no
// grant created concurrently survives a disable. Rows are locked in key
// order, as in every statement that locks many (see doc.go).
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1`, id, disabled, now)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		if !disabled {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash IN (
			SELECT id_hash FROM sessions WHERE user_id = $1 ORDER BY id_hash FOR UPDATE)`, id); err != nil {
			return mapErr(err)
		}
		_, err = tx.Exec(ctx, `UPDATE grants SET revoked_at = $2 WHERE id IN (
			SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE)`, id, now)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("set user disabled: %w", err)
	}
	return nil
}

// SetUserChecked sets the user's LastCheckedAt; ErrNotFound if absent.
func (s *Store) SetUserChecked(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET last_checked_at = $2 WHERE id = $1`, id, at)
	if err != nil {
		return fmt.Errorf("set user checked: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set user checked %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// claims is the value to write for User.Claims: an empty object when empty.
func claims(c []byte) []byte {
	if len(c) == 0 {
		return []byte("{}")
	}
	return c
}

func scanUserRow(row pgx.CollectableRow) (storage.User, error) {
	var r userScan
	err := row.Scan(r.dest()...)
	return *r.result(), err
}

// userScan receives the userColumns of one row.
type userScan struct {
	u           storage.User
	lastLogin   pgtype.Timestamptz
	lastChecked pgtype.Timestamptz
}

func (r *userScan) dest() []any {
	u := &r.u
	return []any{&u.ID, &u.Upstream, &u.ExternalID, &u.Claims, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &r.lastLogin, &r.lastChecked}
}

func (r *userScan) result() *storage.User {
	r.u.CreatedAt = r.u.CreatedAt.UTC()
	r.u.UpdatedAt = r.u.UpdatedAt.UTC()
	r.u.LastLoginAt = utc(r.lastLogin)
	r.u.LastCheckedAt = utc(r.lastChecked)
	return &r.u
}
