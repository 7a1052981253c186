package store

import (
	"context"
	"database/sql"
	"time"
)

// PlatformTenant is the tenant id under which operator accounts are kept.
const PlatformTenant = "platform"

// AccountRow is a person who logs in: a tenant's user or an operator.
type AccountRow struct {
	ID                string
	TenantID          string
	Kind              string // user | operator
	Role              string
	Status            string // invited | active | disabled
	Email             []byte // sealed
	EmailIndex        []byte // blind index
	DisplayName       []byte // sealed, optional
	Language          string
	PasswordHash      string // argon2id PHC string; "" until set
	PasswordChangedAt time.Time
	TOTPSecret        []byte // sealed; nil when not enrolled
	TOTPEnabled       bool
	TOTPLastStep      int64
	FailedLogins      int
	Lockouts          int
	LockedUntil       time.Time
	OIDCSubject       []byte // blind index of issuer and subject
	CreatedAt         time.Time
	UpdatedAt         time.Time
	LastLoginAt       time.Time
}

const accountColumns = `id, tenant_id, kind, role, status, email, email_index, display_name, language, password_hash,
	password_changed_at, totp_secret, totp_enabled, totp_last_step, failed_logins, lockouts, locked_until, oidc_subject,
	created_at, updated_at, last_login_at`

func scanAccount(s interface{ Scan(...any) error }, r *AccountRow) error {
	var pw sql.NullString
	var pwChanged, locked, lastLogin sql.NullInt64
	var created, updated, totpEnabled int64
	if err := s.Scan(&r.ID, &r.TenantID, &r.Kind, &r.Role, &r.Status, &r.Email, &r.EmailIndex, &r.DisplayName, &r.Language, &pw,
		&pwChanged, &r.TOTPSecret, &totpEnabled, &r.TOTPLastStep, &r.FailedLogins, &r.Lockouts, &locked, &r.OIDCSubject,
		&created, &updated, &lastLogin); err != nil {
		return err
	}
	r.PasswordHash = pw.String
	r.PasswordChangedAt, r.LockedUntil, r.LastLoginAt = fromNull(pwChanged), fromNull(locked), fromNull(lastLogin)
	r.TOTPEnabled = totpEnabled != 0
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return nil
}

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// InsertAccount adds an account; a duplicate e-mail in the tenant is ErrConflict.
func (t *Tx) InsertAccount(ctx context.Context, r AccountRow) error {
	_, err := t.exec(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		r.ID, r.TenantID, r.Kind, r.Role, r.Status, r.Email, r.EmailIndex, r.DisplayName, r.Language, nullString(r.PasswordHash),
		nullTime(r.PasswordChangedAt), r.TOTPSecret, boolInt(r.TOTPEnabled), r.TOTPLastStep, r.FailedLogins, r.Lockouts,
		nullTime(r.LockedUntil), r.OIDCSubject, micros(r.CreatedAt), micros(r.UpdatedAt), nullTime(r.LastLoginAt))
	return err
}

