package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// RetentionPolicyRow is a tenant's retention policy.
type RetentionPolicyRow struct {
	TenantID       string
	Contract       bool
	StandardMonths int
	Reviewers      []string // account ids
	UpdatedAt      time.Time
}

// RetentionPolicy returns a tenant's policy; ErrNotFound if it never set one.
func (t *Tx) RetentionPolicy(ctx context.Context, tenantID string) (RetentionPolicyRow, error) {
	var r RetentionPolicyRow
	var contract, updated int64
	var reviewers string
	err := t.queryRow(ctx, `SELECT tenant_id, contract, standard_months, reviewers, updated_at FROM retention_policies WHERE tenant_id = $1`,
		[]any{tenantID}, &r.TenantID, &contract, &r.StandardMonths, &reviewers, &updated)
	if err != nil {
		return r, err
	}
	r.Contract, r.UpdatedAt = contract == 1, fromMicros(updated)
	if err := json.Unmarshal([]byte(reviewers), &r.Reviewers); err != nil {
		return r, err
	}
	return r, nil
}

// PutRetentionPolicy sets a tenant's policy.
func (t *Tx) PutRetentionPolicy(ctx context.Context, r RetentionPolicyRow) error {
	if r.Reviewers == nil {
		r.Reviewers = []string{}
	}
	rev, err := json.Marshal(r.Reviewers)
	if err != nil {
		return err
	}
	contract := 0
	if r.Contract {
		contract = 1
	}
	_, err = t.exec(ctx, `INSERT INTO retention_policies (tenant_id, contract, standard_months, reviewers, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id) DO UPDATE SET contract = excluded.contract, standard_months = excluded.standard_months,
		reviewers = excluded.reviewers, updated_at = excluded.updated_at`,
		r.TenantID, contract, r.StandardMonths, string(rev), micros(r.UpdatedAt))
	return err
}

// RetentionRuleRow is a tenant's instruction to keep an archive's or a
// type's documents longer.
type RetentionRuleRow struct {
	TenantID  string
	Archive   string
	Type      string
	Months    int
	UpdatedAt time.Time
}

// RetentionRules lists a tenant's rules.
func (t *Tx) RetentionRules(ctx context.Context, tenantID string) ([]RetentionRuleRow, error) {
	var out []RetentionRuleRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r RetentionRuleRow
		var updated int64
		if err := rows.Scan(&r.TenantID, &r.Archive, &r.Type, &r.Months, &updated); err != nil {
			return err
		}
		r.UpdatedAt = fromMicros(updated)
		out = append(out, r)
		return nil
	}, `SELECT tenant_id, archive, type, months, updated_at FROM retention_rules WHERE tenant_id = $1 ORDER BY archive, type`, tenantID)
	return out, err
}

// PutRetentionRule sets a rule.
func (t *Tx) PutRetentionRule(ctx context.Context, r RetentionRuleRow) error {
	_, err := t.exec(ctx, `INSERT INTO retention_rules (tenant_id, archive, type, months, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, archive, type) DO UPDATE SET months = excluded.months, updated_at = excluded.updated_at`,
		r.TenantID, r.Archive, r.Type, r.Months, micros(r.UpdatedAt))
	return err
}

// DeleteRetentionRule removes a rule; ErrNotFound if there is none.
func (t *Tx) DeleteRetentionRule(ctx context.Context, tenantID, archive, typ string) error {
	return t.execOne(ctx, `DELETE FROM retention_rules WHERE tenant_id = $1 AND archive = $2 AND type = $3`, tenantID, archive, typ)
}

// RetentionRow is what retention is computed from.
type RetentionRow struct {
	TenantID     string
	ID           string
	Type         string
	Archive      string
	DocumentDate string
	KeepUntil    string
	RetainUntil  string
	// Restricted is "erasure" for a document that was to be erased but is
	// kept restricted: its retain_until is final, never recomputed.
	Restricted string
}

