package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// DocumentTypeRow is a tenant's registered document type.
type DocumentTypeRow struct {
	TenantID       string
	Name           string
	Schema         string // JSON Schema; "" for none
	DefaultArchive string
	Converter      string // "" for none
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// PutDocumentType adds or replaces a document type.
func (t *Tx) PutDocumentType(ctx context.Context, r DocumentTypeRow) error {
	_, err := t.exec(ctx, `INSERT INTO document_types (tenant_id, name, schema, default_archive, converter, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, name) DO UPDATE SET schema = excluded.schema, default_archive = excluded.default_archive,
			converter = excluded.converter, updated_at = excluded.updated_at`,
		r.TenantID, r.Name, r.Schema, r.DefaultArchive, r.Converter, micros(r.CreatedAt), micros(r.UpdatedAt))
	return err
}

func scanDocumentType(s interface{ Scan(...any) error }, r *DocumentTypeRow) error {
	var created, updated int64
	if err := s.Scan(&r.TenantID, &r.Name, &r.Schema, &r.DefaultArchive, &r.Converter, &created, &updated); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return nil
}

// DocumentType returns one document type.
func (t *Tx) DocumentType(ctx context.Context, tenantID, name string) (DocumentTypeRow, error) {
	var r DocumentTypeRow
	err := scanDocumentType(t.row(ctx, `SELECT tenant_id, name, schema, default_archive, converter, created_at, updated_at
		FROM document_types WHERE tenant_id = $1 AND name = $2`, tenantID, name), &r)
	return r, classify(err)
}

// DocumentTypes lists a tenant's document types by name.
func (t *Tx) DocumentTypes(ctx context.Context, tenantID string) ([]DocumentTypeRow, error) {
	var out []DocumentTypeRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r DocumentTypeRow
		if err := scanDocumentType(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT tenant_id, name, schema, default_archive, converter, created_at, updated_at FROM document_types WHERE tenant_id = $1 ORDER BY name`, tenantID)
	return out, err
}

// DeleteDocumentType removes a document type (its documents stay).
func (t *Tx) DeleteDocumentType(ctx context.Context, tenantID, name string) error {
	return t.execOne(ctx, `DELETE FROM document_types WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

// DocumentRow is a document's current state, in the clear parts only; its
// content is in its current version.
type DocumentRow struct {
	TenantID     string
	ID           string
	Type         string
	Archive      string
	DocumentDate string // YYYY-MM-DD
	ReviewDate   string // YYYY-MM-DD or ""
	Version      int64
	FileID       string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RetainUntil  string // YYYY-MM-DD: the last day it is kept (RET-1..3)
	KeepUntil    string // YYYY-MM-DD a reviewer extended it to, or ""
}

const documentColumns = "tenant_id, id, type, archive, document_date, review_date, version, file_id, created_at, updated_at, retain_until, keep_until"

func scanDocument(s interface{ Scan(...any) error }, r *DocumentRow) error {
	var created, updated int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.Type, &r.Archive, &r.DocumentDate, &r.ReviewDate, &r.Version, &r.FileID, &created, &updated, &r.RetainUntil, &r.KeepUntil); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return nil
}

// InsertDocument adds a document. A duplicate id is ErrConflict.
func (t *Tx) InsertDocument(ctx context.Context, r DocumentRow) error {
	_, err := t.exec(ctx, `INSERT INTO documents (`+documentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.TenantID, r.ID, r.Type, r.Archive, r.DocumentDate, r.ReviewDate, r.Version, r.FileID, micros(r.CreatedAt), micros(r.UpdatedAt), r.RetainUntil, r.KeepUntil)
	return err
}

// Document returns one document; a restricted one (art. 18) is
// ErrNotFound, as in every normal read.
func (t *Tx) Document(ctx context.Context, tenantID, id string) (DocumentRow, error) {
	var r DocumentRow
	err := scanDocument(t.row(ctx, `SELECT `+documentColumns+` FROM documents WHERE tenant_id = $1 AND id = $2 AND restricted = ''`, tenantID, id), &r)
	return r, classify(err)
}

// DocumentAny returns one document, restricted or not, and how it is
// restricted ("" for not): for the data-subject rights only.
func (t *Tx) DocumentAny(ctx context.Context, tenantID, id string) (DocumentRow, string, error) {
	var r DocumentRow
	var restricted string
	var created, updated int64
	err := t.row(ctx, `SELECT `+documentColumns+`, restricted FROM documents WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(
		&r.TenantID, &r.ID, &r.Type, &r.Archive, &r.DocumentDate, &r.ReviewDate, &r.Version, &r.FileID, &created, &updated, &r.RetainUntil, &r.KeepUntil, &restricted)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, restricted, classify(err)
}

// DocumentForUpdate is Document inside a write transaction: it locks the
// row on PostgreSQL, so that concurrent updates queue.
func (t *Tx) DocumentForUpdate(ctx context.Context, tenantID, id string) (DocumentRow, error) {
	var r DocumentRow
	err := scanDocument(t.row(ctx, `SELECT `+documentColumns+` FROM documents WHERE tenant_id = $1 AND id = $2 AND restricted = ''`+t.forUpdate(), tenantID, id), &r)
	return r, classify(err)
}

// UpdateDocument moves a document to a new version, if it is still at the
// version the caller read (else ErrConflict).
func (t *Tx) UpdateDocument(ctx context.Context, r DocumentRow, fromVersion int64) error {
	res, err := t.exec(ctx, `UPDATE documents SET type = $3, archive = $4, document_date = $5, review_date = $6, version = $7,
		file_id = $8, updated_at = $9, retain_until = $11, keep_until = $12 WHERE tenant_id = $1 AND id = $2 AND version = $10`,
		r.TenantID, r.ID, r.Type, r.Archive, r.DocumentDate, r.ReviewDate, r.Version, r.FileID, micros(r.UpdatedAt), fromVersion, r.RetainUntil, r.KeepUntil)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return ErrConflict
	}
	return nil
}

// DeleteDocument removes a document with its versions, subjects and files.
func (t *Tx) DeleteDocument(ctx context.Context, tenantID, id string) error {
	if err := t.execOne(ctx, `DELETE FROM documents WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM document_versions WHERE tenant_id = $1 AND document_id = $2`,
		`DELETE FROM document_subjects WHERE tenant_id = $1 AND document_id = $2`,
		`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE tenant_id = $1 AND document_id = $2)`,
		`DELETE FROM files WHERE tenant_id = $1 AND document_id = $2`,
		`DELETE FROM message_events WHERE tenant_id = $1 AND message_id = $2`,
		`DELETE FROM messages WHERE tenant_id = $1 AND id = $2`,
	} {
		if _, err := t.exec(ctx, q, tenantID, id); err != nil {
			return err
		}
	}
	return nil
}

// DocumentFilter narrows a listing; empty fields do not filter.
type DocumentFilter struct {
	Type     string
	Archive  string
	DateFrom string // document_date >= (YYYY-MM-DD)
	DateTo   string // document_date <=
	// ReviewDueBy lists documents whose review date is on or before it.
	ReviewDueBy string
}

func (f DocumentFilter) where(alias string, args *[]any) string {
	var q strings.Builder
	add := func(cond string, v any) {
		*args = append(*args, v)
		q.WriteString(" AND " + alias + strings.ReplaceAll(cond, "?", "$"+itoa(len(*args))))
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Archive != "" {
		add("archive = ?", f.Archive)
	}
	if f.DateFrom != "" {
		add("document_date >= ?", f.DateFrom)
	}
	if f.DateTo != "" {
		add("document_date <= ?", f.DateTo)
	}
	if f.ReviewDueBy != "" {
		add("review_date <> '' AND "+alias+"review_date <= ?", f.ReviewDueBy)
	}
	return q.String()
}

// Documents lists a tenant's documents matching f, newest first, with ids
// below before ("" = from the newest).
func (t *Tx) Documents(ctx context.Context, tenantID string, f DocumentFilter, before string, limit int) ([]DocumentRow, error) {
	args := []any{tenantID}
	q := `SELECT ` + documentColumns + ` FROM documents WHERE tenant_id = $1 AND restricted = ''` + f.where("", &args)
	if before != "" {
		args = append(args, before)
		q += " AND id < $" + itoa(len(args))
	}
	args = append(args, limit)
	q += " ORDER BY id DESC LIMIT $" + itoa(len(args))
	return t.documents(ctx, q, args...)
}

// SearchDocuments lists a tenant's documents linked to the subject token,
// matching f, newest first, with ids below before.
func (t *Tx) SearchDocuments(ctx context.Context, tenantID string, token []byte, f DocumentFilter, before string, limit int) ([]DocumentRow, error) {
	args := []any{tenantID, token}
	cols := "d." + strings.ReplaceAll(documentColumns, ", ", ", d.")
	// CROSS JOIN keeps the subjects as the outer loop on SQLite (which has
	// no statistics to know that a token matches few rows); PostgreSQL
	// plans it like any join.
	q := `SELECT ` + cols + ` FROM document_subjects s CROSS JOIN documents d
		WHERE s.tenant_id = $1 AND s.token = $2 AND d.tenant_id = s.tenant_id AND d.id = s.document_id AND d.restricted = ''` + f.where("d.", &args)
	if before != "" {
		args = append(args, before)
		q += " AND d.id < $" + itoa(len(args))
	}
	args = append(args, limit)
	q += " ORDER BY d.id DESC LIMIT $" + itoa(len(args))
	return t.documents(ctx, q, args...)
}

func (t *Tx) documents(ctx context.Context, q string, args ...any) ([]DocumentRow, error) {
	var out []DocumentRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r DocumentRow
		if err := scanDocument(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// DocumentVersionID is the id of a document's version: the row id its
// content is sealed for.
func DocumentVersionID(documentID string, version int64) string {
	return documentID + "/" + strconv.FormatInt(version, 10)
}

// DocumentVersionRow is one version of a document.
type DocumentVersionRow struct {
	TenantID   string
	DocumentID string
	Version    int64
	Time       time.Time
	ActorType  string
	ActorID    string
	Changed    string // JSON array of field paths
	FileID     string
	Content    []byte // sealed; nil when listed
}

// InsertDocumentVersion adds a version.
func (t *Tx) InsertDocumentVersion(ctx context.Context, r DocumentVersionRow) error {
	_, err := t.exec(ctx, `INSERT INTO document_versions (tenant_id, id, document_id, version, time, actor_type, actor_id, changed, file_id, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.TenantID, DocumentVersionID(r.DocumentID, r.Version), r.DocumentID, r.Version, micros(r.Time), r.ActorType, r.ActorID, r.Changed, r.FileID, r.Content)
	return err
}

// DocumentVersion returns one version with its content.
func (t *Tx) DocumentVersion(ctx context.Context, tenantID, documentID string, version int64) (DocumentVersionRow, error) {
	r := DocumentVersionRow{TenantID: tenantID, DocumentID: documentID, Version: version}
	var at int64
	err := t.row(ctx, `SELECT time, actor_type, actor_id, changed, file_id, content FROM document_versions
		WHERE tenant_id = $1 AND document_id = $2 AND version = $3`, tenantID, documentID, version).
		Scan(&at, &r.ActorType, &r.ActorID, &r.Changed, &r.FileID, &r.Content)
	r.Time = fromMicros(at)
	return r, classify(err)
}

// DocumentVersions lists a document's versions, oldest first, without
// their content.
func (t *Tx) DocumentVersions(ctx context.Context, tenantID, documentID string) ([]DocumentVersionRow, error) {
	var out []DocumentVersionRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		r := DocumentVersionRow{TenantID: tenantID, DocumentID: documentID}
		var at int64
		if err := rows.Scan(&r.Version, &at, &r.ActorType, &r.ActorID, &r.Changed, &r.FileID); err != nil {
			return err
		}
		r.Time = fromMicros(at)
		out = append(out, r)
		return nil
	}, `SELECT version, time, actor_type, actor_id, changed, file_id FROM document_versions
		WHERE tenant_id = $1 AND document_id = $2 ORDER BY version`, tenantID, documentID)
	return out, err
}

