package store

import (
	"context"
	"database/sql"
	"time"
)

// APIKeyRow is an API key as stored.
type APIKeyRow struct {
	ID         string
	TenantID   string
	Name       string
	SecretHash []byte
	Scopes     string // JSON array
	AllowedIPs string // JSON array
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// APIKeyAuth is a key with its tenant's status, read in one query.
type APIKeyAuth struct {
	APIKeyRow
	TenantStatus string
}

const apiKeyColumns = "k.id, k.tenant_id, k.name, k.secret_hash, k.scopes, k.allowed_ips, k.created_by, k.created_at, k.expires_at, k.last_used_at, k.revoked_at" // #nosec G101 -- a list of column names, not a credential

func scanAPIKey(s interface{ Scan(...any) error }, r *APIKeyRow, extra ...any) error {
	var created int64
	var expires, used, revoked sql.NullInt64
	dest := append([]any{&r.ID, &r.TenantID, &r.Name, &r.SecretHash, &r.Scopes, &r.AllowedIPs, &r.CreatedBy, &created, &expires, &used, &revoked}, extra...)
	if err := s.Scan(dest...); err != nil {
		return err
	}
	r.CreatedAt, r.ExpiresAt, r.LastUsedAt, r.RevokedAt = fromMicros(created), fromNull(expires), fromNull(used), fromNull(revoked)
	return nil
}

// InsertAPIKey stores a new key.
func (t *Tx) InsertAPIKey(ctx context.Context, r APIKeyRow) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, allowed_ips, created_by, created_at, expires_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)`,
		r.ID, r.TenantID, r.Name, r.SecretHash, r.Scopes, r.AllowedIPs, r.CreatedBy, micros(r.CreatedAt), nullTime(r.ExpiresAt))
	return err
}

// APIKeyForAuth reads a key by id with its tenant's status.
func (t *Tx) APIKeyForAuth(ctx context.Context, id string) (APIKeyAuth, error) {
	var r APIKeyAuth
	row := t.row(ctx, `SELECT `+apiKeyColumns+`, tn.status FROM api_keys k JOIN tenants tn ON tn.id = k.tenant_id WHERE k.id = $1`, id)
	if err := scanAPIKey(row, &r.APIKeyRow, &r.TenantStatus); err != nil {
		return APIKeyAuth{}, classify(err)
	}
	return r, nil
}

// APIKey reads one of a tenant's keys.
func (t *Tx) APIKey(ctx context.Context, tenantID, id string) (APIKeyRow, error) {
	var r APIKeyRow
	row := t.row(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.tenant_id = $1 AND k.id = $2`, tenantID, id)
	if err := scanAPIKey(row, &r); err != nil {
		return APIKeyRow{}, classify(err)
	}
	return r, nil
}

// APIKeys lists a tenant's keys, newest first.
func (t *Tx) APIKeys(ctx context.Context, tenantID string) ([]APIKeyRow, error) {
	var out []APIKeyRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r APIKeyRow
		if err := scanAPIKey(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.tenant_id = $1 ORDER BY k.created_at DESC, k.id`, tenantID)
	return out, err
}

// UpdateAPIKey changes a key's name, scopes and allowed addresses.
func (t *Tx) UpdateAPIKey(ctx context.Context, r APIKeyRow) error {
	return t.execOne(ctx, `UPDATE api_keys SET name = $1, scopes = $2, allowed_ips = $3, expires_at = $4 WHERE tenant_id = $5 AND id = $6 AND revoked_at IS NULL`,
		r.Name, r.Scopes, r.AllowedIPs, nullTime(r.ExpiresAt), r.TenantID, r.ID)
}

// RevokeAPIKey revokes a key; revoking twice is ErrNotFound.
func (t *Tx) RevokeAPIKey(ctx context.Context, tenantID, id string, now time.Time) error {
	return t.execOne(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL`, micros(now), tenantID, id)
}

// TouchAPIKey records a key's use.
func (t *Tx) TouchAPIKey(ctx context.Context, id string, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, micros(now), id)
	return err
}

// CountAPIKeys counts a tenant's live keys, and those without an IP allowlist.
func (t *Tx) CountAPIKeys(ctx context.Context, tenantID string) (live, unrestricted int64, err error) {
	err = t.queryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN allowed_ips = '[]' THEN 1 ELSE 0 END), 0) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL`,
		[]any{tenantID}, &live, &unrestricted)
	return live, unrestricted, err
}
