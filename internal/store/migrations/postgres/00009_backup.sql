-- +goose Up
-- Backups and restore tests (BAK-1, BAK-3): one row per run, for the
-- operators' view and the metrics. The backups themselves live on the
-- targets; their manifests are the source of truth for what exists.
CREATE TABLE backup_runs (
    id          TEXT PRIMARY KEY,            -- the backup id, or the restore test's own id
    kind        TEXT NOT NULL,               -- backup, restore_test
    backup_id   TEXT NOT NULL,               -- the backup (a restore test's subject)
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status      TEXT NOT NULL,               -- running, ok, degraded, failed
    bytes       BIGINT NOT NULL,
    detail      TEXT NOT NULL                -- JSON: per-target results, counts, the error
);
CREATE INDEX backup_runs_kind ON backup_runs (kind, started_at);

-- +goose Down
DROP INDEX backup_runs_kind;
DROP TABLE backup_runs;
