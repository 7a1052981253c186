-- +goose Up
CREATE TABLE installation (
    id          TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE tenants;
DROP TABLE installation;