// SubjectRow links a document to a data subject.
type SubjectRow struct {
	ID    string // random; the row id its value is sealed for
	Token []byte // blind index of the kind and normalised value
	Kind  string
	Value []byte // sealed normalised value
}

// SetDocumentSubjects replaces a document's subjects.
func (t *Tx) SetDocumentSubjects(ctx context.Context, tenantID, documentID string, subjects []SubjectRow) error {
	if _, err := t.exec(ctx, `DELETE FROM document_subjects WHERE tenant_id = $1 AND document_id = $2`, tenantID, documentID); err != nil {
		return err
	}
	for _, s := range subjects {
		if _, err := t.exec(ctx, `INSERT INTO document_subjects (tenant_id, id, token, document_id, kind, value) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, document_id, token) DO NOTHING`, tenantID, s.ID, s.Token, documentID, s.Kind, s.Value); err != nil {
			return err
		}
	}
	return nil
}

// DocumentSubjects returns a document's subjects.
func (t *Tx) DocumentSubjects(ctx context.Context, tenantID, documentID string) ([]SubjectRow, error) {
	var out []SubjectRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r SubjectRow
		if err := rows.Scan(&r.ID, &r.Token, &r.Kind, &r.Value); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT id, token, kind, value FROM document_subjects WHERE tenant_id = $1 AND document_id = $2 ORDER BY kind, token`, tenantID, documentID)
	return out, err
}

// FileRow is a stored (or staged) file.
type FileRow struct {
	TenantID    string
	ID          string
	DocumentID  string
	State       string // staged, stored
	ContentType string
	Size        int64
	Chunks      int64
	Scanned     string // clean, unscanned
	CreatedAt   time.Time
}

// Staged and stored are the states of a file.
const (
	FileStaged = "staged"
	FileStored = "stored"
)

// InsertFile adds a file's row, staged, before its chunks are written.
func (t *Tx) InsertFile(ctx context.Context, r FileRow) error {
	_, err := t.exec(ctx, `INSERT INTO files (tenant_id, id, document_id, state, content_type, size, chunks, scanned, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.TenantID, r.ID, r.DocumentID, r.State, r.ContentType, r.Size, r.Chunks, r.Scanned, micros(r.CreatedAt))
	return err
}