const retentionColumns = "tenant_id, id, type, archive, document_date, keep_until, retain_until, restricted"

func (t *Tx) retentionRows(ctx context.Context, q string, args ...any) ([]RetentionRow, error) {
	var out []RetentionRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r RetentionRow
		if err := rows.Scan(&r.TenantID, &r.ID, &r.Type, &r.Archive, &r.DocumentDate, &r.KeepUntil, &r.RetainUntil, &r.Restricted); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// RetentionRows pages through a tenant's documents (by id, after after),
// optionally of one archive and type ("" = any).
func (t *Tx) RetentionRows(ctx context.Context, tenantID, archive, typ, after string, limit int) ([]RetentionRow, error) {
	return t.retentionRows(ctx, `SELECT `+retentionColumns+` FROM documents WHERE tenant_id = $1 AND id > $2
		AND ($3 = '' OR archive = $3) AND ($4 = '' OR type = $4) ORDER BY id LIMIT $5`, tenantID, after, archive, typ, limit)
}

// UncomputedRetention lists documents of any tenant without a computed
// retention (stored before retention existed).
func (t *Tx) UncomputedRetention(ctx context.Context, limit int) ([]RetentionRow, error) {
	return t.retentionRows(ctx, `SELECT `+retentionColumns+` FROM documents WHERE retain_until = '' ORDER BY tenant_id, id LIMIT $1`, limit)
}

// CullCursor is where a culling scan stands: candidates sort by retention
// day, tenant and id.
type CullCursor struct {
	Until    string `json:"until"`
	TenantID string `json:"tenant"`
	ID       string `json:"id"`
}

// CullCandidates lists documents of every tenant kept until before cutoff
// (YYYY-MM-DD), after the cursor.
func (t *Tx) CullCandidates(ctx context.Context, cutoff string, after CullCursor, limit int) ([]RetentionRow, error) {
	return t.retentionRows(ctx, `SELECT `+retentionColumns+` FROM documents
		WHERE retain_until <> '' AND retain_until < $1
		AND (retain_until > $2 OR (retain_until = $2 AND (tenant_id > $3 OR (tenant_id = $3 AND id > $4))))
		ORDER BY retain_until, tenant_id, id LIMIT $5`, cutoff, after.Until, after.TenantID, after.ID, limit)
}

// SetRetainUntil stores a document's computed retention (r.RetainUntil),
// if what it was computed from has not changed meanwhile; it reports
// whether it did.
func (t *Tx) SetRetainUntil(ctx context.Context, r RetentionRow) (bool, error) {
	res, err := t.exec(ctx, `UPDATE documents SET retain_until = $3 WHERE tenant_id = $1 AND id = $2 AND restricted <> 'erasure'
		AND archive = $4 AND type = $5 AND document_date = $6 AND keep_until = $7`,
		r.TenantID, r.ID, r.RetainUntil, r.Archive, r.Type, r.DocumentDate, r.KeepUntil)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

// idList is the SQL for the set of strings in a JSON array parameter $n.
func (t *Tx) idList(n string) string {
	if t.db.engine == Postgres {
		return "(SELECT jsonb_array_elements_text($" + n + "::jsonb))"
	}
	return "(SELECT value FROM json_each($" + n + "))"
}

// heldClause is true for a document (alias d) under an active legal hold.
const heldClause = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.tenant_id = d.tenant_id AND h.lifted_at = 0 AND (
	(h.scope = 'document' AND h.target = d.id) OR (h.scope = 'type' AND h.target = d.type) OR
	(h.scope = 'subject' AND h.token IN (SELECT s.token FROM document_subjects s WHERE s.tenant_id = d.tenant_id AND s.document_id = d.id))))`

// CulledDocument is a document culling removed.
type CulledDocument struct {
	ID      string
	Type    string
	Archive string
}

// CullDocuments deletes those of a tenant's documents (ids) that are kept
// until before cutoff and are under no legal hold — with their versions,
// subjects, files and payload history — and returns what it deleted.
func (t *Tx) CullDocuments(ctx context.Context, tenantID string, ids []string, cutoff string) ([]CulledDocument, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var gone []CulledDocument
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var c CulledDocument
		if err := rows.Scan(&c.ID, &c.Type, &c.Archive); err != nil {
			return err
		}
		gone = append(gone, c)
		return nil
	}, `SELECT d.id, d.type, d.archive FROM documents d WHERE d.tenant_id = $1 AND d.id IN `+t.idList("2")+`
		AND d.retain_until <> '' AND d.retain_until < $3 AND NOT `+heldClause, tenantID, string(list), cutoff)
	if err != nil || len(gone) == 0 {
		return nil, err
	}
	del := make([]string, len(gone))
	for i, c := range gone {
		del[i] = c.ID
	}
	if list, err = json.Marshal(del); err != nil {
		return nil, err
	}
	if err := t.deleteDocuments(ctx, tenantID, string(list)); err != nil {
		return nil, err
	}
	return gone, nil
}

// DocumentHeld reports whether a document is under an active legal hold.
func (t *Tx) DocumentHeld(ctx context.Context, tenantID, id string) (bool, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM documents d WHERE d.tenant_id = $1 AND d.id = $2 AND `+heldClause, []any{tenantID, id}, &n)
	return n > 0, err
}

