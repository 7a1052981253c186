package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"time"
)

// SubjectRequestRow is a data-subject request (GDPR-1..4).
type SubjectRequestRow struct {
	TenantID    string
	ID          string
	Kind        string
	Scope       string
	Target      string
	Subjects    []byte // sealed
	Options     string
	RequestedBy string
	ReceivedAt  time.Time
	Deadline    string
	Status      string
	Progress    string
	Attempts    int
	LastError   string
	Result      []byte // sealed
	Receipt     string
	CompletedAt time.Time
	UpdatedAt   time.Time
}

const subjectRequestColumns = `tenant_id, id, kind, scope, target, subjects, options, requested_by, received_at, deadline, status,
	progress, attempts, last_error, result, receipt, completed_at, updated_at`

func scanSubjectRequest(s interface{ Scan(...any) error }, r *SubjectRequestRow) error {
	var received, completed, updated int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.Kind, &r.Scope, &r.Target, &r.Subjects, &r.Options, &r.RequestedBy, &received, &r.Deadline,
		&r.Status, &r.Progress, &r.Attempts, &r.LastError, &r.Result, &r.Receipt, &completed, &updated); err != nil {
		return err
	}
	r.ReceivedAt, r.UpdatedAt = fromMicros(received), fromMicros(updated)
	if completed != 0 {
		r.CompletedAt = fromMicros(completed)
	}
	return nil
}

// InsertSubjectRequest stores a new request with the blind tokens of its
// identifiers.
func (t *Tx) InsertSubjectRequest(ctx context.Context, r SubjectRequestRow, tokens [][]byte) error {
	_, err := t.exec(ctx, `INSERT INTO subject_requests (`+subjectRequestColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.TenantID, r.ID, r.Kind, r.Scope, r.Target, nullBytes(r.Subjects), r.Options, r.RequestedBy, micros(r.ReceivedAt), r.Deadline, r.Status,
		r.Progress, r.Attempts, r.LastError, nullBytes(r.Result), r.Receipt, 0, micros(r.UpdatedAt))
	if err != nil {
		return err
	}
	for _, tok := range tokens {
		if _, err := t.exec(ctx, `INSERT INTO subject_request_tokens (tenant_id, token, request_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, r.TenantID, tok, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// SubjectRequest returns one request.
func (t *Tx) SubjectRequest(ctx context.Context, tenantID, id string) (SubjectRequestRow, error) {
	var r SubjectRequestRow
	err := scanSubjectRequest(t.row(ctx, `SELECT `+subjectRequestColumns+` FROM subject_requests WHERE tenant_id = $1 AND id = $2`, tenantID, id), &r)
	return r, classify(err)
}

// SubjectRequestForUpdate is SubjectRequest, locking the row on PostgreSQL.
func (t *Tx) SubjectRequestForUpdate(ctx context.Context, tenantID, id string) (SubjectRequestRow, error) {
	var r SubjectRequestRow
	err := scanSubjectRequest(t.row(ctx, `SELECT `+subjectRequestColumns+` FROM subject_requests WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenantID, id), &r)
	return r, classify(err)
}

