-- +goose Up
-- A URL-safe, unique short name for each tenant (login and portal URLs).
ALTER TABLE tenants ADD COLUMN slug TEXT;
UPDATE tenants SET slug = id WHERE slug IS NULL;
CREATE UNIQUE INDEX tenants_slug ON tenants (slug);

-- People who log in: users of a tenant and platform operators (whose
-- tenant_id is 'platform'). Personal values are sealed; the e-mail address
-- is found through its blind index.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    kind                TEXT NOT NULL,
    role                TEXT NOT NULL,
    status              TEXT NOT NULL,
    email               BLOB NOT NULL,
    email_index         BLOB NOT NULL,
    display_name        BLOB,
    language            TEXT NOT NULL,
    password_hash       TEXT,
    password_changed_at INTEGER,
    totp_secret         BLOB,
    totp_enabled        INTEGER NOT NULL DEFAULT 0,
    totp_last_step      INTEGER NOT NULL DEFAULT 0,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    lockouts            INTEGER NOT NULL DEFAULT 0,
    locked_until        INTEGER,
    oidc_subject        BLOB,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_login_at       INTEGER,
    UNIQUE (tenant_id, email_index)
) STRICT;
CREATE UNIQUE INDEX accounts_oidc ON accounts (tenant_id, oidc_subject) WHERE oidc_subject IS NOT NULL;

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, code_hash)
) STRICT;

-- Server-side sessions. The id is the SHA-256 of the token in the cookie.
CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    method       TEXT NOT NULL,
    mfa          INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    idle_seconds INTEGER NOT NULL,
    client       BLOB
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_tenant ON sessions (tenant_id);

-- One-time tokens: setup links, password resets, login challenges, e-mailed
-- codes, OIDC state and WebAuthn ceremonies. The id is the SHA-256 of the
-- token; data is sealed.
CREATE TABLE auth_tokens (
    id         BLOB PRIMARY KEY,
    kind       TEXT NOT NULL,
    account_id TEXT,
    tenant_id  TEXT NOT NULL,
    data       BLOB,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX auth_tokens_account ON auth_tokens (account_id, kind);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL,
    credential_id BLOB NOT NULL UNIQUE,
    credential    BLOB NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX passkeys_account ON passkeys (account_id);

-- Failed-login counters per source (a keyed token of the address, never the
-- address itself).
CREATE TABLE login_throttle (
    source        BLOB PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until INTEGER
) STRICT;

CREATE TABLE oidc_providers (
    tenant_id     TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret BLOB NOT NULL,
    claim         TEXT NOT NULL,
    satisfies_mfa INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE oidc_providers;
DROP TABLE login_throttle;
DROP TABLE passkeys;
DROP TABLE auth_tokens;
DROP TABLE sessions;
DROP TABLE recovery_codes;
DROP TABLE accounts;
DROP INDEX tenants_slug;
ALTER TABLE tenants DROP COLUMN slug;