// Account returns an account of a tenant (use PlatformTenant for operators).
func (t *Tx) Account(ctx context.Context, tenantID, id string) (AccountRow, error) {
	var r AccountRow
	row := t.row(ctx, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err := scanAccount(row, &r); err != nil {
		return AccountRow{}, classify(err)
	}
	return r, nil
}

// AccountForUpdate reads an account inside a write transaction, locking its
// row on PostgreSQL (SQLite has one writer at a time).
func (t *Tx) AccountForUpdate(ctx context.Context, tenantID, id string) (AccountRow, error) {
	var r AccountRow
	row := t.row(ctx, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenantID, id)
	if err := scanAccount(row, &r); err != nil {
		return AccountRow{}, classify(err)
	}
	return r, nil
}

// AccountByEmail finds an account by its e-mail blind index.
func (t *Tx) AccountByEmail(ctx context.Context, tenantID string, emailIndex []byte) (AccountRow, error) {
	var r AccountRow
	row := t.row(ctx, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = $1 AND email_index = $2`, tenantID, emailIndex)
	if err := scanAccount(row, &r); err != nil {
		return AccountRow{}, classify(err)
	}
	return r, nil
}

// AccountByOIDCSubject finds an account linked to an OIDC identity.
func (t *Tx) AccountByOIDCSubject(ctx context.Context, tenantID string, subject []byte) (AccountRow, error) {
	var r AccountRow
	row := t.row(ctx, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = $1 AND oidc_subject = $2`, tenantID, subject)
	if err := scanAccount(row, &r); err != nil {
		return AccountRow{}, classify(err)
	}
	return r, nil
}

// Accounts lists a tenant's accounts ordered by id, after a cursor.
func (t *Tx) Accounts(ctx context.Context, tenantID, after string, limit int) ([]AccountRow, error) {
	var out []AccountRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AccountRow
		if err := scanAccount(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID, after, limit)
	return out, err
}

// CountAccounts counts a tenant's accounts, optionally with one role.
func (t *Tx) CountAccounts(ctx context.Context, tenantID, role string) (int64, error) {
	var n int64
	q, args := `SELECT count(*) FROM accounts WHERE tenant_id = $1`, []any{tenantID}
	if role != "" {
		q, args = q+` AND role = $2 AND status <> 'disabled'`, append(args, role)
	}
	err := t.queryRow(ctx, q, args, &n)
	return n, err
}

// UpdateAccount replaces an account's mutable fields. The last TOTP step is
// not among them: only UseTOTPStep moves it, forward, so a write from a
// stale read can never re-open a used code.
func (t *Tx) UpdateAccount(ctx context.Context, r AccountRow) error {
	return t.execOne(ctx, `UPDATE accounts SET role = $1, status = $2, email = $3, email_index = $4, display_name = $5, language = $6,
		password_hash = $7, password_changed_at = $8, totp_secret = $9, totp_enabled = $10,
		failed_logins = $11, lockouts = $12, locked_until = $13, oidc_subject = $14, updated_at = $15, last_login_at = $16
		WHERE tenant_id = $17 AND id = $18`,
		r.Role, r.Status, r.Email, r.EmailIndex, r.DisplayName, r.Language, nullString(r.PasswordHash), nullTime(r.PasswordChangedAt),
		r.TOTPSecret, boolInt(r.TOTPEnabled), r.FailedLogins, r.Lockouts, nullTime(r.LockedUntil), r.OIDCSubject,
		micros(r.UpdatedAt), nullTime(r.LastLoginAt), r.TenantID, r.ID)
}

// RecordLogin notes a successful login.
func (t *Tx) RecordLogin(ctx context.Context, tenantID, id string, now time.Time) error {
	return t.execOne(ctx, `UPDATE accounts SET last_login_at = $1 WHERE tenant_id = $2 AND id = $3`, micros(now), tenantID, id)
}

// UseTOTPStep records the last TOTP time step used, only if it is newer
// (so a code cannot be replayed); ErrConflict if it was not newer.
func (t *Tx) UseTOTPStep(ctx context.Context, tenantID, id string, step int64) error {
	err := t.execOne(ctx, `UPDATE accounts SET totp_last_step = $1 WHERE tenant_id = $2 AND id = $3 AND totp_last_step < $1`, step, tenantID, id)
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// DeleteAccount removes an account (sessions, passkeys and recovery codes go with it).
func (t *Tx) DeleteAccount(ctx context.Context, tenantID, id string) error {
	return t.execOne(ctx, `DELETE FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// ReplaceRecoveryCodes stores a new set of recovery code hashes.
func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte) error {
	if _, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, `INSERT INTO recovery_codes (account_id, code_hash, used_at) VALUES ($1, $2, NULL)`, accountID, h); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks an unused code as used; ErrNotFound if there is none.
func (t *Tx) UseRecoveryCode(ctx context.Context, accountID string, hash []byte, now time.Time) error {
	return t.execOne(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL`,
		micros(now), accountID, hash)
}

// UnusedRecoveryCodes counts an account's unused recovery codes.
func (t *Tx) UnusedRecoveryCodes(ctx context.Context, accountID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, []any{accountID}, &n)
	return n, err
}
