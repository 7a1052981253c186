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
    email               BYTEA NOT NULL,
    email_index         BYTEA NOT NULL,
    display_name        BYTEA,
    language            TEXT NOT NULL,
    password_hash       TEXT,
    password_changed_at BIGINT,
    totp_secret         BYTEA,
    totp_enabled        BIGINT NOT NULL DEFAULT 0,
    totp_last_step      BIGINT NOT NULL DEFAULT 0,
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    lockouts            BIGINT NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    oidc_subject        BYTEA,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_login_at       BIGINT,
    UNIQUE (tenant_id, email_index)
);
CREATE UNIQUE INDEX accounts_oidc ON accounts (tenant_id, oidc_subject) WHERE oidc_subject IS NOT NULL;

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- Server-side sessions. The id is the SHA-256 of the token in the cookie.
CREATE TABLE sessions (
    id           BYTEA PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    method       TEXT NOT NULL,
    mfa          BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    idle_seconds BIGINT NOT NULL,
    client       BYTEA
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_tenant ON sessions (tenant_id);

-- One-time tokens: setup links, password resets, login challenges, e-mailed
-- codes, OIDC state and WebAuthn ceremonies. The id is the SHA-256 of the
-- token; data is sealed.
CREATE TABLE auth_tokens (
    id         BYTEA PRIMARY KEY,
    kind       TEXT NOT NULL,
    account_id TEXT,
    tenant_id  TEXT NOT NULL,
    data       BYTEA,
    attempts   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX auth_tokens_account ON auth_tokens (account_id, kind);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL,
    credential_id BYTEA NOT NULL UNIQUE,
    credential    BYTEA NOT NULL,
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

-- Failed-login counters per source (a keyed token of the address, never the
-- address itself).
CREATE TABLE login_throttle (
    source        BYTEA PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    failures      BIGINT NOT NULL,
    blocked_until BIGINT
);

CREATE TABLE oidc_providers (
    tenant_id     TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret BYTEA NOT NULL,
    claim         TEXT NOT NULL,
    satisfies_mfa BIGINT NOT NULL,
    enabled       BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

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