// File returns a file's row.
func (t *Tx) File(ctx context.Context, tenantID, id string) (FileRow, error) {
	r := FileRow{TenantID: tenantID, ID: id}
	var created int64
	err := t.row(ctx, `SELECT document_id, state, content_type, size, chunks, scanned, created_at FROM files WHERE tenant_id = $1 AND id = $2`,
		tenantID, id).Scan(&r.DocumentID, &r.State, &r.ContentType, &r.Size, &r.Chunks, &r.Scanned, &created)
	r.CreatedAt = fromMicros(created)
	return r, classify(err)
}

// FinishStagedFile records what was staged: its type, size and chunks.
func (t *Tx) FinishStagedFile(ctx context.Context, r FileRow) error {
	return t.execOne(ctx, `UPDATE files SET content_type = $3, size = $4, chunks = $5, scanned = $6
		WHERE tenant_id = $1 AND id = $2 AND state = 'staged'`, r.TenantID, r.ID, r.ContentType, r.Size, r.Chunks, r.Scanned)
}

// StoreFile makes a staged file its document's (ErrNotFound if it is not
// staged: a cleanup removed it, or it is stored already).
func (t *Tx) StoreFile(ctx context.Context, tenantID, id, documentID string) error {
	return t.execOne(ctx, `UPDATE files SET state = 'stored', document_id = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'staged'`,
		tenantID, id, documentID)
}

