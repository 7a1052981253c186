-- +goose Up
-- Operator access (OPS-1..3, AZ-4): an operator's request for time-boxed
-- access to one scope of a tenant's data, its approval by another security
-- operator, the tenant's consent where the tenant asks for it, and its end.
-- The reason, ticket and comments are sealed under the tenant's key (they
-- may name things); ids, scopes, states and times are in the clear.
CREATE TABLE access_grants (
    id               TEXT NOT NULL PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    requester        TEXT NOT NULL,          -- the operator's account id (cli:<name> at the console)
    scope            TEXT NOT NULL,          -- documents_of_type, document, audit, messages
    doc_type         TEXT NOT NULL,
    doc_id           TEXT NOT NULL,
    detail           BLOB NOT NULL,          -- sealed JSON: reason, ticket, comments
    duration_s       INTEGER NOT NULL,       -- how long it lasts once active
    break_glass      INTEGER NOT NULL,
    approval         TEXT NOT NULL,          -- pending, approved, denied, break_glass
    approver         TEXT NOT NULL,
    approved_at      INTEGER NOT NULL,
    consent          TEXT NOT NULL,          -- not_required, pending, given, refused
    consent_by       TEXT NOT NULL,
    consent_at       INTEGER NOT NULL,
    activated_at     INTEGER NOT NULL,       -- 0 until approved (and consented)
    expires_at       INTEGER NOT NULL,       -- 0 until active
    revoked_at       INTEGER NOT NULL,
    revoked_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL
) STRICT;
-- An operator's grants in force (every request of theirs), and the lists:
-- a tenant's requests, an operator's own, newest (highest id) first.
CREATE INDEX access_grants_active ON access_grants (requester, expires_at);
CREATE INDEX access_grants_tenant ON access_grants (tenant_id, id);
CREATE INDEX access_grants_requester ON access_grants (requester, id);

-- +goose Down
DROP TABLE access_grants;