// LegalHoldRow is a legal hold.
type LegalHoldRow struct {
	TenantID string
	ID       string
	Scope    string // document, type, subject
	Target   string // document id or type
	Token    []byte // subject's blind index
	Kind     string // subject identifier kind
	Reason   []byte // sealed
	PlacedBy string
	PlacedAt time.Time
	LiftedBy string
	LiftedAt time.Time
}

const holdColumns = "tenant_id, id, scope, target, token, kind, reason, placed_by, placed_at, lifted_by, lifted_at"

func scanHold(s interface{ Scan(...any) error }, r *LegalHoldRow) error {
	var placed, lifted int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.Scope, &r.Target, &r.Token, &r.Kind, &r.Reason, &r.PlacedBy, &placed, &r.LiftedBy, &lifted); err != nil {
		return err
	}
	r.PlacedAt, r.LiftedAt = fromMicros(placed), fromMicros(lifted)
	return nil
}

// InsertLegalHold places a hold.
func (t *Tx) InsertLegalHold(ctx context.Context, r LegalHoldRow) error {
	if r.Token == nil {
		r.Token = []byte{}
	}
	_, err := t.exec(ctx, `INSERT INTO legal_holds (`+holdColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 0)`,
		r.TenantID, r.ID, r.Scope, r.Target, r.Token, r.Kind, r.Reason, r.PlacedBy, micros(r.PlacedAt))
	return err
}

// LegalHold returns one hold.
func (t *Tx) LegalHold(ctx context.Context, tenantID, id string) (LegalHoldRow, error) {
	var r LegalHoldRow
	err := scanHold(t.row(ctx, `SELECT `+holdColumns+` FROM legal_holds WHERE tenant_id = $1 AND id = $2`, tenantID, id), &r)
	return r, classify(err)
}

// LegalHolds lists a tenant's holds, active ones only unless all, newest
// first.
func (t *Tx) LegalHolds(ctx context.Context, tenantID string, all bool) ([]LegalHoldRow, error) {
	q := `SELECT ` + holdColumns + ` FROM legal_holds WHERE tenant_id = $1`
	if !all {
		q += ` AND lifted_at = 0`
	}
	var out []LegalHoldRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r LegalHoldRow
		if err := scanHold(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q+` ORDER BY placed_at DESC, id DESC LIMIT 1000`, tenantID)
	return out, err
}

// HoldsOnDocument lists the active holds that cover a document.
func (t *Tx) HoldsOnDocument(ctx context.Context, tenantID, id string) ([]string, error) {
	var out []string
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	}, `SELECT h.id FROM documents d JOIN legal_holds h ON h.tenant_id = d.tenant_id AND h.lifted_at = 0 AND (
		(h.scope = 'document' AND h.target = d.id) OR (h.scope = 'type' AND h.target = d.type) OR
		(h.scope = 'subject' AND h.token IN (SELECT s.token FROM document_subjects s WHERE s.tenant_id = d.tenant_id AND s.document_id = d.id)))
		WHERE d.tenant_id = $1 AND d.id = $2 ORDER BY h.id`, tenantID, id)
	return out, err
}

// LiftLegalHold lifts an active hold; ErrNotFound if there is none.
func (t *Tx) LiftLegalHold(ctx context.Context, tenantID, id, by string, at time.Time) error {
	return t.execOne(ctx, `UPDATE legal_holds SET lifted_by = $3, lifted_at = $4 WHERE tenant_id = $1 AND id = $2 AND lifted_at = 0`,
		tenantID, id, by, micros(at))
}

// CullingReportRow is a culling run's report for one tenant.
type CullingReportRow struct {
	TenantID   string
	ID         string
	RunID      string
	Cutoff     string
	StartedAt  time.Time
	FinishedAt time.Time
	Total      int64
	Counts     string // JSON
}

const reportColumns = "tenant_id, id, run_id, cutoff, started_at, finished_at, total, counts"

func scanReport(s interface{ Scan(...any) error }, r *CullingReportRow) error {
	var started, finished int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.RunID, &r.Cutoff, &started, &finished, &r.Total, &r.Counts); err != nil {
		return err
	}
	r.StartedAt, r.FinishedAt = fromMicros(started), fromMicros(finished)
	return nil
}

// InsertCullingReport stores a report; a second one for the same run is
// ErrConflict.
func (t *Tx) InsertCullingReport(ctx context.Context, r CullingReportRow) error {
	_, err := t.exec(ctx, `INSERT INTO culling_reports (`+reportColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.TenantID, r.ID, r.RunID, r.Cutoff, micros(r.StartedAt), micros(r.FinishedAt), r.Total, r.Counts)
	return err
}

// CullingReport returns one report.
func (t *Tx) CullingReport(ctx context.Context, tenantID, id string) (CullingReportRow, error) {
	var r CullingReportRow
	err := scanReport(t.row(ctx, `SELECT `+reportColumns+` FROM culling_reports WHERE tenant_id = $1 AND id = $2`, tenantID, id), &r)
	return r, classify(err)
}

// CullingReports lists a tenant's reports, newest first, ids below before.
func (t *Tx) CullingReports(ctx context.Context, tenantID, before string, limit int) ([]CullingReportRow, error) {
	var out []CullingReportRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r CullingReportRow
		if err := scanReport(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+reportColumns+` FROM culling_reports WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`,
		tenantID, before, limit)
	return out, err
}

// DueReviewCount is how many of a tenant's documents of one type are due
// for review.
type DueReviewCount struct {
	TenantID string
	Type     string
	Due      int
	Overdue  int
}

// DueReviews counts every tenant's documents with a review date on or
// before today, per type; overdue are those before today.
func (t *Tx) DueReviews(ctx context.Context, today string) ([]DueReviewCount, error) {
	var out []DueReviewCount
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r DueReviewCount
		if err := rows.Scan(&r.TenantID, &r.Type, &r.Due, &r.Overdue); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT tenant_id, type, COUNT(*), SUM(CASE WHEN review_date < $1 THEN 1 ELSE 0 END) FROM documents
		WHERE review_date <> '' AND review_date <= $1 AND restricted = '' GROUP BY tenant_id, type ORDER BY tenant_id, type`, today)
	return out, err
}

// CountCullCandidates counts documents of every tenant kept until before
// cutoff.
func (t *Tx) CountCullCandidates(ctx context.Context, cutoff string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM documents WHERE retain_until <> '' AND retain_until < $1`, []any{cutoff}, &n)
	return n, err
}
