-- +goose Up
-- The root key's public record: which provider holds it, a random
-- fingerprint, and a check value that only the right root key opens. For
-- Shamir, the threshold, share count and Feldman commitments (which let each
-- share be verified on its own; they reveal nothing about the key).
CREATE TABLE root_key (
    id                 SMALLINT PRIMARY KEY CHECK (id = 1),
    provider           TEXT NOT NULL,
    fingerprint        TEXT NOT NULL,
    check_value        BYTEA NOT NULL,
    shamir_threshold   BIGINT NOT NULL DEFAULT 0,
    shamir_shares      BIGINT NOT NULL DEFAULT 0,
    shamir_commitments BYTEA,
    created_at         BIGINT NOT NULL,
    rotated_at         BIGINT NOT NULL
);

-- One row per tenant (and one for the platform): its three Tink keysets,
-- each encrypted by the root key with the tenant and purpose as associated data.
CREATE TABLE keysets (
    tenant_id        TEXT PRIMARY KEY,
    version          BIGINT NOT NULL,
    aead             BYTEA NOT NULL,
    prf              BYTEA NOT NULL,
    stream           BYTEA NOT NULL,
    root_fingerprint TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    rotated_at       BIGINT NOT NULL,
    destroyed_at     BIGINT
);

-- Where a re-encryption after rotation got to, per sealed column.
CREATE TABLE reencrypt_cursors (
    tenant_id   TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    after_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, table_name, column_name)
);

ALTER TABLE tenants ADD COLUMN security_contact BYTEA;

-- +goose Down
ALTER TABLE tenants DROP COLUMN security_contact;
DROP TABLE reencrypt_cursors;
DROP TABLE keysets;
DROP TABLE root_key;
