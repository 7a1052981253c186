package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SealedColumn names a column that holds sealed values. The registry below
// lists every one, so that key rotation can re-encrypt all of a tenant's
// data and a test can check that none holds plaintext. A value's location
// (for associated data) is its table, its row id and Field.
type SealedColumn struct {
	Table        string
	IDColumn     string // the row id bound into the associated data
	TenantColumn string // the column holding the tenant id
	Column       string
	Field        string // the location field name used when sealing
}

// sealedColumns is every sealed column. A new sealed column MUST be added
// here (a test fails otherwise).
var sealedColumns = []SealedColumn{
	{Table: "tenants", IDColumn: "id", TenantColumn: "id", Column: "security_contact", Field: "security_contact"},
	{Table: "accounts", IDColumn: "id", TenantColumn: "tenant_id", Column: "email", Field: "email"},
	{Table: "accounts", IDColumn: "id", TenantColumn: "tenant_id", Column: "display_name", Field: "display_name"},
	{Table: "accounts", IDColumn: "id", TenantColumn: "tenant_id", Column: "totp_secret", Field: "totp_secret"},
	{Table: "sessions", IDColumn: "public_id", TenantColumn: "tenant_id", Column: "client", Field: "client"},
	{Table: "audit_entries", IDColumn: "id", TenantColumn: "chain", Column: "client", Field: "client"},
	{Table: "audit_entries", IDColumn: "id", TenantColumn: "chain", Column: "reason", Field: "reason"},
	{Table: "payload_history", IDColumn: "id", TenantColumn: "tenant_id", Column: "payload", Field: "payload"},
	{Table: "oidc_providers", IDColumn: "tenant_id", TenantColumn: "tenant_id", Column: "client_secret", Field: "client_secret"},
	{Table: "document_versions", IDColumn: "id", TenantColumn: "tenant_id", Column: "content", Field: "content"},
	{Table: "document_subjects", IDColumn: "id", TenantColumn: "tenant_id", Column: "value", Field: "value"},
	{Table: "legal_holds", IDColumn: "id", TenantColumn: "tenant_id", Column: "reason", Field: "reason"},
	{Table: "subject_requests", IDColumn: "id", TenantColumn: "tenant_id", Column: "subjects", Field: "subjects"},
	{Table: "subject_requests", IDColumn: "id", TenantColumn: "tenant_id", Column: "result", Field: "result"},
}

// SealedColumns returns the registry of sealed columns.
func SealedColumns() []SealedColumn {
	return append([]SealedColumn(nil), sealedColumns...)
}

// SealedValue is one sealed value and the id of its row.
type SealedValue struct {
	RowID string
	Value []byte
}

// SealedValues pages through a tenant's non-null values of one sealed
// column, by row id.
func (t *Tx) SealedValues(ctx context.Context, c SealedColumn, tenantID, afterID string, limit int) ([]SealedValue, error) {
	if !knownColumn(c) {
		return nil, fmt.Errorf("store: %s.%s is not a registered sealed column", c.Table, c.Column)
	}
	// The identifiers come from the registry above, never from input.
	q := fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s = $1 AND %s > $2 AND %s IS NOT NULL ORDER BY %s LIMIT $3`,
		c.IDColumn, c.Column, c.Table, c.TenantColumn, c.IDColumn, c.Column, c.IDColumn)
	var out []SealedValue
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var v SealedValue
		if err := rows.Scan(&v.RowID, &v.Value); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, q, tenantID, afterID, limit)
	return out, err
}

// UpdateSealedValue replaces one sealed value if it still equals old (so a
// concurrent change is never overwritten by a re-encryption).
func (t *Tx) UpdateSealedValue(ctx context.Context, c SealedColumn, tenantID, rowID string, old, value []byte) error {
	if !knownColumn(c) {
		return fmt.Errorf("store: %s.%s is not a registered sealed column", c.Table, c.Column)
	}
	q := fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s = $2 AND %s = $3 AND %s = $4`,
		c.Table, c.Column, c.TenantColumn, c.IDColumn, c.Column)
	_, err := t.exec(ctx, q, value, tenantID, rowID, old)
	return err
}

// ReencryptCursor returns where re-encryption of a column got to ("" = start).
func (t *Tx) ReencryptCursor(ctx context.Context, tenantID string, c SealedColumn) (string, error) {
	var after string
	err := t.queryRow(ctx, `SELECT after_id FROM reencrypt_cursors WHERE tenant_id = $1 AND table_name = $2 AND column_name = $3`,
		[]any{tenantID, c.Table, c.Column}, &after)
	if err == ErrNotFound {
		return "", nil
	}
	return after, err
}

// SetReencryptCursor records progress; an empty after deletes the cursor.
func (t *Tx) SetReencryptCursor(ctx context.Context, tenantID string, c SealedColumn, after string) error {
	if after == "" {
		_, err := t.exec(ctx, `DELETE FROM reencrypt_cursors WHERE tenant_id = $1 AND table_name = $2 AND column_name = $3`, tenantID, c.Table, c.Column)
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO reencrypt_cursors (tenant_id, table_name, column_name, after_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, table_name, column_name) DO UPDATE SET after_id = excluded.after_id`, tenantID, c.Table, c.Column, after)
	return err
}

// CountSealedValues counts a tenant's non-null values in one sealed column.
func (t *Tx) CountSealedValues(ctx context.Context, c SealedColumn, tenantID string) (int64, error) {
	if !knownColumn(c) {
		return 0, fmt.Errorf("store: %s.%s is not a registered sealed column", c.Table, c.Column)
	}
	var n int64
	err := t.queryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s = $1 AND %s IS NOT NULL`, c.Table, c.TenantColumn, c.Column), []any{tenantID}, &n)
	return n, err
}

func knownColumn(c SealedColumn) bool {
	for _, k := range sealedColumns {
		if k == c {
			return true
		}
	}
	return false
}