// SubjectRequests lists a tenant's requests, newest first, with ids below
// before; status "" lists every status, "open" those not completed.
func (t *Tx) SubjectRequests(ctx context.Context, tenantID, status, before string, limit int) ([]SubjectRequestRow, error) {
	args := []any{tenantID}
	q := `SELECT ` + subjectRequestColumns + ` FROM subject_requests WHERE tenant_id = $1`
	switch status {
	case "":
	case "open":
		q += ` AND status NOT IN ('completed', 'failed')`
	default:
		args = append(args, status)
		q += ` AND status = $` + itoa(len(args))
	}
	if before != "" {
		args = append(args, before)
		q += ` AND id < $` + itoa(len(args))
	}
	args = append(args, limit)
	q += ` ORDER BY id DESC LIMIT $` + itoa(len(args))
	var out []SubjectRequestRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r SubjectRequestRow
		if err := scanSubjectRequest(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// UpdateSubjectRequest saves a request's status, progress, result and
// receipt.
func (t *Tx) UpdateSubjectRequest(ctx context.Context, r SubjectRequestRow) error {
	var completed int64
	if !r.CompletedAt.IsZero() {
		completed = micros(r.CompletedAt)
	}
	return t.execOne(ctx, `UPDATE subject_requests SET status = $3, progress = $4, attempts = $5, last_error = $6, result = $7,
		receipt = $8, completed_at = $9, updated_at = $10, subjects = $11 WHERE tenant_id = $1 AND id = $2`,
		r.TenantID, r.ID, r.Status, r.Progress, r.Attempts, r.LastError, nullBytes(r.Result), r.Receipt, completed, micros(r.UpdatedAt), nullBytes(r.Subjects))
}

// ForgetSubject drops the sealed identifiers and results of every request
// that named one of the tokens: once a subject is erased, the requests
// about them keep only ids, counts and receipts.
func (t *Tx) ForgetSubject(ctx context.Context, tenantID string, tokens [][]byte) error {
	for _, tok := range tokens {
		if _, err := t.exec(ctx, `UPDATE subject_requests SET subjects = NULL, result = NULL WHERE tenant_id = $1 AND id IN
			(SELECT request_id FROM subject_request_tokens WHERE tenant_id = $1 AND token = $2)`, tenantID, tok); err != nil {
			return err
		}
	}
	return nil
}

// SubjectDocumentIDs lists the ids of a tenant's documents (restricted ones
// too) linked to any of the tokens, after after, in id order.
func (t *Tx) SubjectDocumentIDs(ctx context.Context, tenantID string, tokens [][]byte, after string, limit int) ([]string, error) {
	hexed := make([]string, len(tokens))
	for i, tok := range tokens {
		hexed[i] = hex.EncodeToString(tok)
	}
	list, err := json.Marshal(hexed)
	if err != nil {
		return nil, err
	}
	tokenSet := "(SELECT unhex(value) FROM json_each($2))" // #nosec G101 -- SQL fragment; "token" names blind-index tokens, not a credential
	if t.db.engine == Postgres {
		tokenSet = "(SELECT decode(value, 'hex') FROM jsonb_array_elements_text($2::jsonb) AS value)" // #nosec G101 -- SQL fragment; "token" names blind-index tokens, not a credential
	}
	var out []string
	q := `SELECT DISTINCT document_id FROM document_subjects WHERE tenant_id = $1 AND token IN ` + tokenSet + `
		AND document_id > $3 ORDER BY document_id LIMIT $4`
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	}, q, tenantID, string(list), after, limit)
	return out, err
}

// HeldDocuments returns which of a tenant's documents (ids) are under an
// active legal hold.
func (t *Tx) HeldDocuments(ctx context.Context, tenantID string, ids []string) (map[string]bool, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		held[id] = true
		return nil
	}, `SELECT d.id FROM documents d WHERE d.tenant_id = $1 AND d.id IN `+t.idList("2")+` AND `+heldClause, tenantID, string(list))
	return held, err
}

// EraseDocuments deletes a tenant's documents (ids) with their versions,
// subjects, files and payload history, whatever their retention: the
// caller has decided that the law lets them go.
func (t *Tx) EraseDocuments(ctx context.Context, tenantID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return t.deleteDocuments(ctx, tenantID, string(list))
}

// deleteDocuments deletes the documents in the JSON array list.
func (t *Tx) deleteDocuments(ctx context.Context, tenantID, list string) error {
	in := t.idList("2")
	for _, q := range []string{
		`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE tenant_id = $1 AND document_id IN ` + in + `)`,
		`DELETE FROM files WHERE tenant_id = $1 AND document_id IN ` + in,
		`DELETE FROM document_subjects WHERE tenant_id = $1 AND document_id IN ` + in,
		`DELETE FROM document_versions WHERE tenant_id = $1 AND document_id IN ` + in,
		`DELETE FROM payload_history WHERE tenant_id = $1 AND resource_type = 'document' AND resource_id IN ` + in,
		`DELETE FROM idempotency_keys WHERE tenant_id = $1 AND document_id IN ` + in,
		`DELETE FROM message_events WHERE tenant_id = $1 AND message_id IN ` + in,
		`DELETE FROM messages WHERE tenant_id = $1 AND id IN ` + in,
		`DELETE FROM documents WHERE tenant_id = $1 AND id IN ` + in,
	} {
		if _, err := t.exec(ctx, q, tenantID, list); err != nil {
			return err
		}
	}
	return nil
}

