package store

import (
	"context"
	"database/sql"
	"time"
)

// AuthTokenRow is a one-time token (setup link, reset link, challenge, ...).
type AuthTokenRow struct {
	ID        []byte // SHA-256 of the token
	Kind      string
	AccountID string
	TenantID  string
	Data      []byte // sealed
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// InsertAuthToken stores a token.
func (t *Tx) InsertAuthToken(ctx context.Context, r AuthTokenRow) error {
	_, err := t.exec(ctx, `INSERT INTO auth_tokens (id, kind, account_id, tenant_id, data, attempts, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)`,
		r.ID, r.Kind, nullString(r.AccountID), r.TenantID, r.Data, r.Attempts, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

// AuthToken reads a token of a kind.
func (t *Tx) AuthToken(ctx context.Context, kind string, id []byte) (AuthTokenRow, error) {
	var r AuthTokenRow
	var account sql.NullString
	var created, expires int64
	var used sql.NullInt64
	err := t.queryRow(ctx, `SELECT id, kind, account_id, tenant_id, data, attempts, created_at, expires_at, used_at
		FROM auth_tokens WHERE kind = $1 AND id = $2`, []any{kind, id},
		&r.ID, &r.Kind, &account, &r.TenantID, &r.Data, &r.Attempts, &created, &expires, &used)
	r.AccountID = account.String
	r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMicros(created), fromMicros(expires), fromNull(used)
	return r, err
}

// UseAuthToken marks an unused, unexpired token used; ErrNotFound when it
// was used already, expired, or never existed (a token works once).
func (t *Tx) UseAuthToken(ctx context.Context, kind string, id []byte, now time.Time) error {
	return t.execOne(ctx, `UPDATE auth_tokens SET used_at = $1 WHERE kind = $2 AND id = $3 AND used_at IS NULL AND expires_at > $1`,
		micros(now), kind, id)
}

// CountAuthTokenAttempt adds a failed attempt and returns the new count.
func (t *Tx) CountAuthTokenAttempt(ctx context.Context, kind string, id []byte) (int, error) {
	if err := t.execOne(ctx, `UPDATE auth_tokens SET attempts = attempts + 1 WHERE kind = $1 AND id = $2`, kind, id); err != nil {
		return 0, err
	}
	var n int
	err := t.queryRow(ctx, `SELECT attempts FROM auth_tokens WHERE kind = $1 AND id = $2`, []any{kind, id}, &n)
	return n, err
}

// UpdateAuthTokenData replaces a token's sealed data.
func (t *Tx) UpdateAuthTokenData(ctx context.Context, kind string, id, data []byte) error {
	return t.execOne(ctx, `UPDATE auth_tokens SET data = $1 WHERE kind = $2 AND id = $3`, data, kind, id)
}

// CountRecentAuthTokens counts an account's tokens of a kind created since.
func (t *Tx) CountRecentAuthTokens(ctx context.Context, accountID, kind string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM auth_tokens WHERE account_id = $1 AND kind = $2 AND created_at >= $3`,
		[]any{accountID, kind, micros(since)}, &n)
	return n, err
}

// InvalidateAuthTokens marks every unused token of a kind for an account used.
// An empty accountID means the tokens that belong to no account.
func (t *Tx) InvalidateAuthTokens(ctx context.Context, accountID, kind string, now time.Time) error {
	if accountID == "" {
		_, err := t.exec(ctx, `UPDATE auth_tokens SET used_at = $1 WHERE account_id IS NULL AND kind = $2 AND used_at IS NULL`, micros(now), kind)
		return err
	}
	_, err := t.exec(ctx, `UPDATE auth_tokens SET used_at = $1 WHERE account_id = $2 AND kind = $3 AND used_at IS NULL`, micros(now), accountID, kind)
	return err
}

// DeleteExpiredAuthTokens removes tokens that expired before the cut-off.
func (t *Tx) DeleteExpiredAuthTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM auth_tokens WHERE expires_at < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
