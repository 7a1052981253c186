-- +goose Up
-- Documents (DOC-1..3). Everything personal is sealed: a version's content
-- (data, metadata, subjects, file name) and each subject identifier, which
-- is found by its blind index (token). Types, archives and dates are in the
-- clear, for listing and retention.
CREATE TABLE document_types (
    tenant_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    schema          TEXT NOT NULL,            -- JSON Schema, '' for none
    default_archive TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE documents (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,              -- UUIDv7: ordered by creation
    type          TEXT NOT NULL,
    archive       TEXT NOT NULL,              -- legal, standard, message
    document_date TEXT NOT NULL,              -- YYYY-MM-DD
    review_date   TEXT NOT NULL,              -- YYYY-MM-DD, '' for none
    version       INTEGER NOT NULL,           -- the current version
    file_id       TEXT NOT NULL,              -- the current file, '' for none
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX documents_type ON documents (tenant_id, type, id);
CREATE INDEX documents_date ON documents (tenant_id, document_date);
CREATE INDEX documents_review ON documents (tenant_id, review_date) WHERE review_date <> '';

-- Every version's whole content, sealed; changed lists the fields that
-- changed from the version before (paths, never values).
CREATE TABLE document_versions (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,                -- <document id>/<version>: binds the content
    document_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    changed     TEXT NOT NULL,                -- JSON array of field paths
    file_id     TEXT NOT NULL,
    content     BLOB NOT NULL,                -- sealed JSON
    PRIMARY KEY (tenant_id, document_id, version)
) STRICT;
CREATE UNIQUE INDEX document_versions_id ON document_versions (tenant_id, id);

-- The current version's subjects: sealed value, blind-index token.
CREATE TABLE document_subjects (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,                -- random: binds the sealed value
    token       BLOB NOT NULL,
    document_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       BLOB NOT NULL,                -- sealed
    PRIMARY KEY (tenant_id, document_id, token)
) STRICT, WITHOUT ROWID;
CREATE INDEX document_subjects_token ON document_subjects (tenant_id, token, document_id);
CREATE UNIQUE INDEX document_subjects_id ON document_subjects (tenant_id, id);

-- Files: a streaming-AEAD ciphertext in chunks. A file is 'staged' while it
-- is uploaded and scanned, and 'stored' once the document that refers to it
-- commits; staged files nobody committed are removed by a job.
CREATE TABLE files (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    document_id  TEXT NOT NULL,               -- '' while staged
    state        TEXT NOT NULL,               -- staged, stored
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    chunks       INTEGER NOT NULL,
    scanned      TEXT NOT NULL,               -- clean, unscanned
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX files_document ON files (tenant_id, document_id);
CREATE INDEX files_staged ON files (state, created_at);

CREATE TABLE file_chunks (
    file_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (file_id, seq)
) STRICT;

-- Idempotency-Key on create: the key's hash, per tenant and caller, with
-- the hash of the request and the document it created.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    key_hash     BLOB NOT NULL,
    request_hash BLOB NOT NULL,
    document_id  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, actor, key_hash)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE file_chunks;
DROP TABLE files;
DROP TABLE document_subjects;
DROP TABLE document_versions;
DROP TABLE documents;
DROP TABLE document_types;
