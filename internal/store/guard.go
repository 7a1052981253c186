package store

import (
	"context"
	"time"
)

// GuardSourceRow is what the guard keeps about one client address: its
// offences in the current window and the block in force, if any.
type GuardSourceRow struct {
	Token        []byte // keyed token of the address (the lookup key)
	Address      []byte // the address, sealed under the platform's key
	WindowStart  time.Time
	Score        int
	Blocks       int // automatic blocks so far
	BlockedUntil time.Time
	Reason       string // waf, auth, manual
	Note         string
	CreatedBy    string
	UpdatedAt    time.Time
}

const guardSourceColumns = `token, address, window_start, score, blocks, blocked_until, reason, note, created_by, updated_at`

func scanGuardSource(s interface{ Scan(...any) error }, r *GuardSourceRow) error {
	var start, until, updated int64
	if err := s.Scan(&r.Token, &r.Address, &start, &r.Score, &r.Blocks, &until, &r.Reason, &r.Note, &r.CreatedBy, &updated); err != nil {
		return err
	}
	r.WindowStart, r.BlockedUntil, r.UpdatedAt = fromMicros(start), fromMicros(until), fromMicros(updated)
	return nil
}

// GuardSource reads one address's row; ErrNotFound when it has none.
func (t *Tx) GuardSource(ctx context.Context, token []byte) (GuardSourceRow, error) {
	var r GuardSourceRow
	err := scanGuardSource(t.row(ctx, `SELECT `+guardSourceColumns+` FROM guard_sources WHERE token = $1`+t.forUpdate(), token), &r)
	return r, classify(err)
}

// GuardBlockedUntil is when the block on an address ends (zero: none).
func (t *Tx) GuardBlockedUntil(ctx context.Context, token []byte) (time.Time, error) {
	var until int64
	err := t.queryRow(ctx, `SELECT blocked_until FROM guard_sources WHERE token = $1`, []any{token}, &until)
	if err == ErrNotFound {
		return time.Time{}, nil
	}
	return fromMicros(until), err
}

