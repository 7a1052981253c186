-- +goose Up
-- One row describing this installation.
CREATE TABLE installation (
    id          TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,   -- normalised name, for uniqueness
    status     TEXT NOT NULL,
    settings   TEXT NOT NULL,          -- JSON, no personal data
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE tenants;
DROP TABLE installation;