// RestrictDocument marks a document restricted (how: "erasure" or
// "request"); for "erasure" it is kept until retainUntil and no longer.
func (t *Tx) RestrictDocument(ctx context.Context, tenantID, id, how, retainUntil string) error {
	if how == "erasure" {
		return t.execOne(ctx, `UPDATE documents SET restricted = $3, retain_until = $4, keep_until = '', review_date = ''
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, how, retainUntil)
	}
	return t.execOne(ctx, `UPDATE documents SET restricted = $3 WHERE tenant_id = $1 AND id = $2 AND restricted = ''`, tenantID, id, how)
}

// LiftRestriction makes a document restricted on request usable again.
func (t *Tx) LiftRestriction(ctx context.Context, tenantID, id string) (bool, error) {
	res, err := t.exec(ctx, `UPDATE documents SET restricted = '' WHERE tenant_id = $1 AND id = $2 AND restricted = 'request'`, tenantID, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

// RemoveDocumentSubjects removes the subject index entries of tokens from a
// document.
func (t *Tx) RemoveDocumentSubjects(ctx context.Context, tenantID, documentID string, tokens [][]byte) error {
	for _, tok := range tokens {
		if _, err := t.exec(ctx, `DELETE FROM document_subjects WHERE tenant_id = $1 AND document_id = $2 AND token = $3`, tenantID, documentID, tok); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceDocumentHistory drops every version of a document and its
// payload history, so that only the version the caller inserts next
// remains (anonymisation).
func (t *Tx) ReplaceDocumentHistory(ctx context.Context, tenantID, documentID string) error {
	for _, q := range []string{
		`DELETE FROM document_versions WHERE tenant_id = $1 AND document_id = $2`,
		`DELETE FROM payload_history WHERE tenant_id = $1 AND resource_type = 'document' AND resource_id = $2`,
	} {
		if _, err := t.exec(ctx, q, tenantID, documentID); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDocumentFiles removes a document's files, except keep.
func (t *Tx) DeleteDocumentFiles(ctx context.Context, tenantID, documentID, keep string) error {
	for _, q := range []string{
		`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE tenant_id = $1 AND document_id = $2 AND id <> $3)`,
		`DELETE FROM files WHERE tenant_id = $1 AND document_id = $2 AND id <> $3`,
	} {
		if _, err := t.exec(ctx, q, tenantID, documentID, keep); err != nil {
			return err
		}
	}
	return nil
}

// SetDocumentState sets a document's clear fields after anonymisation,
// whatever version it was at.
func (t *Tx) SetDocumentState(ctx context.Context, r DocumentRow) error {
	return t.execOne(ctx, `UPDATE documents SET version = $3, file_id = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2`,
		r.TenantID, r.ID, r.Version, r.FileID, micros(r.UpdatedAt))
}

// ErasureRow is an entry of the erasure ledger: ids and blind tokens only.
type ErasureRow struct {
	ID        string
	TenantID  string
	RequestID string
	Scope     string // document, subject, tenant
	Target    string // document id, base64 token, tenant id
	Time      time.Time
}

// AppendErasure adds an entry to the erasure ledger.
func (t *Tx) AppendErasure(ctx context.Context, r ErasureRow) error {
	_, err := t.exec(ctx, `INSERT INTO erasure_ledger (id, tenant_id, request_id, scope, target, time) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.TenantID, r.RequestID, r.Scope, r.Target, micros(r.Time))
	return err
}