// PutGuardSource writes an address's row.
func (t *Tx) PutGuardSource(ctx context.Context, r GuardSourceRow) error {
	_, err := t.exec(ctx, `INSERT INTO guard_sources (`+guardSourceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (token) DO UPDATE SET address = excluded.address, window_start = excluded.window_start, score = excluded.score,
		blocks = excluded.blocks, blocked_until = excluded.blocked_until, reason = excluded.reason, note = excluded.note,
		created_by = excluded.created_by, updated_at = excluded.updated_at`,
		r.Token, r.Address, micros(r.WindowStart), r.Score, r.Blocks, micros(r.BlockedUntil), r.Reason, r.Note, r.CreatedBy, micros(r.UpdatedAt))
	return classify(err)
}

// BlockedGuardSources lists the addresses blocked after now, the block
// ending last first.
func (t *Tx) BlockedGuardSources(ctx context.Context, now time.Time) ([]GuardSourceRow, error) {
	rows, err := t.query(ctx, `SELECT `+guardSourceColumns+` FROM guard_sources WHERE blocked_until > $1 ORDER BY blocked_until DESC`, micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GuardSourceRow
	for rows.Next() {
		var r GuardSourceRow
		if err := scanGuardSource(rows, &r); err != nil {
			return nil, classify(err)
		}
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// DeleteStaleGuardSources removes addresses that are not blocked and did
// nothing since before.
func (t *Tx) DeleteStaleGuardSources(ctx context.Context, before time.Time) (int64, error) {
	us := micros(before)
	res, err := t.exec(ctx, `DELETE FROM guard_sources WHERE updated_at < $1 AND blocked_until < $1`, us)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// GuardNetworkRow is a network an operator blocked or allowed.
type GuardNetworkRow struct {
	Prefix    string // canonical CIDR
	Kind      string // block, allow
	Until     time.Time
	Note      string
	CreatedBy string
	CreatedAt time.Time
}

// GuardNetworks lists every network entry.
func (t *Tx) GuardNetworks(ctx context.Context) ([]GuardNetworkRow, error) {
	rows, err := t.query(ctx, `SELECT prefix, kind, until_at, note, created_by, created_at FROM guard_networks ORDER BY kind, prefix`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GuardNetworkRow
	for rows.Next() {
		var r GuardNetworkRow
		var until, created int64
		if err := rows.Scan(&r.Prefix, &r.Kind, &until, &r.Note, &r.CreatedBy, &created); err != nil {
			return nil, classify(err)
		}
		r.Until, r.CreatedAt = fromMicros(until), fromMicros(created)
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// PutGuardNetwork adds a network entry or replaces the one of the same
// kind and prefix.
func (t *Tx) PutGuardNetwork(ctx context.Context, r GuardNetworkRow) error {
	_, err := t.exec(ctx, `INSERT INTO guard_networks (prefix, kind, until_at, note, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, prefix) DO UPDATE SET until_at = excluded.until_at, note = excluded.note, created_by = excluded.created_by,
		created_at = excluded.created_at`,
		r.Prefix, r.Kind, micros(r.Until), r.Note, r.CreatedBy, micros(r.CreatedAt))
	return classify(err)
}

// DeleteGuardNetwork removes a network entry; ErrNotFound when there is none.
func (t *Tx) DeleteGuardNetwork(ctx context.Context, kind, prefix string) error {
	return t.execOne(ctx, `DELETE FROM guard_networks WHERE kind = $1 AND prefix = $2`, kind, prefix)
}

// DeleteGuardSource removes an address's row; ErrNotFound when there is none.
func (t *Tx) DeleteGuardSource(ctx context.Context, token []byte) error {
	return t.execOne(ctx, `DELETE FROM guard_sources WHERE token = $1`, token)
}

// AddGuardCount adds n to a key's counter in the window starting at
// window and returns the counter's total, from every node.
func (t *Tx) AddGuardCount(ctx context.Context, key []byte, window time.Time, n int64) (int64, error) {
	var total int64
	err := t.queryRow(ctx, `INSERT INTO guard_counters (key, window_start, count) VALUES ($1, $2, $3)
		ON CONFLICT (key, window_start) DO UPDATE SET count = guard_counters.count + excluded.count
		RETURNING count`, []any{key, micros(window), n}, &total)
	return total, err
}

// DeleteGuardCounters removes counters of windows that started before.
func (t *Tx) DeleteGuardCounters(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM guard_counters WHERE window_start < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// GuardAlertRow is an event waiting for the security contact's summary.
type GuardAlertRow struct {
	ID     string
	At     time.Time
	Kind   string // waf, block
	Source []byte // keyed token of the address
	Detail string // JSON without personal data
}

// InsertGuardAlert queues an event for the summary.
func (t *Tx) InsertGuardAlert(ctx context.Context, r GuardAlertRow) error {
	_, err := t.exec(ctx, `INSERT INTO guard_alerts (id, at, kind, source, detail) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, micros(r.At), r.Kind, r.Source, r.Detail)
	return classify(err)
}

// GuardAlerts lists up to limit queued events, oldest first.
func (t *Tx) GuardAlerts(ctx context.Context, limit int) ([]GuardAlertRow, error) {
	rows, err := t.query(ctx, `SELECT id, at, kind, source, detail FROM guard_alerts ORDER BY at, id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GuardAlertRow
	for rows.Next() {
		var r GuardAlertRow
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Kind, &r.Source, &r.Detail); err != nil {
			return nil, classify(err)
		}
		r.At = fromMicros(at)
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// DeleteGuardAlertsUpTo removes the queued events up to and including the
// one at (at, id), in the order GuardAlerts lists them.
func (t *Tx) DeleteGuardAlertsUpTo(ctx context.Context, at time.Time, id string) (int64, error) {
	us := micros(at)
	res, err := t.exec(ctx, `DELETE FROM guard_alerts WHERE at < $1 OR (at = $1 AND id <= $2)`, us, id)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
