-- When dingoidc last checked a person with their upstream outside a login
-- (a login is a check too: users.last_login_at). A refresh checks again
-- when both are older than revalidate_after, so that leavers lose access.

-- +goose Up
CREATE TABLE user_checks (
    user_id    text        PRIMARY KEY REFERENCES users (id),
    checked_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE user_checks;
