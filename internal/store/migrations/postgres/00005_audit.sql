-- +goose Up
-- The audit trail: one hash chain per tenant and one for the platform
-- ('platform'). Each entry's hash is the RFC 6962 leaf hash of its canonical
-- encoding, which includes the previous entry's hash. Entries hold ids and
-- keyed tokens; the client's address and user agent, and a free-text
-- reason, are sealed.
CREATE TABLE audit_entries (
    chain         TEXT NOT NULL,
    id            TEXT NOT NULL,             -- random (UUIDv7); binds the sealed fields
    seq           BIGINT NOT NULL,          -- 0, 1, 2, ... per chain
    time          BIGINT NOT NULL,
    tenant_id     TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    status        BIGINT NOT NULL,
    request_id    TEXT NOT NULL,
    channel       TEXT NOT NULL,
    ip_token      TEXT NOT NULL,
    ua_token      TEXT NOT NULL,
    client        BYTEA,
    reason        BYTEA,
    grant_id      TEXT NOT NULL,
    details       TEXT NOT NULL,
    prev_hash     BYTEA NOT NULL,
    hash          BYTEA NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_entries_time ON audit_entries (chain, time);

-- The head of each chain: the next sequence number and the last hash.
CREATE TABLE audit_heads (
    chain      TEXT PRIMARY KEY,
    next_seq   BIGINT NOT NULL,
    last_hash  BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Signed checkpoints (signed-note format) of each chain's Merkle tree. The
-- compact range (the hashes of the tree's maximal complete subtrees) lets
-- verification and proofs continue after older entries are pruned.
CREATE TABLE audit_checkpoints (
    chain     TEXT NOT NULL,
    size      BIGINT NOT NULL,
    root      BYTEA NOT NULL,
    last_hash BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    note      TEXT NOT NULL,
    compact   BYTEA NOT NULL,
    PRIMARY KEY (chain, size)
);

-- Where each chain was pruned to (entries with seq < pruned_to are gone);
-- the checkpoint of that size anchors verification.
CREATE TABLE audit_pruned (
    chain     TEXT PRIMARY KEY,
    pruned_to BIGINT NOT NULL,
    pruned_at BIGINT NOT NULL
);

-- The audit signing key: an Ed25519 signed-note key, its private half
-- sealed under the platform keyset.
CREATE TABLE audit_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    signer     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Payload history (AUD-4): what a tenant submitted, sealed, when the
-- tenant keeps it.
CREATE TABLE payload_history (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    time          BIGINT NOT NULL,
    request_id    TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    payload       BYTEA NOT NULL
);
CREATE INDEX payload_history_tenant ON payload_history (tenant_id, time);
CREATE INDEX payload_history_time ON payload_history (time);

-- How far each outside log system has been sent the trail.
CREATE TABLE audit_forward (
    sink  TEXT NOT NULL,
    chain TEXT NOT NULL,
    seq   BIGINT NOT NULL,
    PRIMARY KEY (sink, chain)
);

-- +goose Down
DROP TABLE audit_forward;
DROP TABLE payload_history;
DROP TABLE audit_keys;
DROP TABLE audit_pruned;
DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
DROP TABLE audit_entries;