// PutFileChunk writes one chunk of a file being staged.
func (t *Tx) PutFileChunk(ctx context.Context, fileID string, seq int64, data []byte) error {
	_, err := t.exec(ctx, `INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)`, fileID, seq, data)
	return err
}

// FileChunk reads one chunk of a file.
func (t *Tx) FileChunk(ctx context.Context, fileID string, seq int64) ([]byte, error) {
	var data []byte
	err := t.row(ctx, `SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2`, fileID, seq).Scan(&data)
	return data, classify(err)
}

// DeleteFile removes a file and its chunks (staged or not).
func (t *Tx) DeleteFile(ctx context.Context, tenantID, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM file_chunks WHERE file_id = $1`, id); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM files WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return err
}

// StagedFiles returns staged files created before before: uploads that
// never became a document's.
func (t *Tx) StagedFiles(ctx context.Context, before time.Time, limit int) ([]FileRow, error) {
	var out []FileRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r FileRow
		if err := rows.Scan(&r.TenantID, &r.ID); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT tenant_id, id FROM files WHERE state = 'staged' AND created_at < $1 ORDER BY created_at LIMIT $2`, micros(before), limit)
	return out, err
}

// IdempotencyRow records a create made under an Idempotency-Key.
type IdempotencyRow struct {
	TenantID    string
	Actor       string
	KeyHash     []byte
	RequestHash []byte
	DocumentID  string
	CreatedAt   time.Time
}

