-- Administration: access policies and the legacy API switch on clients, a
-- version for compare-and-swap client edits, when the upstream last
-- confirmed each user, the sign-in log and the admin API tokens.
-- Conventions as in 00001_init.sql.

-- +goose Up
ALTER TABLE clients ADD COLUMN allowed_groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN allowed_tenants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN legacy_api INTEGER NOT NULL DEFAULT 0 CHECK (legacy_api IN (0, 1));
ALTER TABLE clients ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

ALTER TABLE users ADD COLUMN last_checked_at INTEGER;
UPDATE users SET last_checked_at = last_login_at;

-- Sign-in log, newest first by id (append order). No foreign keys: a
-- refused login may name nobody, and the log outlives clients.
CREATE TABLE sign_ins (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    user_id    TEXT    NOT NULL DEFAULT '',
    client_id  TEXT    NOT NULL DEFAULT '',
    upstream   TEXT    NOT NULL DEFAULT '',
    result     TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    client_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sign_ins_time ON sign_ins (time);
CREATE INDEX sign_ins_user_id ON sign_ins (user_id, id);
CREATE INDEX sign_ins_client_id ON sign_ins (client_id, id);

CREATE INDEX audit_events_target ON audit_events (target, id);

-- Admin API tokens, stored as SHA-256 hashes.
CREATE TABLE admin_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL DEFAULT '',
    hash         BLOB    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

-- +goose Down
DROP TABLE admin_tokens;
DROP INDEX audit_events_target;
DROP TABLE sign_ins;
ALTER TABLE users DROP COLUMN last_checked_at;
ALTER TABLE clients DROP COLUMN version;
ALTER TABLE clients DROP COLUMN legacy_api;
ALTER TABLE clients DROP COLUMN allowed_tenants;
ALTER TABLE clients DROP COLUMN allowed_groups;
