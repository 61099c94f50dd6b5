-- Administration: access policies and the legacy API switch on clients, a
-- version for compare-and-swap client edits, when the upstream last
-- confirmed each user, the sign-in log and the admin API tokens.
-- Conventions as in 00001_init.sql.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN allowed_groups  text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN allowed_tenants text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN legacy_api      boolean NOT NULL DEFAULT false,
    ADD COLUMN version         bigint  NOT NULL DEFAULT 1;

-- Not indexed, so that UpsertUser's updates stay HOT.
ALTER TABLE users ADD COLUMN last_checked_at timestamptz;
UPDATE users SET last_checked_at = last_login_at;

-- Sign-in log, newest first by id (append order). No foreign keys: a
-- refused login may name nobody, and the log outlives clients.
CREATE TABLE sign_ins (
    id         bigserial   PRIMARY KEY,
    time       timestamptz NOT NULL,
    user_id    text        NOT NULL DEFAULT '',
    client_id  text        NOT NULL DEFAULT '',
    upstream   text        NOT NULL DEFAULT '',
    result     text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    client_ip  text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT ''
);
CREATE INDEX sign_ins_time_idx ON sign_ins (time);
CREATE INDEX sign_ins_user_id_idx ON sign_ins (user_id, id);
CREATE INDEX sign_ins_client_id_idx ON sign_ins (client_id, id);

CREATE INDEX audit_events_target_idx ON audit_events (target, id);

-- Admin API tokens, stored as SHA-256 hashes.
CREATE TABLE admin_tokens (
    id           text        PRIMARY KEY,
    name         text        NOT NULL DEFAULT '',
    hash         bytea       NOT NULL CONSTRAINT admin_tokens_hash_key UNIQUE,
    scope        text        NOT NULL CHECK (scope IN ('read', 'write')),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- +goose Down
DROP TABLE admin_tokens;
DROP INDEX audit_events_target_idx;
DROP TABLE sign_ins;
ALTER TABLE users DROP COLUMN last_checked_at;
ALTER TABLE clients
    DROP COLUMN version,
    DROP COLUMN legacy_api,
    DROP COLUMN allowed_tenants,
    DROP COLUMN allowed_groups;
