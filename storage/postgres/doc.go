// Package postgres is the PostgreSQL backend of storage.Store, built on
// pgx/v5 and pgxpool, for production and for several replicas sharing one
// database.
//
// Every method runs at READ COMMITTED and is written so that contention makes
// it wait, never fail: the login path (UpsertUser, CreateSession, CreateGrant,
// GetSession) and RotateRefresh are one statement each; uniqueness is decided
// by ON CONFLICT or by a conditional UPDATE, and only when a conditional write
// matched nothing does a second statement find out why. Changes that must
// also revoke grants (SetUserDisabled) or replace the key set (SwapKeySet) run
// in a short transaction.
//
// Lock order, so that concurrent writers wait instead of deadlocking: users,
// then sessions, then grants; key_sets, then signing_keys. A statement that
// locks many rows of one table locks them in key order (a sub-select
// ORDER BY key FOR UPDATE).
//
// Open migrates the schema with goose under a Postgres session advisory lock,
// so replicas starting together apply each migration exactly once.
package postgres
