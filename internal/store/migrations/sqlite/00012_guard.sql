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
    token          BLOB NOT NULL PRIMARY KEY, -- keyed token of the address
    address        BLOB NOT NULL,             -- sealed address
    window_start   INTEGER NOT NULL,
    score          INTEGER NOT NULL,          -- offence points in the window
    blocks         INTEGER NOT NULL,          -- automatic blocks so far
    blocked_until  INTEGER NOT NULL,          -- 0: not blocked
    reason         TEXT NOT NULL,             -- waf, auth, manual
    note           TEXT NOT NULL,             -- an operator's note (manual blocks)
    created_by     TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX guard_sources_blocked ON guard_sources (blocked_until);

-- Networks an operator blocked or allowed (allowed: never blocked
-- automatically, not limited per address).
CREATE TABLE guard_networks (
    prefix      TEXT NOT NULL,   -- canonical CIDR
    kind        TEXT NOT NULL,   -- block, allow
    until_at    INTEGER NOT NULL, -- 0: until removed
    note        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, prefix)
) STRICT;

-- Request counters per limited key (an address token, an API key, a user,
-- a tenant) and fixed window; every node adds its counts.
CREATE TABLE guard_counters (
    key           BLOB NOT NULL,
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT;
CREATE INDEX guard_counters_window ON guard_counters (window_start);

-- Events waiting for the security contact's summary: no address, no
-- request data; rule ids, scores, block lengths.
CREATE TABLE guard_alerts (
    id      TEXT NOT NULL PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,   -- waf, block
    source  BLOB NOT NULL,   -- keyed token of the address (distinct sources)
    detail  TEXT NOT NULL    -- JSON: rules, score, reason, duration
) STRICT;
CREATE INDEX guard_alerts_at ON guard_alerts (at);

-- +goose Down
DROP TABLE guard_alerts;
DROP TABLE guard_counters;
DROP TABLE guard_networks;
DROP TABLE guard_sources;
