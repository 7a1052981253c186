package store

import (
	"context"
	"database/sql"
	"time"
)

// AccessGrantRow is an operator's request for access to a tenant's data,
// and the grant it becomes once approved.
type AccessGrantRow struct {
	ID          string
	TenantID    string
	Requester   string
	Scope       string
	DocType     string
	DocID       string
	Detail      []byte // sealed JSON: reason, ticket, comments
	Duration    time.Duration
	BreakGlass  bool
	Approval    string // pending, approved, denied, break_glass
	Approver    string
	ApprovedAt  time.Time
	Consent     string // not_required, pending, given, refused
	ConsentBy   string
	ConsentAt   time.Time
	ActivatedAt time.Time
	ExpiresAt   time.Time
	RevokedAt   time.Time
	RevokedBy   string
	CreatedAt   time.Time
	Version     int64
}

const accessGrantColumns = `id, tenant_id, requester, scope, doc_type, doc_id, detail, duration_s, break_glass, approval, approver,
	approved_at, consent, consent_by, consent_at, activated_at, expires_at, revoked_at, revoked_by, created_at, version`

func scanAccessGrant(s interface{ Scan(...any) error }, r *AccessGrantRow) error {
	var dur, glass, approved, consent, activated, expires, revoked, created int64
	if err := s.Scan(&r.ID, &r.TenantID, &r.Requester, &r.Scope, &r.DocType, &r.DocID, &r.Detail, &dur, &glass, &r.Approval, &r.Approver,
		&approved, &r.Consent, &r.ConsentBy, &consent, &activated, &expires, &revoked, &r.RevokedBy, &created, &r.Version); err != nil {
		return err
	}
	r.Duration, r.BreakGlass = time.Duration(dur)*time.Second, glass != 0
	r.ApprovedAt, r.ConsentAt, r.ActivatedAt = fromMicros(approved), fromMicros(consent), fromMicros(activated)
	r.ExpiresAt, r.RevokedAt, r.CreatedAt = fromMicros(expires), fromMicros(revoked), fromMicros(created)
	return nil
}

func (r AccessGrantRow) values() []any {
	return []any{r.ID, r.TenantID, r.Requester, r.Scope, r.DocType, r.DocID, r.Detail, int64(r.Duration / time.Second), boolInt(r.BreakGlass),
		r.Approval, r.Approver, micros(r.ApprovedAt), r.Consent, r.ConsentBy, micros(r.ConsentAt), micros(r.ActivatedAt),
		micros(r.ExpiresAt), micros(r.RevokedAt), r.RevokedBy, micros(r.CreatedAt), r.Version}
}

// InsertAccessGrant adds an access request.
func (t *Tx) InsertAccessGrant(ctx context.Context, r AccessGrantRow) error {
	_, err := t.exec(ctx, `INSERT INTO access_grants (`+accessGrantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`, r.values()...)
	return classify(err)
}

// UpdateAccessGrant replaces a request's decision, consent, times and
// detail if its version is still r.Version-1 (so two decisions made at
// once cannot both win); otherwise ErrConflict.
func (t *Tx) UpdateAccessGrant(ctx context.Context, r AccessGrantRow) error {
	err := t.execOne(ctx, `UPDATE access_grants SET detail = $2, approval = $3, approver = $4, approved_at = $5, consent = $6,
		consent_by = $7, consent_at = $8, activated_at = $9, expires_at = $10, revoked_at = $11, revoked_by = $12, version = $13
		WHERE id = $1 AND version = $14`,
		r.ID, r.Detail, r.Approval, r.Approver, micros(r.ApprovedAt), r.Consent, r.ConsentBy, micros(r.ConsentAt),
		micros(r.ActivatedAt), micros(r.ExpiresAt), micros(r.RevokedAt), r.RevokedBy, r.Version, r.Version-1)
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// AccessGrant returns one request.
func (t *Tx) AccessGrant(ctx context.Context, id string) (AccessGrantRow, error) {
	var r AccessGrantRow
	err := scanAccessGrant(t.row(ctx, `SELECT `+accessGrantColumns+` FROM access_grants WHERE id = $1`, id), &r)
	return r, classify(err)
}

// AccessGrantFilter selects requests; empty fields match everything.
type AccessGrantFilter struct {
	TenantID  string
	Requester string
}

// AccessGrants lists requests matching f, newest first, after the cursor
// (the id of the last one of the previous page).
func (t *Tx) AccessGrants(ctx context.Context, f AccessGrantFilter, after string, limit int) ([]AccessGrantRow, error) {
	// Only the conditions that are set, so that the indexes on (tenant_id,
	// id) and (requester, id) serve the query.
	q := `SELECT ` + accessGrantColumns + ` FROM access_grants WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ cond, value string }{{"tenant_id = ", f.TenantID}, {"requester = ", f.Requester}, {"id < ", after}} {
		if c.value != "" {
			args = append(args, c.value)
			q += " AND " + c.cond + "$" + itoa(len(args))
		}
	}
	args = append(args, limit)
	q += " ORDER BY id DESC LIMIT $" + itoa(len(args))
	var out []AccessGrantRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AccessGrantRow
		if err := scanAccessGrant(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// ActiveAccessGrants returns an operator's grants that are in force at now:
// active, not revoked, not expired.
func (t *Tx) ActiveAccessGrants(ctx context.Context, requester string, now time.Time) ([]AccessGrantRow, error) {
	var out []AccessGrantRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AccessGrantRow
		if err := scanAccessGrant(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+accessGrantColumns+` FROM access_grants WHERE requester = $1 AND expires_at > $2 AND activated_at > 0
		AND revoked_at = 0 ORDER BY id LIMIT 100`, requester, micros(now))
	return out, err
}

// AccountContact is an account to notify (an operator, a tenant's owner):
// its id, sealed e-mail address and language.
type AccountContact struct {
	ID       string
	TenantID string
	Email    []byte
	Language string
}

// ActiveAccountsWithRole lists a tenant's active accounts with a role (or
// the platform's operators, tenant PlatformTenant), for notices.
func (t *Tx) ActiveAccountsWithRole(ctx context.Context, tenantID, role string) ([]AccountContact, error) {
	var out []AccountContact
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var c AccountContact
		if err := rows.Scan(&c.ID, &c.TenantID, &c.Email, &c.Language); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}, `SELECT id, tenant_id, email, language FROM accounts WHERE tenant_id = $1 AND role = $2 AND status = 'active'
		ORDER BY id LIMIT 1000`, tenantID, role)
	return out, err
}
