-- +goose Up
-- Threat protection (GRD-1, GRD-2, AUTH-5): the state that every node
-- shares, so that a limit or a block holds whichever node a client reaches.
-- Client addresses are personal data: a single address is stored only as a
-- keyed token (the lookup key) and sealed under the platform's key (for
-- operators' lists). Networks an operator blocks or allows are stored as
-- written (they name ranges, not people).

-- A source address: its offences in the current window, its automatic
-- blocks so far (each longer than the last) and the block in force.
CREATE TABLE guard_sources (
    token          BYTEA NOT NULL PRIMARY KEY, -- keyed token of the address
    address        BYTEA NOT NULL,             -- sealed address
    window_start   BIGINT NOT NULL,
    score          BIGINT NOT NULL,          -- offence points in the window
    blocks         BIGINT NOT NULL,          -- automatic blocks so far
    blocked_until  BIGINT NOT NULL,          -- 0: not blocked
    reason         TEXT NOT NULL,             -- waf, auth, manual
    note           TEXT NOT NULL,             -- an operator's note (manual blocks)
    created_by     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX guard_sources_blocked ON guard_sources (blocked_until);

-- Networks an operator blocked or allowed (allowed: never blocked
-- automatically, not limited per address).
CREATE TABLE guard_networks (
    prefix      TEXT NOT NULL,   -- canonical CIDR
    kind        TEXT NOT NULL,   -- block, allow
    until_at    BIGINT NOT NULL, -- 0: until removed
    note        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, prefix)
);

-- Request counters per limited key (an address token, an API key, a user,
-- a tenant) and fixed window; every node adds its counts.
CREATE TABLE guard_counters (
    key           BYTEA NOT NULL,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX guard_counters_window ON guard_counters (window_start);

-- Events waiting for the security contact's summary: no address, no
-- request data; rule ids, scores, block lengths.
CREATE TABLE guard_alerts (
    id      TEXT NOT NULL PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,   -- waf, block
    source  BYTEA NOT NULL,   -- keyed token of the address (distinct sources)
    detail  TEXT NOT NULL    -- JSON: rules, score, reason, duration
);
CREATE INDEX guard_alerts_at ON guard_alerts (at);

-- +goose Down
DROP TABLE guard_alerts;
DROP TABLE guard_counters;
DROP TABLE guard_networks;
DROP TABLE guard_sources;
