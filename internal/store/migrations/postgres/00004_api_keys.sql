-- +goose Up
-- API keys. The secret is stored only as its SHA-256 (it is 256 random
-- bits, so it cannot be guessed from the hash); the id is public.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    scopes       TEXT NOT NULL,   -- JSON array
    allowed_ips  TEXT NOT NULL,   -- JSON array of CIDR ranges; empty = any
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- +goose Down
DROP TABLE api_keys;
