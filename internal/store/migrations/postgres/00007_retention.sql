-- +goose Up
-- Retention (RET-1..5). Every document carries the last day it is kept
-- (retain_until, computed from the tenant's rules) and, after a reviewer
-- extended it, the day it was extended to (keep_until). Culling deletes
-- what is past retain_until and not under a legal hold.
ALTER TABLE documents ADD COLUMN retain_until TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN keep_until TEXT NOT NULL DEFAULT '';
CREATE INDEX documents_retain ON documents (retain_until, tenant_id, id);
CREATE INDEX payload_history_resource ON payload_history (tenant_id, resource_type, resource_id);

-- A tenant's retention policy: whether it has the 6+1 archive contract, its
-- standard archive's period and who gets the review digest.
CREATE TABLE retention_policies (
    tenant_id       TEXT PRIMARY KEY,
    contract        BIGINT NOT NULL,
    standard_months BIGINT NOT NULL,
    reviewers       TEXT NOT NULL,            -- JSON array of account ids; [] = owners and admins
    updated_at      BIGINT NOT NULL
);

-- A tenant's instructions to keep longer, per archive (type '') or per
-- document type.
CREATE TABLE retention_rules (
    tenant_id  TEXT NOT NULL,
    archive    TEXT NOT NULL,
    type       TEXT NOT NULL,
    months     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, archive, type)
);

-- Legal holds on a document, a type or a data subject (by blind-index
-- token). Nothing under an active hold (lifted_at = 0) is culled or deleted.
CREATE TABLE legal_holds (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    scope       TEXT NOT NULL,                -- document, type, subject
    target      TEXT NOT NULL,                -- document id or type; '' for subject
    token       BYTEA NOT NULL,                -- subject's blind index; empty otherwise
    kind        TEXT NOT NULL,                -- subject identifier kind
    reason      BYTEA NOT NULL,                -- sealed
    placed_by   TEXT NOT NULL,
    placed_at   BIGINT NOT NULL,
    lifted_by   TEXT NOT NULL,
    lifted_at   BIGINT NOT NULL,             -- 0 while active
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX legal_holds_active ON legal_holds (tenant_id, scope, target) WHERE lifted_at = 0;
CREATE INDEX legal_holds_token ON legal_holds (tenant_id, token) WHERE lifted_at = 0 AND scope = 'subject';

-- A culling run's report per tenant: counts per archive and type, never
-- content.
CREATE TABLE culling_reports (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    cutoff      TEXT NOT NULL,                -- documents kept until before this day were culled
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    counts      TEXT NOT NULL,                -- JSON: [{archive, type, documents}]
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX culling_reports_run ON culling_reports (tenant_id, run_id);

-- Scheduled jobs: one row per job, leased by one node at a time. A run's
-- progress (state) is saved with its work, so a run that stops halfway is
-- resumed by the next lease holder.
CREATE TABLE jobs (
    name          TEXT PRIMARY KEY,
    next_run      BIGINT NOT NULL,
    lease_owner   TEXT NOT NULL,
    lease_until   BIGINT NOT NULL,
    run_id        TEXT NOT NULL,              -- '' when no run is under way
    state         TEXT NOT NULL,
    runs          BIGINT NOT NULL,
    last_started  BIGINT NOT NULL,
    last_finished BIGINT NOT NULL,
    last_status   TEXT NOT NULL,              -- '', ok, failed
    last_error    TEXT NOT NULL
);

-- Queued work: one-off tasks, retried with back-off until done.
CREATE TABLE job_queue (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,                -- queued, done, failed
    run_at      BIGINT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX job_queue_due ON job_queue (state, run_at);

-- +goose Down
DROP TABLE job_queue;
DROP TABLE jobs;
DROP TABLE culling_reports;
DROP TABLE legal_holds;
DROP TABLE retention_rules;
DROP TABLE retention_policies;
DROP INDEX payload_history_resource;
DROP INDEX documents_retain;
ALTER TABLE documents DROP COLUMN keep_until;
ALTER TABLE documents DROP COLUMN retain_until;
