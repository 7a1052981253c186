-- +goose Up
-- Messages (MSG-1..4). A message is a document in the message archive
-- (its content, sealed, lives there and is culled with it after 12 months);
-- these rows are its envelope: the box it is in, the other party, the
-- delivery state, and its transaction log. Everything here is in the clear
-- and holds no personal data: ids, types, states, times, codes.

-- The converter a document type's messages go through (MSG-4), '' none.
ALTER TABLE document_types ADD COLUMN converter TEXT NOT NULL DEFAULT '';

-- A tenant's external endpoints. The URL, signing secrets, client
-- certificate and pin are sealed in config; host is in the clear so that
-- an operator can see where a transfer goes before agreeing to it.
CREATE TABLE message_endpoints (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    host       TEXT NOT NULL,
    purpose    TEXT NOT NULL,                -- send, inbox (push received messages)
    state      TEXT NOT NULL,                -- pending, approved, denied, revoked
    version    INTEGER NOT NULL,             -- bumped by every change of config
    config     BLOB NOT NULL,                -- sealed JSON
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX message_endpoints_state ON message_endpoints (state, tenant_id);

CREATE TABLE messages (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,              -- the message's document id
    box          TEXT NOT NULL,              -- outbox, inbox
    type         TEXT NOT NULL,
    peer_kind    TEXT NOT NULL,              -- tenant, endpoint, partner
    peer_id      TEXT NOT NULL,              -- tenant id, endpoint id, or the partner's API key id
    peer_message TEXT NOT NULL,              -- the other tenant's message id ('' otherwise)
    delivery_id  TEXT NOT NULL,              -- webhook-id, the same on every attempt
    endpoint_id  TEXT NOT NULL,              -- where it is delivered ('' for none)
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,           -- next delivery attempt, 0 for none
    deadline     INTEGER NOT NULL,           -- retries stop after this
    lease_holder TEXT NOT NULL,
    lease_until  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX messages_box ON messages (tenant_id, box, id);
CREATE INDEX messages_due ON messages (next_at) WHERE next_at > 0;
CREATE UNIQUE INDEX messages_delivery ON messages (peer_kind, peer_id, tenant_id, delivery_id);

-- The transaction log: every step, its time and outcome (MSG-3).
CREATE TABLE message_events (
    tenant_id  TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    time       INTEGER NOT NULL,
    step       TEXT NOT NULL,
    outcome    TEXT NOT NULL,                -- ok, failed, refused
    detail     TEXT NOT NULL,                -- JSON: endpoint, status, latency, code; never content
    PRIMARY KEY (tenant_id, message_id, seq)
) STRICT;

-- +goose Down
DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE message_endpoints;
ALTER TABLE document_types DROP COLUMN converter;
