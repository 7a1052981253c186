package store

import (
	"context"
	"time"
)

// DoctorRun is one run of the doctor's checks (EVD-2). Findings is the
// JSON the doctor wrote; it names settings and tenants, never people.
type DoctorRun struct {
	ID       string
	RanAt    time.Time
	Node     string
	Worst    string
	Findings []byte
}

// InsertDoctorRun records a run and keeps only the newest keep runs.
func (t *Tx) InsertDoctorRun(ctx context.Context, r DoctorRun, keep int) error {
	if _, err := t.exec(ctx, `INSERT INTO doctor_runs (id, ran_at, node, worst, findings) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, micros(r.RanAt), r.Node, r.Worst, string(r.Findings)); err != nil {
		return classify(err)
	}
	_, err := t.exec(ctx, `DELETE FROM doctor_runs WHERE id NOT IN (SELECT id FROM doctor_runs ORDER BY id DESC LIMIT $1)`, keep)
	return err
}

// LatestDoctorRun returns the newest run, or ErrNotFound.
func (t *Tx) LatestDoctorRun(ctx context.Context) (DoctorRun, error) {
	var r DoctorRun
	var at int64
	var findings string
	err := t.queryRow(ctx, `SELECT id, ran_at, node, worst, findings FROM doctor_runs ORDER BY id DESC LIMIT 1`, nil,
		&r.ID, &at, &r.Node, &r.Worst, &findings)
	r.RanAt, r.Findings = fromMicros(at), []byte(findings)
	return r, err
}

// ServerTime is the database server's clock, for PostgreSQL; ok is false
// for SQLite, whose clock is this machine's.
func (db *DB) ServerTime(ctx context.Context) (t time.Time, ok bool, err error) {
	if db.engine != Postgres {
		return time.Time{}, false, nil
	}
	var us int64
	if err := db.reader.queryRow(ctx, `SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT`, nil, &us); err != nil {
		return time.Time{}, false, err
	}
	return fromMicros(us), true, nil
}
