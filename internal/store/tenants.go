package store

import (
	"context"
	"database/sql"
	"time"
)

// TenantRow is a tenant as stored.
type TenantRow struct {
	ID       string
	Slug     string
	Name     string
	NameKey  string
	Status   string
	Settings []byte // JSON
	// SecurityContact is sealed (an email address).
	SecurityContact []byte
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

const tenantColumns = "id, slug, name, name_key, status, settings, security_contact, created_at, updated_at"

func scanTenant(s interface{ Scan(...any) error }, r *TenantRow) error {
	var settings string
	var created, updated int64
	if err := s.Scan(&r.ID, &r.Slug, &r.Name, &r.NameKey, &r.Status, &settings, &r.SecurityContact, &created, &updated); err != nil {
		return err
	}
	r.Settings = []byte(settings)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return nil
}

// InsertTenant adds a tenant. A duplicate name key is ErrConflict.
func (t *Tx) InsertTenant(ctx context.Context, r TenantRow) error {
	_, err := t.exec(ctx, `INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.ID, r.Slug, r.Name, r.NameKey, r.Status, string(r.Settings), r.SecurityContact, micros(r.CreatedAt), micros(r.UpdatedAt))
	return err
}

// Tenant returns one tenant.
func (t *Tx) Tenant(ctx context.Context, id string) (TenantRow, error) {
	var r TenantRow
	row := t.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
	if err := scanTenant(row, &r); err != nil {
		return TenantRow{}, classify(err)
	}
	return r, nil
}

// Tenants lists tenants ordered by id, after the cursor id (exclusive).
func (t *Tx) Tenants(ctx context.Context, after string, limit int) ([]TenantRow, error) {
	var out []TenantRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r TenantRow
		if err := scanTenant(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+tenantColumns+` FROM tenants WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return out, err
}

// CountTenants returns the number of tenants.
func (t *Tx) CountTenants(ctx context.Context) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT count(*) FROM tenants`, nil, &n)
	return n, err
}

// UpdateTenantStatus sets a tenant's status.
func (t *Tx) UpdateTenantStatus(ctx context.Context, id, status string, now time.Time) error {
	return t.execOne(ctx, `UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3`, status, micros(now), id)
}

// UpdateTenantSettings replaces a tenant's settings JSON.
func (t *Tx) UpdateTenantSettings(ctx context.Context, id string, settings []byte, now time.Time) error {
	return t.execOne(ctx, `UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3`, string(settings), micros(now), id)
}

// UpdateTenantSecurityContact replaces a tenant's sealed security contact.
func (t *Tx) UpdateTenantSecurityContact(ctx context.Context, id string, sealed []byte, now time.Time) error {
	return t.execOne(ctx, `UPDATE tenants SET security_contact = $1, updated_at = $2 WHERE id = $3`, sealed, micros(now), id)
}

// TenantBySlug returns the tenant with a slug.
func (t *Tx) TenantBySlug(ctx context.Context, slug string) (TenantRow, error) {
	var r TenantRow
	row := t.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug)
	if err := scanTenant(row, &r); err != nil {
		return TenantRow{}, classify(err)
	}
	return r, nil
}
