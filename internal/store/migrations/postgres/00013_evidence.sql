-- +goose Up
-- Evidence (EVD-2, ENV-2): where a message endpoint is (its region label,
-- checked against the tenant's data-residency pin), and the findings of
-- the doctor's scheduled runs (configuration weaknesses; no personal data).
ALTER TABLE message_endpoints ADD COLUMN region TEXT NOT NULL DEFAULT '';

CREATE TABLE doctor_runs (
    id        TEXT NOT NULL PRIMARY KEY,
    ran_at    BIGINT NOT NULL,
    node      TEXT NOT NULL,
    worst     TEXT NOT NULL,  -- ok, info, warning, critical
    findings  TEXT NOT NULL   -- JSON array of findings
);
CREATE INDEX doctor_runs_at ON doctor_runs (ran_at);

-- +goose Down
DROP TABLE doctor_runs;
ALTER TABLE message_endpoints DROP COLUMN region;
