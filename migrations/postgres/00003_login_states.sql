-- Upstream login states claimed by a callback: a state drives one code
-- exchange with the upstream, and a failed one ends the attempt
-- (idp/callback.go). Rows go when the state expires. Conventions as in
-- 00001_init.sql.

-- +goose Up
CREATE TABLE login_states (
    hash       bytea       NOT NULL PRIMARY KEY, -- SHA-256 of the state's nonce
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE login_states;
