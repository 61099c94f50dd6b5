-- dingoidc schema for PostgreSQL.
--
-- Conventions:
--   * times are timestamptz (microseconds), read back in UTC; NULL stands for
--     the zero time where a time is optional;
--   * lists (redirect URIs, scopes, amr…) are text[], never NULL;
--   * user claims and audit details are jsonb;
--   * codes, refresh tokens, session ids and client secrets are stored only
--     as hashes (bytea); an empty hash is NULL, so optional unique hashes
--     never collide.

-- +goose Up

-- Clients: OIDC relying parties. Lists are text[] (never NULL).
CREATE TABLE clients (
    id                        text        PRIMARY KEY,
    secret_hash               bytea,
    name                      text        NOT NULL DEFAULT '',
    redirect_uris             text[]      NOT NULL DEFAULT '{}',
    post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
    public                    boolean     NOT NULL DEFAULT false,
    upstreams                 text[]      NOT NULL DEFAULT '{}',
    access_token_format       text        NOT NULL DEFAULT 'jwt',
    static                    boolean     NOT NULL DEFAULT false,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);

-- Users: id is the OIDC subject. UpsertUser conflicts on (upstream, external_id)
-- and only touches non-indexed columns, so its updates can stay HOT.
CREATE TABLE users (
    id            text        PRIMARY KEY,
    upstream      text        NOT NULL,
    external_id   text        NOT NULL,
    claims        jsonb       NOT NULL DEFAULT '{}',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz,
    CONSTRAINT users_upstream_external_id_key UNIQUE (upstream, external_id)
) WITH (fillfactor = 90);

-- Sessions: SSO sessions, keyed by the hash of the cookie value. The login
-- state hash is unique: an upstream state creates at most one session.
CREATE TABLE sessions (
    id_hash          bytea       PRIMARY KEY,
    user_id          text        NOT NULL REFERENCES users (id),
    upstream         text        NOT NULL,
    auth_time        timestamptz,
    amr              text[]      NOT NULL DEFAULT '{}',
    expires_at       timestamptz NOT NULL,
    login_state_hash bytea       CONSTRAINT sessions_login_state_hash_key UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Grants: one row per redeemed authorization code, carrying the refresh
-- family that rotates in place. code_hash and refresh_id are NULL when absent
-- (NULLs never collide in a unique constraint). client_id has no foreign key:
-- deleting a client revokes its grants, which stay until they are collected.
CREATE TABLE grants (
    id                 text        PRIMARY KEY,
    client_id          text        NOT NULL,
    user_id            text        NOT NULL REFERENCES users (id),
    session_id         bytea,
    scopes             text[]      NOT NULL DEFAULT '{}',
    audience           text[]      NOT NULL DEFAULT '{}',
    auth_time          timestamptz,
    amr                text[]      NOT NULL DEFAULT '{}',
    code_hash          bytea       CONSTRAINT grants_code_hash_key UNIQUE,
    refresh_id         text        CONSTRAINT grants_refresh_id_key UNIQUE,
    refresh_generation bigint      NOT NULL DEFAULT 0,
    refresh_hash       bytea,
    prev_refresh_hash  bytea,
    rotated_at         timestamptz,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz
) WITH (fillfactor = 90);
CREATE INDEX grants_user_id_idx ON grants (user_id);
CREATE INDEX grants_session_id_idx ON grants (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX grants_client_id_idx ON grants (client_id);
CREATE INDEX grants_expires_at_idx ON grants (expires_at);
CREATE INDEX grants_revoked_at_idx ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

-- Key set: a single row whose version guards compare-and-swap updates of
-- signing_keys.
CREATE TABLE key_sets (
    id      smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version bigint   NOT NULL
);
INSERT INTO key_sets (id, version) VALUES (1, 0);

CREATE TABLE signing_keys (
    id          text        PRIMARY KEY,
    position    integer     NOT NULL,
    algorithm   text        NOT NULL,
    private_enc bytea       NOT NULL,
    public_jwk  bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    active_from timestamptz,
    retire_at   timestamptz
);
CREATE INDEX signing_keys_retire_at_idx ON signing_keys (retire_at) WHERE retire_at IS NOT NULL;

CREATE TABLE audit_events (
    id      bigserial   PRIMARY KEY,
    time    timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text        NOT NULL DEFAULT '',
    details jsonb
);
CREATE INDEX audit_events_time_idx ON audit_events (time DESC, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE signing_keys;
DROP TABLE key_sets;
DROP TABLE grants;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE clients;