// InsertIdempotencyKey records a key; a key already used is ErrConflict.
func (t *Tx) InsertIdempotencyKey(ctx context.Context, r IdempotencyRow) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency_keys (tenant_id, actor, key_hash, request_hash, document_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.TenantID, r.Actor, r.KeyHash, r.RequestHash, r.DocumentID, micros(r.CreatedAt))
	return err
}

// IdempotencyKey returns a recorded key.
func (t *Tx) IdempotencyKey(ctx context.Context, tenantID, actor string, keyHash []byte) (IdempotencyRow, error) {
	r := IdempotencyRow{TenantID: tenantID, Actor: actor, KeyHash: keyHash}
	var created int64
	err := t.row(ctx, `SELECT request_hash, document_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND actor = $2 AND key_hash = $3`,
		tenantID, actor, keyHash).Scan(&r.RequestHash, &r.DocumentID, &created)
	r.CreatedAt = fromMicros(created)
	return r, classify(err)
}

// ExpireIdempotencyKeys forgets keys recorded before before.
func (t *Tx) ExpireIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountDocuments counts a tenant's documents ("" = all tenants).
func (t *Tx) CountDocuments(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	var err error
	if tenantID == "" {
		err = t.row(ctx, `SELECT count(*) FROM documents`).Scan(&n)
	} else {
		err = t.row(ctx, `SELECT count(*) FROM documents WHERE tenant_id = $1`, tenantID).Scan(&n)
	}
	return n, classify(err)
}

// MonthCount is how many of a tenant's documents in an archive are dated
// in a month (YYYY-MM).
type MonthCount struct {
	Archive string
	Month   string
	Count   int64
}

// DocumentsPerMonth counts a tenant's documents per archive and month of
// their document date, from the date from (YYYY-MM-DD) on.
func (t *Tx) DocumentsPerMonth(ctx context.Context, tenantID, from string) ([]MonthCount, error) {
	var out []MonthCount
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var m MonthCount
		if err := rows.Scan(&m.Archive, &m.Month, &m.Count); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	}, `SELECT archive, substr(document_date, 1, 7), COUNT(*) FROM documents
		WHERE tenant_id = $1 AND document_date >= $2 GROUP BY archive, substr(document_date, 1, 7) ORDER BY 2, 1`, tenantID, from)
	return out, err
}
