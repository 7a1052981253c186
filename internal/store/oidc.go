package store

import (
	"context"
	"time"
)

// OIDCProviderRow is a tenant's OpenID Connect login configuration.
type OIDCProviderRow struct {
	TenantID     string
	Issuer       string
	ClientID     string
	ClientSecret []byte // sealed
	Claim        string // the claim that identifies the user: "email" or "sub"
	SatisfiesMFA bool
	Enabled      bool
	UpdatedAt    time.Time
}

// OIDCProvider reads a tenant's OIDC configuration.
func (t *Tx) OIDCProvider(ctx context.Context, tenantID string) (OIDCProviderRow, error) {
	var r OIDCProviderRow
	var mfa, enabled, updated int64
	err := t.queryRow(ctx, `SELECT tenant_id, issuer, client_id, client_secret, claim, satisfies_mfa, enabled, updated_at
		FROM oidc_providers WHERE tenant_id = $1`, []any{tenantID},
		&r.TenantID, &r.Issuer, &r.ClientID, &r.ClientSecret, &r.Claim, &mfa, &enabled, &updated)
	r.SatisfiesMFA, r.Enabled, r.UpdatedAt = mfa != 0, enabled != 0, fromMicros(updated)
	return r, err
}

// PutOIDCProvider writes a tenant's OIDC configuration.
func (t *Tx) PutOIDCProvider(ctx context.Context, r OIDCProviderRow) error {
	_, err := t.exec(ctx, `INSERT INTO oidc_providers (tenant_id, issuer, client_id, client_secret, claim, satisfies_mfa, enabled, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, client_secret = excluded.client_secret,
		claim = excluded.claim, satisfies_mfa = excluded.satisfies_mfa, enabled = excluded.enabled, updated_at = excluded.updated_at`,
		r.TenantID, r.Issuer, r.ClientID, r.ClientSecret, r.Claim, boolInt(r.SatisfiesMFA), boolInt(r.Enabled), micros(r.UpdatedAt))
	return err
}

// DeleteOIDCProvider removes a tenant's OIDC configuration.
func (t *Tx) DeleteOIDCProvider(ctx context.Context, tenantID string) error {
	return t.execOne(ctx, `DELETE FROM oidc_providers WHERE tenant_id = $1`, tenantID)
}
