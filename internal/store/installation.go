package store

import (
	"context"
	"errors"
	"time"
)

// InstallationRow describes this installation.
type InstallationRow struct {
	ID          string
	Environment string
	CreatedAt   time.Time
}

// Installation returns the installation row, or ErrNotFound before the first
// start.
func (t *Tx) Installation(ctx context.Context) (InstallationRow, error) {
	var r InstallationRow
	var created int64
	err := t.queryRow(ctx, `SELECT id, environment, created_at FROM installation`, nil, &r.ID, &r.Environment, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

// EnsureInstallation creates the installation row if there is none and
// returns the row that is there.
func (t *Tx) EnsureInstallation(ctx context.Context, r InstallationRow) (InstallationRow, error) {
	cur, err := t.Installation(ctx)
	if err == nil {
		return cur, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return InstallationRow{}, err
	}
	if _, err := t.exec(ctx, `INSERT INTO installation (id, environment, created_at) VALUES ($1, $2, $3)`,
		r.ID, r.Environment, micros(r.CreatedAt)); err != nil {
		return InstallationRow{}, err
	}
	return r, nil
}
