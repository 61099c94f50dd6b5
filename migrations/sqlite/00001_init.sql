-- dingoidc schema for SQLite.
--
-- Conventions:
--   * times are INTEGER unix nanoseconds, UTC; NULL stands for the zero time;
--   * lists (redirect URIs, scopes, amr…) are JSON arrays in TEXT;
--   * claims and audit details are JSON objects in TEXT;
--   * codes, refresh tokens, session ids and client secrets are stored only
--     as hashes (BLOB); an empty hash is NULL.

-- +goose Up
CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    secret_hash               BLOB,
    name                      TEXT    NOT NULL DEFAULT '',
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    public                    INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    upstreams                 TEXT    NOT NULL DEFAULT '[]',
    access_token_format       TEXT    NOT NULL DEFAULT '',
    static                    INTEGER NOT NULL DEFAULT 0 CHECK (static IN (0, 1)),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;

-- id is the OIDC subject.
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    upstream      TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    claims        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(claims)),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER,
    UNIQUE (upstream, external_id)
) STRICT;

CREATE TABLE sessions (
    id_hash          BLOB    NOT NULL PRIMARY KEY,
    user_id          TEXT    NOT NULL REFERENCES users (id),
    upstream         TEXT    NOT NULL,
    auth_time        INTEGER,
    amr              TEXT    NOT NULL DEFAULT '[]',
    expires_at       INTEGER NOT NULL,
    login_state_hash BLOB    UNIQUE, -- single use of the upstream state
    created_at       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- One row per redeemed authorization code; the refresh family rotates in place.
-- client_id has no foreign key: deleting a client revokes its grants, which
-- stay until they are collected.
CREATE TABLE grants (
    id                 TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL REFERENCES users (id),
    session_id         BLOB,
    scopes             TEXT    NOT NULL DEFAULT '[]',
    audience           TEXT    NOT NULL DEFAULT '[]',
    auth_time          INTEGER,
    amr                TEXT    NOT NULL DEFAULT '[]',
    code_hash          BLOB    UNIQUE, -- single use of the authorization code
    refresh_id         TEXT,
    refresh_generation INTEGER NOT NULL DEFAULT 0,
    refresh_hash       BLOB,
    prev_refresh_hash  BLOB,
    rotated_at         INTEGER,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    revoked_at         INTEGER
) STRICT;

CREATE UNIQUE INDEX grants_refresh_id ON grants (refresh_id) WHERE refresh_id IS NOT NULL;
CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_session_id ON grants (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

-- The key set is one row whose version guards compare-and-swap updates.
CREATE TABLE key_sets (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO key_sets (id, version) VALUES (1, 0);

CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY, -- kid
    position    INTEGER NOT NULL,             -- order within the set
    algorithm   TEXT    NOT NULL,
    private_enc BLOB    NOT NULL,             -- encrypted by the caller
    public_jwk  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    active_from INTEGER,
    retire_at   INTEGER
) STRICT;

CREATE INDEX signing_keys_retire_at ON signing_keys (retire_at) WHERE retire_at IS NOT NULL;

CREATE TABLE audit_events (
    id      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    details TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;

CREATE INDEX audit_events_time ON audit_events (time DESC, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE signing_keys;
DROP TABLE key_sets;
DROP TABLE grants;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE clients;