// ErasureLedger lists ledger entries after the id after, oldest first.
func (t *Tx) ErasureLedger(ctx context.Context, after string, limit int) ([]ErasureRow, error) {
	var out []ErasureRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r ErasureRow
		var at int64
		if err := rows.Scan(&r.ID, &r.TenantID, &r.RequestID, &r.Scope, &r.Target, &at); err != nil {
			return err
		}
		r.Time = fromMicros(at)
		out = append(out, r)
		return nil
	}, `SELECT id, tenant_id, request_id, scope, target, time FROM erasure_ledger WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return out, err
}

// ResourceAudit returns a chain's entries about any of the resources (of
// one type), oldest first.
func (t *Tx) ResourceAudit(ctx context.Context, chain, resourceType string, ids []string) ([]AuditEntryRow, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var out []AuditEntryRow
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AuditEntryRow
		if err := scanAudit(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+auditColumns+` FROM audit_entries WHERE chain = $1 AND resource_type = $3 AND resource_id IN `+t.idList("2")+` ORDER BY seq`,
		chain, string(list), resourceType)
	return out, err
}

// ResourcePayloads returns a tenant's kept payloads about any of the
// resources (of one type), oldest first.
func (t *Tx) ResourcePayloads(ctx context.Context, tenantID, resourceType string, ids []string) ([]PayloadRow, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var out []PayloadRow
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var r PayloadRow
		var tm int64
		if err := rows.Scan(&r.ID, &r.TenantID, &tm, &r.RequestID, &r.Action, &r.ResourceType, &r.ResourceID, &r.Payload); err != nil {
			return err
		}
		r.Time = fromMicros(tm)
		out = append(out, r)
		return nil
	}, `SELECT id, tenant_id, time, request_id, action, resource_type, resource_id, payload FROM payload_history
		WHERE tenant_id = $1 AND resource_type = $3 AND resource_id IN `+t.idList("2")+` ORDER BY id`, tenantID, string(list), resourceType)
	return out, err
}

// SubjectRequestTokens returns the blind tokens of a request's identifiers.
func (t *Tx) SubjectRequestTokens(ctx context.Context, tenantID, requestID string) ([][]byte, error) {
	var out [][]byte
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var tok []byte
		if err := rows.Scan(&tok); err != nil {
			return err
		}
		out = append(out, tok)
		return nil
	}, `SELECT token FROM subject_request_tokens WHERE tenant_id = $1 AND request_id = $2 ORDER BY token`, tenantID, requestID)
	return out, err
}

// nullBytes stores an empty value as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// EraseTenantData deletes everything of a terminated tenant (TEN-3) except
// its restricted documents (kept for the law until their day), its legal
// holds on them, its keyset (destroyed once nothing sealed is left) and its
// audit chain: every other document, its users with their sessions,
// passkeys, recovery codes and tokens, API keys, sign-in settings, types,
// retention settings, requests, payload history, messages whose documents
// went, message endpoints, operators' access grants; and the security
// contact.
func (t *Tx) EraseTenantData(ctx context.Context, tenantID string) error {
	for _, q := range []string{
		`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE tenant_id = $1 AND document_id NOT IN
			(SELECT id FROM documents WHERE tenant_id = $1 AND restricted <> ''))`,
		`DELETE FROM files WHERE tenant_id = $1 AND document_id NOT IN (SELECT id FROM documents WHERE tenant_id = $1 AND restricted <> '')`,
		`DELETE FROM document_subjects WHERE tenant_id = $1 AND document_id NOT IN (SELECT id FROM documents WHERE tenant_id = $1 AND restricted <> '')`,
		`DELETE FROM document_versions WHERE tenant_id = $1 AND document_id NOT IN (SELECT id FROM documents WHERE tenant_id = $1 AND restricted <> '')`,
		`DELETE FROM documents WHERE tenant_id = $1 AND restricted = ''`,
		`DELETE FROM payload_history WHERE tenant_id = $1`,
		`DELETE FROM idempotency_keys WHERE tenant_id = $1`,
		`DELETE FROM recovery_codes WHERE account_id IN (SELECT id FROM accounts WHERE tenant_id = $1)`,
		`DELETE FROM passkeys WHERE tenant_id = $1`,
		`DELETE FROM sessions WHERE tenant_id = $1`,
		`DELETE FROM auth_tokens WHERE tenant_id = $1`,
		`DELETE FROM accounts WHERE tenant_id = $1`,
		`DELETE FROM api_keys WHERE tenant_id = $1`,
		`DELETE FROM oidc_providers WHERE tenant_id = $1`,
		`DELETE FROM document_types WHERE tenant_id = $1`,
		`DELETE FROM retention_rules WHERE tenant_id = $1`,
		`DELETE FROM retention_policies WHERE tenant_id = $1`,
		`DELETE FROM subject_request_tokens WHERE tenant_id = $1`,
		`DELETE FROM subject_requests WHERE tenant_id = $1`,
		`DELETE FROM message_events WHERE tenant_id = $1 AND message_id NOT IN (SELECT id FROM documents WHERE tenant_id = $1)`,
		`DELETE FROM messages WHERE tenant_id = $1 AND id NOT IN (SELECT id FROM documents WHERE tenant_id = $1)`,
		`DELETE FROM message_endpoints WHERE tenant_id = $1`,
		`DELETE FROM access_grants WHERE tenant_id = $1`,
		`UPDATE tenants SET status = 'terminated', security_contact = NULL WHERE id = $1`,
	} {
		if _, err := t.exec(ctx, q, tenantID); err != nil {
			return err
		}
	}
	return nil
}

// CountAllDocuments counts a tenant's documents, restricted ones included.
func (t *Tx) CountAllDocuments(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM documents WHERE tenant_id = $1`, []any{tenantID}, &n)
	return n, err
}

