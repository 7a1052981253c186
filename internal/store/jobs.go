package store

import (
	"context"
	"database/sql"
	"time"
)

// JobRow is a scheduled job's row: its schedule, its lease and the state
// of a run under way.
type JobRow struct {
	Name         string
	NextRun      time.Time
	LeaseOwner   string
	LeaseUntil   time.Time
	RunID        string
	State        string
	Runs         int64
	LastStarted  time.Time
	LastFinished time.Time
	LastStatus   string
	LastError    string
}

const jobColumns = "name, next_run, lease_owner, lease_until, run_id, state, runs, last_started, last_finished, last_status, last_error"

func scanJob(s interface{ Scan(...any) error }, r *JobRow) error {
	var next, lease, started, finished int64
	if err := s.Scan(&r.Name, &next, &r.LeaseOwner, &lease, &r.RunID, &r.State, &r.Runs, &started, &finished, &r.LastStatus, &r.LastError); err != nil {
		return err
	}
	r.NextRun, r.LeaseUntil, r.LastStarted, r.LastFinished = fromMicros(next), fromMicros(lease), fromMicros(started), fromMicros(finished)
	return nil
}

// EnsureJob adds a job's row, due at next, unless it exists.
func (t *Tx) EnsureJob(ctx context.Context, name string, next time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES ($1, $2, '', 0, '', '', 0, 0, 0, '', '')
		ON CONFLICT (name) DO NOTHING`, name, micros(next))
	return err
}

// Job returns one job's row.
func (t *Tx) Job(ctx context.Context, name string) (JobRow, error) {
	var r JobRow
	err := scanJob(t.row(ctx, `SELECT `+jobColumns+` FROM jobs WHERE name = $1`, name), &r)
	return r, classify(err)
}

// Jobs returns every job's row, by name.
func (t *Tx) Jobs(ctx context.Context) ([]JobRow, error) {
	var out []JobRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r JobRow
		if err := scanJob(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+jobColumns+` FROM jobs ORDER BY name`)
	return out, err
}

// ClaimJob leases a job to owner until leaseUntil if it is due at now and
// no one holds a live lease. It starts a run with runID, or resumes the
// run under way (a holder that stopped without finishing it). It reports
// whether the lease was taken; the statement is atomic, so of several
// nodes claiming at once exactly one gets it.
func (t *Tx) ClaimJob(ctx context.Context, name, owner, runID string, now, leaseUntil time.Time, force bool) (bool, error) {
	due := micros(now)
	if force {
		due = 1 << 62 // any schedule
	}
	res, err := t.exec(ctx, `UPDATE jobs SET lease_owner = $2, lease_until = $3, last_started = $4,
		run_id = CASE WHEN run_id = '' THEN $5 ELSE run_id END
		WHERE name = $1 AND next_run <= $6 AND lease_until < $4`,
		name, owner, micros(leaseUntil), micros(now), runID, due)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

// ExtendJobLease renews a held lease; ErrNotFound means it was lost.
func (t *Tx) ExtendJobLease(ctx context.Context, name, owner, runID string, until time.Time) error {
	return t.execOne(ctx, `UPDATE jobs SET lease_until = $4 WHERE name = $1 AND lease_owner = $2 AND run_id = $3`,
		name, owner, runID, micros(until))
}

// SaveJobState records a run's progress, inside the transaction that did
// the work it describes; ErrNotFound means the lease was lost (and the
// transaction must not commit).
func (t *Tx) SaveJobState(ctx context.Context, name, owner, runID, state string) error {
	return t.execOne(ctx, `UPDATE jobs SET state = $4 WHERE name = $1 AND lease_owner = $2 AND run_id = $3`,
		name, owner, runID, state)
}

// FinishJob ends a run: ok clears its state and schedules the next run;
// failed keeps the state (the next run resumes it) and schedules a retry.
func (t *Tx) FinishJob(ctx context.Context, name, owner, runID string, ok bool, errText string, now, next time.Time) error {
	if ok {
		return t.execOne(ctx, `UPDATE jobs SET lease_owner = '', lease_until = 0, run_id = '', state = '', runs = runs + 1,
			next_run = $4, last_finished = $5, last_status = 'ok', last_error = '' WHERE name = $1 AND lease_owner = $2 AND run_id = $3`,
			name, owner, runID, micros(next), micros(now))
	}
	return t.execOne(ctx, `UPDATE jobs SET lease_owner = '', lease_until = 0, next_run = $4, last_finished = $5,
		last_status = 'failed', last_error = $6 WHERE name = $1 AND lease_owner = $2 AND run_id = $3`,
		name, owner, runID, micros(next), micros(now), errText)
}

// ScheduleJob moves a job's next run (a run under way is left alone).
func (t *Tx) ScheduleJob(ctx context.Context, name string, next time.Time) error {
	return t.execOne(ctx, `UPDATE jobs SET next_run = $2 WHERE name = $1`, name, micros(next))
}

// QueuedJob is a one-off task in the queue.
type QueuedJob struct {
	ID         string
	Kind       string
	Payload    string
	State      string
	RunAt      time.Time
	LeaseOwner string
	LeaseUntil time.Time
	Attempts   int
	LastError  string
	CreatedAt  time.Time
	FinishedAt time.Time
}

const queueColumns = "id, kind, payload, state, run_at, lease_owner, lease_until, attempts, last_error, created_at, finished_at"

func scanQueued(s interface{ Scan(...any) error }, r *QueuedJob) error {
	var runAt, lease, created, finished int64
	if err := s.Scan(&r.ID, &r.Kind, &r.Payload, &r.State, &runAt, &r.LeaseOwner, &lease, &r.Attempts, &r.LastError, &created, &finished); err != nil {
		return err
	}
	r.RunAt, r.LeaseUntil, r.CreatedAt, r.FinishedAt = fromMicros(runAt), fromMicros(lease), fromMicros(created), fromMicros(finished)
	return nil
}

// Enqueue adds a task.
func (t *Tx) Enqueue(ctx context.Context, q QueuedJob) error {
	_, err := t.exec(ctx, `INSERT INTO job_queue (`+queueColumns+`) VALUES ($1, $2, $3, 'queued', $4, '', 0, 0, '', $5, 0)`,
		q.ID, q.Kind, q.Payload, micros(q.RunAt), micros(q.CreatedAt))
	return err
}

// QueuedJobByID returns one task.
func (t *Tx) QueuedJobByID(ctx context.Context, id string) (QueuedJob, error) {
	var r QueuedJob
	err := scanQueued(t.row(ctx, `SELECT `+queueColumns+` FROM job_queue WHERE id = $1`, id), &r)
	return r, classify(err)
}

// DueQueuedJobs lists queued tasks due at now, oldest first.
func (t *Tx) DueQueuedJobs(ctx context.Context, now time.Time, limit int) ([]QueuedJob, error) {
	var out []QueuedJob
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r QueuedJob
		if err := scanQueued(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+queueColumns+` FROM job_queue WHERE state = 'queued' AND run_at <= $1 AND lease_until < $1 ORDER BY run_at, id LIMIT $2`,
		micros(now), limit)
	return out, err
}

// ClaimQueuedJob leases a queued task; it reports whether it was taken.
func (t *Tx) ClaimQueuedJob(ctx context.Context, id, owner string, now, leaseUntil time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE job_queue SET lease_owner = $2, lease_until = $3, attempts = attempts + 1
		WHERE id = $1 AND state = 'queued' AND lease_until < $4`, id, owner, micros(leaseUntil), micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

// FinishQueuedJob records a task's outcome: state done, failed (given up)
// or queued again at retryAt.
func (t *Tx) FinishQueuedJob(ctx context.Context, id, owner, state, errText string, now, retryAt time.Time) error {
	finished := int64(0)
	if state != "queued" {
		finished = micros(now)
	}
	return t.execOne(ctx, `UPDATE job_queue SET state = $3, last_error = $4, run_at = $5, finished_at = $6, lease_owner = '', lease_until = 0
		WHERE id = $1 AND lease_owner = $2`, id, owner, state, errText, micros(retryAt), finished)
}

// ExpireQueuedJobs deletes finished tasks older than before.
func (t *Tx) ExpireQueuedJobs(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM job_queue WHERE state <> 'queued' AND finished_at < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return n, classify(err)
}
