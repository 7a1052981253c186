-- +goose Up
-- Data-subject rights (GDPR-1..5, TEN-3).
--
-- A document whose processing is restricted (art. 18) is hidden from every
-- normal read, list and search: 'erasure' when it was to be erased but the
-- law (or a legal hold) keeps it, until then; 'request' when the subject
-- asked for restriction.
ALTER TABLE documents ADD COLUMN restricted TEXT NOT NULL DEFAULT '';
-- Who used a subject's documents: the access log of a register extract.
CREATE INDEX audit_entries_resource ON audit_entries (chain, resource_type, resource_id);

-- Data-subject requests: durable, run as resumable queued work. The
-- subject's identifiers are sealed (and dropped once the subject is
-- erased); tokens are their blind indexes.
CREATE TABLE subject_requests (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,               -- access, portability, erasure, anonymisation, restriction
    scope        TEXT NOT NULL,               -- subject, document
    target       TEXT NOT NULL,               -- the document id for scope document
    subjects     BLOB,                        -- sealed JSON identifiers; NULL once erased
    options      TEXT NOT NULL,               -- JSON: fields to anonymise, note; no personal data
    requested_by TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    deadline     TEXT NOT NULL,               -- YYYY-MM-DD: one month from receipt
    status       TEXT NOT NULL,               -- queued, running, retrying, completed, failed
    progress     TEXT NOT NULL,               -- JSON: where the work stands and what it did
    attempts     INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    result       BLOB,                        -- sealed extract (access, portability); NULL otherwise
    receipt      TEXT NOT NULL,               -- signed receipt (erasure, anonymisation, restriction)
    completed_at INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX subject_requests_open ON subject_requests (status, deadline);

CREATE TABLE subject_request_tokens (
    tenant_id  TEXT NOT NULL,
    token      BLOB NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, token, request_id)
) STRICT, WITHOUT ROWID;

-- The erasure ledger: every erasure, by ids and blind tokens only, so that
-- a restored backup can be erased again (GDPR-5).
CREATE TABLE erasure_ledger (
    id         TEXT PRIMARY KEY,              -- UUIDv7: ordered by time
    tenant_id  TEXT NOT NULL,
    request_id TEXT NOT NULL,
    scope      TEXT NOT NULL,                 -- document, subject, tenant
    target     TEXT NOT NULL,                 -- document id, base64 token, tenant id
    time       INTEGER NOT NULL
) STRICT;

-- Account termination (TEN-3): requested by an owner, carried out after
-- the grace period unless cancelled.
CREATE TABLE tenant_terminations (
    tenant_id    TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    erase_after  INTEGER NOT NULL,
    state        TEXT NOT NULL,               -- pending, cancelled, erasing, restricted, done
    cancelled_by TEXT NOT NULL,
    cancelled_at INTEGER NOT NULL,
    erased_at    INTEGER NOT NULL,
    kept         INTEGER NOT NULL,            -- legal-archive documents kept restricted
    receipt      TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE tenant_terminations;
DROP TABLE erasure_ledger;
DROP TABLE subject_request_tokens;
DROP TABLE subject_requests;
DROP INDEX audit_entries_resource;
ALTER TABLE documents DROP COLUMN restricted;