// TerminationRow is a tenant's termination (TEN-3).
type TerminationRow struct {
	TenantID    string
	RequestedBy string
	RequestedAt time.Time
	EraseAfter  time.Time
	State       string // pending, cancelled, erasing, restricted, done
	CancelledBy string
	CancelledAt time.Time
	ErasedAt    time.Time
	Kept        int64
	Receipt     string
	UpdatedAt   time.Time
}

const terminationColumns = `tenant_id, requested_by, requested_at, erase_after, state, cancelled_by, cancelled_at, erased_at, kept, receipt, updated_at`

func scanTermination(s interface{ Scan(...any) error }, r *TerminationRow) error {
	var req, after, canc, erased, upd int64
	if err := s.Scan(&r.TenantID, &r.RequestedBy, &req, &after, &r.State, &r.CancelledBy, &canc, &erased, &r.Kept, &r.Receipt, &upd); err != nil {
		return err
	}
	r.RequestedAt, r.EraseAfter, r.UpdatedAt = fromMicros(req), fromMicros(after), fromMicros(upd)
	if canc != 0 {
		r.CancelledAt = fromMicros(canc)
	}
	if erased != 0 {
		r.ErasedAt = fromMicros(erased)
	}
	return nil
}

func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// PutTermination inserts or replaces a tenant's termination.
func (t *Tx) PutTermination(ctx context.Context, r TerminationRow) error {
	_, err := t.exec(ctx, `INSERT INTO tenant_terminations (`+terminationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant_id) DO UPDATE SET requested_by = $2, requested_at = $3, erase_after = $4, state = $5, cancelled_by = $6,
		cancelled_at = $7, erased_at = $8, kept = $9, receipt = $10, updated_at = $11`,
		r.TenantID, r.RequestedBy, micros(r.RequestedAt), micros(r.EraseAfter), r.State, r.CancelledBy, optMicros(r.CancelledAt),
		optMicros(r.ErasedAt), r.Kept, r.Receipt, micros(r.UpdatedAt))
	return err
}

// Termination returns a tenant's termination.
func (t *Tx) Termination(ctx context.Context, tenantID string) (TerminationRow, error) {
	var r TerminationRow
	err := scanTermination(t.row(ctx, `SELECT `+terminationColumns+` FROM tenant_terminations WHERE tenant_id = $1`, tenantID), &r)
	return r, classify(err)
}

// DueTerminations lists terminations to work on: pending ones whose grace
// period ended before now, and those still erasing or keeping restricted
// documents.
func (t *Tx) DueTerminations(ctx context.Context, now time.Time) ([]TerminationRow, error) {
	var out []TerminationRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r TerminationRow
		if err := scanTermination(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+terminationColumns+` FROM tenant_terminations WHERE (state = 'pending' AND erase_after <= $1) OR state IN ('erasing', 'restricted')
		ORDER BY tenant_id`, micros(now))
	return out, err
}
