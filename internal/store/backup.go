package store

import (
	"context"
	"database/sql"
	"time"
)

// BackupRun is one backup or restore test, as recorded for operators.
type BackupRun struct {
	ID         string
	Kind       string // backup, restore_test
	BackupID   string
	StartedAt  time.Time
	FinishedAt time.Time
	Status     string // running, ok, degraded, failed
	Bytes      int64
	Detail     string // JSON
}

// SaveBackupRun inserts or replaces a run's record.
func (t *Tx) SaveBackupRun(ctx context.Context, r BackupRun) error {
	_, err := t.exec(ctx, `INSERT INTO backup_runs (id, kind, backup_id, started_at, finished_at, status, bytes, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status,
			bytes = excluded.bytes, detail = excluded.detail`,
		r.ID, r.Kind, r.BackupID, micros(r.StartedAt), micros(r.FinishedAt), r.Status, r.Bytes, r.Detail)
	return err
}

// BackupRuns lists the latest runs of a kind, newest first.
func (t *Tx) BackupRuns(ctx context.Context, kind string, limit int) ([]BackupRun, error) {
	var out []BackupRun
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r BackupRun
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.BackupID, &started, &finished, &r.Status, &r.Bytes, &r.Detail); err != nil {
			return err
		}
		r.StartedAt, r.FinishedAt = fromMicros(started), fromMicros(finished)
		out = append(out, r)
		return nil
	}, `SELECT id, kind, backup_id, started_at, finished_at, status, bytes, detail FROM backup_runs
		WHERE kind = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, kind, limit)
	return out, err
}

// DocumentRef names one document.
type DocumentRef struct{ TenantID, ID string }

// SampleDocuments returns up to n documents spread over every tenant (a
// restore test decrypts them): the newest of each tenant first, then more.
func (t *Tx) SampleDocuments(ctx context.Context, n int) ([]DocumentRef, error) {
	var out []DocumentRef
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r DocumentRef
		if err := rows.Scan(&r.TenantID, &r.ID); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT tenant_id, id FROM (
			SELECT tenant_id, id, ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY id DESC) AS rank FROM documents
		) ranked ORDER BY rank, tenant_id LIMIT $1`, n)
	return out, err
}
