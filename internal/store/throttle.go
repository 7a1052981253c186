package store

import (
	"context"
	"database/sql"
	"time"
)

// ThrottleRow counts failures from one source within a window.
type ThrottleRow struct {
	Source       []byte
	WindowStart  time.Time
	Failures     int
	BlockedUntil time.Time
}

// Throttle reads a source's counter; ErrNotFound when it has none.
func (t *Tx) Throttle(ctx context.Context, source []byte) (ThrottleRow, error) {
	var r ThrottleRow
	var start int64
	var blocked sql.NullInt64
	err := t.queryRow(ctx, `SELECT source, window_start, failures, blocked_until FROM login_throttle WHERE source = $1`, []any{source},
		&r.Source, &start, &r.Failures, &blocked)
	r.WindowStart, r.BlockedUntil = fromMicros(start), fromNull(blocked)
	return r, err
}

// PutThrottle writes a source's counter.
func (t *Tx) PutThrottle(ctx context.Context, r ThrottleRow) error {
	_, err := t.exec(ctx, `INSERT INTO login_throttle (source, window_start, failures, blocked_until) VALUES ($1, $2, $3, $4)
		ON CONFLICT (source) DO UPDATE SET window_start = excluded.window_start, failures = excluded.failures, blocked_until = excluded.blocked_until`,
		r.Source, micros(r.WindowStart), r.Failures, nullTime(r.BlockedUntil))
	return err
}

// DeleteStaleThrottles removes counters whose window and block ended before.
func (t *Tx) DeleteStaleThrottles(ctx context.Context, before time.Time) (int64, error) {
	us := micros(before)
	res, err := t.exec(ctx, `DELETE FROM login_throttle WHERE window_start < $1 AND (blocked_until IS NULL OR blocked_until < $1)`, us)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
