package store

import (
	"context"
	"database/sql"
	"time"
)

// SessionRow is a login session.
type SessionRow struct {
	ID          []byte // SHA-256 of the token
	PublicID    string // shown to the user, used to revoke
	AccountID   string
	TenantID    string
	Method      string // password, passkey, oidc
	MFA         bool
	CreatedAt   time.Time
	LastSeenAt  time.Time
	ExpiresAt   time.Time
	IdleSeconds int64
	Client      []byte // sealed description of the client
}

// SessionAuth is a session joined with what authenticating a request needs
// about its account and tenant, read in one query.
type SessionAuth struct {
	SessionRow
	Kind          string
	Role          string
	AccountStatus string
	TenantStatus  string // "" for operators
}

const sessionColumns = "s.id, s.public_id, s.account_id, s.tenant_id, s.method, s.mfa, s.created_at, s.last_seen_at, s.expires_at, s.idle_seconds, s.client"

func scanSession(s interface{ Scan(...any) error }, r *SessionRow, extra ...any) error {
	var mfa, created, seen, expires int64
	dest := append([]any{&r.ID, &r.PublicID, &r.AccountID, &r.TenantID, &r.Method, &mfa, &created, &seen, &expires, &r.IdleSeconds, &r.Client}, extra...)
	if err := s.Scan(dest...); err != nil {
		return err
	}
	r.MFA = mfa != 0
	r.CreatedAt, r.LastSeenAt, r.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return nil
}

// InsertSession stores a new session.
func (t *Tx) InsertSession(ctx context.Context, r SessionRow) error {
	_, err := t.exec(ctx, `INSERT INTO sessions (id, public_id, account_id, tenant_id, method, mfa, created_at, last_seen_at, expires_at, idle_seconds, client)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, r.PublicID, r.AccountID, r.TenantID, r.Method, boolInt(r.MFA), micros(r.CreatedAt), micros(r.LastSeenAt),
		micros(r.ExpiresAt), r.IdleSeconds, r.Client)
	return err
}

// SessionForAuth reads a session by its id with its account's role and
// status and its tenant's status.
func (t *Tx) SessionForAuth(ctx context.Context, id []byte) (SessionAuth, error) {
	var r SessionAuth
	var tenantStatus sql.NullString
	row := t.row(ctx, `SELECT `+sessionColumns+`, a.kind, a.role, a.status, tn.status
		FROM sessions s JOIN accounts a ON a.id = s.account_id LEFT JOIN tenants tn ON tn.id = s.tenant_id
		WHERE s.id = $1`, id)
	if err := scanSession(row, &r.SessionRow, &r.Kind, &r.Role, &r.AccountStatus, &tenantStatus); err != nil {
		return SessionAuth{}, classify(err)
	}
	r.TenantStatus = tenantStatus.String
	return r, nil
}

// TouchSession records activity.
func (t *Tx) TouchSession(ctx context.Context, id []byte, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, micros(now), id)
	return err
}

// Sessions lists an account's sessions, newest first.
func (t *Tx) Sessions(ctx context.Context, tenantID, accountID string) ([]SessionRow, error) {
	var out []SessionRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r SessionRow
		if err := scanSession(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+sessionColumns+` FROM sessions s WHERE s.tenant_id = $1 AND s.account_id = $2 ORDER BY s.created_at DESC`, tenantID, accountID)
	return out, err
}

// DeleteSession removes one session.
func (t *Tx) DeleteSession(ctx context.Context, id []byte) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err
}

// DeleteSessionByPublicID removes one of an account's sessions.
func (t *Tx) DeleteSessionByPublicID(ctx context.Context, tenantID, accountID, publicID string) error {
	return t.execOne(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND account_id = $2 AND public_id = $3`, tenantID, accountID, publicID)
}

// DeleteAccountSessions removes every session of an account except keep
// (nil keeps none) and returns how many it removed.
func (t *Tx) DeleteAccountSessions(ctx context.Context, tenantID, accountID string, keep []byte) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND account_id = $2 AND id <> $3`, tenantID, accountID, append([]byte{}, keep...))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetTenantSessionIdle applies a tenant's new idle timeout to its sessions.
func (t *Tx) SetTenantSessionIdle(ctx context.Context, tenantID string, seconds int64) error {
	_, err := t.exec(ctx, `UPDATE sessions SET idle_seconds = $1 WHERE tenant_id = $2`, seconds, tenantID)
	return err
}

// DeleteExpiredSessions removes sessions past their absolute or idle expiry.
func (t *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	us := micros(now)
	res, err := t.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at + idle_seconds * 1000000 <= $1`, us)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
