package store

import (
	"context"
	"database/sql"
	"time"
)

// PasskeyRow is a registered WebAuthn credential.
type PasskeyRow struct {
	ID           string
	AccountID    string
	TenantID     string
	CredentialID []byte
	Credential   []byte // JSON of the library's credential record (public key, counters, flags)
	Name         string
	CreatedAt    time.Time
	LastUsedAt   time.Time
}

const passkeyColumns = "id, account_id, tenant_id, credential_id, credential, name, created_at, last_used_at" // #nosec G101 -- a list of column names, not a credential

func scanPasskey(s interface{ Scan(...any) error }, r *PasskeyRow) error {
	var created int64
	var used sql.NullInt64
	if err := s.Scan(&r.ID, &r.AccountID, &r.TenantID, &r.CredentialID, &r.Credential, &r.Name, &created, &used); err != nil {
		return err
	}
	r.CreatedAt, r.LastUsedAt = fromMicros(created), fromNull(used)
	return nil
}

// InsertPasskey stores a credential; a duplicate credential id is ErrConflict.
func (t *Tx) InsertPasskey(ctx context.Context, r PasskeyRow) error {
	_, err := t.exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
		r.ID, r.AccountID, r.TenantID, r.CredentialID, r.Credential, r.Name, micros(r.CreatedAt))
	return err
}

// Passkeys lists an account's credentials.
func (t *Tx) Passkeys(ctx context.Context, tenantID, accountID string) ([]PasskeyRow, error) {
	var out []PasskeyRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r PasskeyRow
		if err := scanPasskey(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+passkeyColumns+` FROM passkeys WHERE tenant_id = $1 AND account_id = $2 ORDER BY created_at`, tenantID, accountID)
	return out, err
}

// PasskeyByCredentialID finds a credential of a tenant.
func (t *Tx) PasskeyByCredentialID(ctx context.Context, tenantID string, credID []byte) (PasskeyRow, error) {
	var r PasskeyRow
	row := t.row(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE tenant_id = $1 AND credential_id = $2`, tenantID, credID)
	if err := scanPasskey(row, &r); err != nil {
		return PasskeyRow{}, classify(err)
	}
	return r, nil
}

// UpdatePasskeyUse stores a credential's new state after a login.
func (t *Tx) UpdatePasskeyUse(ctx context.Context, tenantID, id string, credential []byte, now time.Time) error {
	return t.execOne(ctx, `UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE tenant_id = $3 AND id = $4`, credential, micros(now), tenantID, id)
}

// DeletePasskey removes one of an account's credentials.
func (t *Tx) DeletePasskey(ctx context.Context, tenantID, accountID, id string) error {
	return t.execOne(ctx, `DELETE FROM passkeys WHERE tenant_id = $1 AND account_id = $2 AND id = $3`, tenantID, accountID, id)
}
