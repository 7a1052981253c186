package document

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Archives: the retention rules that apply (the retention capability).
const (
	ArchiveLegal    = "legal"    // kept until the end of the seventh calendar year after the document date
	ArchiveStandard = "standard" // kept per the tenant's standard rules
	ArchiveMessage  = "message"  // kept at most 12 months
)

// Limits on a document.
const (
	MaxDataBytes     = 1 << 20
	MaxSubjects      = 50
	MaxMetadataKeys  = 32
	maxMetadataValue = 1024
	MaxPage          = 500
)

// Document is a document as its readers see it.
type Document struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Archive      string            `json:"archive"`
	DocumentDate string            `json:"document_date"`
	ReviewDate   string            `json:"review_date,omitempty"`
	Version      int64             `json:"version"`
	Data         json.RawMessage   `json:"data,omitempty"`
	Subjects     []Subject         `json:"subjects"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	File         *FileInfo         `json:"file,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Retention    *Retention        `json:"retention,omitempty"`
}

// Summary is a document in a list: no content.
type Summary struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Archive      string    `json:"archive"`
	DocumentDate string    `json:"document_date"`
	ReviewDate   string    `json:"review_date,omitempty"`
	Version      int64     `json:"version"`
	HasFile      bool      `json:"has_file"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// RetainUntil is the last day the document is kept.
	RetainUntil string `json:"retain_until,omitempty"`
}

// Subject links a document to a data subject: an identifier of a kind
// (validate.Kinds), stored normalised.
type Subject struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// FileInfo describes a document's file.
type FileInfo struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// Scanned is "clean", or "unscanned" when it was stored without a
	// malware scan (only where the operator allowed it).
	Scanned string `json:"scanned"`
}

// ETag is a document version's entity tag.
func ETag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// ParseETag reads an If-Match value: a version, 0 for "*" (any), or -1 for
// a value that is no ETag of ours (it matches nothing).
func ParseETag(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "*" {
		return 0
	}
	s = strings.TrimPrefix(s, "W/")
	if !strings.HasPrefix(s, `"v`) || !strings.HasSuffix(s, `"`) || len(s) < 4 {
		return -1
	}
	n, err := strconv.ParseInt(s[2:len(s)-1], 10, 64)
	if err != nil || n < 1 {
		return -1
	}
	return n
}

// content is what a version seals: everything personal about it.
type content struct {
	Data     json.RawMessage   `json:"data,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Subjects []Subject         `json:"subjects,omitempty"`
	File     *FileInfo         `json:"file,omitempty"`
	// The clear fields, as they were in this version.
	Type         string `json:"type"`
	Archive      string `json:"archive"`
	DocumentDate string `json:"document_date"`
	ReviewDate   string `json:"review_date,omitempty"`
}

func versionLocation(documentID string, version int64) seal.Location {
	return seal.Location{Table: "document_versions", Row: store.DocumentVersionID(documentID, version), Field: "content"}
}

func subjectLocation(id string) seal.Location {
	return seal.Location{Table: "document_subjects", Row: id, Field: "value"}
}

// Input is a new document, or the whole new state of one.
type Input struct {
	Type         string            `json:"type"`
	Archive      string            `json:"archive,omitempty"`
	DocumentDate string            `json:"document_date,omitempty"`
	ReviewDate   string            `json:"review_date,omitempty"`
	Data         json.RawMessage   `json:"data,omitempty"`
	Subjects     []Subject         `json:"subjects,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

var (
	typePattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	metadataPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// checkInput validates and normalises an input; tenantArchive is the type's
// default archive.
func (s *Service) checkInput(in *Input, defaultArchive string) error {
	var fields []problem.FieldError
	if !typePattern.MatchString(in.Type) {
		fields = append(fields, problem.Field("/type", "invalid_type", "A type is 1 to 64 lower-case letters, digits, '_', '.' or '-'."))
	}
	if in.Archive == "" {
		in.Archive = defaultArchive
	}
	switch in.Archive {
	case ArchiveLegal, ArchiveStandard, ArchiveMessage:
	default:
		fields = append(fields, problem.Field("/archive", "invalid_archive", "Use legal, standard or message."))
	}
	if in.DocumentDate == "" {
		in.DocumentDate = s.now().UTC().Format(time.DateOnly)
	}
	if !validDate(in.DocumentDate) {
		fields = append(fields, problem.Field("/document_date", "invalid_date", "Use a date as YYYY-MM-DD."))
	}
	if in.ReviewDate != "" && !validDate(in.ReviewDate) {
		fields = append(fields, problem.Field("/review_date", "invalid_date", "Use a date as YYYY-MM-DD."))
	}
	if len(in.Data) > 0 {
		if len(in.Data) > MaxDataBytes {
			fields = append(fields, problem.Field("/data", "too_large", "The data is at most 1 MiB of JSON."))
		} else if t := bytes.TrimSpace(in.Data); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
			fields = append(fields, problem.Field("/data", "not_an_object", "The data is a JSON object."))
		} else {
			var compact bytes.Buffer
			_ = json.Compact(&compact, t)
			in.Data = compact.Bytes()
		}
	}
	if len(in.Metadata) > MaxMetadataKeys {
		fields = append(fields, problem.Field("/metadata", "too_many", fmt.Sprintf("At most %d metadata keys.", MaxMetadataKeys)))
	}
	for k, v := range in.Metadata {
		if !metadataPattern.MatchString(k) {
			fields = append(fields, problem.Field("/metadata", "invalid_key", "A metadata key is 1 to 64 letters, digits, '_', '.' or '-'."))
			break
		}
		if len(v) > maxMetadataValue {
			fields = append(fields, problem.Field("/metadata/"+k, "too_long", "A metadata value has at most 1024 bytes."))
		}
	}
	subjects, sfields := normaliseSubjects(in.Subjects, s.now())
	fields = append(fields, sfields...)
	in.Subjects = subjects
	if len(fields) > 0 {
		return problem.Invalid("invalid_document", "The document is not valid; see the fields.", fields...)
	}
	return nil
}

func validDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Year() >= 1900 && t.Year() <= 2200
}

// sealedVersion is a version ready to insert.
type sealedVersion struct {
	row      store.DocumentVersionRow
	subjects []store.SubjectRow
}

// sealVersion seals a version's content and its subjects.
func sealVersion(sealer *seal.Sealer, p authz.Principal, docID string, version int64, c content, changed []string, fileID string, at time.Time) (sealedVersion, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return sealedVersion{}, err
	}
	sealed, err := sealer.Seal(raw, versionLocation(docID, version))
	clear(raw)
	if err != nil {
		return sealedVersion{}, err
	}
	ch, _ := json.Marshal(changed)
	actorType, actorID := actorOf(p)
	out := sealedVersion{row: store.DocumentVersionRow{TenantID: sealer.Tenant(), DocumentID: docID, Version: version, Time: at,
		ActorType: actorType, ActorID: actorID, Changed: string(ch), FileID: fileID, Content: sealed}}
	for _, sub := range c.Subjects {
		token, err := subjectToken(sealer, sub)
		if err != nil {
			return sealedVersion{}, err
		}
		id := uuid.Must(uuid.NewV7()).String()
		v, err := sealer.SealString(sub.Value, subjectLocation(id))
		if err != nil {
			return sealedVersion{}, err
		}
		out.subjects = append(out.subjects, store.SubjectRow{ID: id, Token: token, Kind: sub.Kind, Value: v})
	}
	return out, nil
}

func actorOf(p authz.Principal) (string, string) {
	if p.Kind == authz.APIKey {
		return "api_key", p.ID
	}
	return string(p.Kind), p.ID
}

// openVersion opens a version's content.
func openVersion(sealer *seal.Sealer, docID string, version int64, sealed []byte) (content, error) {
	raw, err := sealer.Open(sealed, versionLocation(docID, version))
	if err != nil {
		return content{}, fmt.Errorf("document %s version %d: %w", docID, version, err)
	}
	defer clear(raw)
	var c content
	if err := json.Unmarshal(raw, &c); err != nil {
		return content{}, fmt.Errorf("document %s version %d: %w", docID, version, err)
	}
	return c, nil
}

func view(row store.DocumentRow, c content) Document {
	d := Document{ID: row.ID, Type: row.Type, Archive: row.Archive, DocumentDate: row.DocumentDate, ReviewDate: row.ReviewDate,
		Version: row.Version, Data: c.Data, Subjects: c.Subjects, Metadata: c.Metadata, File: c.File,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	if d.Subjects == nil {
		d.Subjects = []Subject{}
	}
	return d
}

func summary(row store.DocumentRow) Summary {
	return Summary{ID: row.ID, Type: row.Type, Archive: row.Archive, DocumentDate: row.DocumentDate, ReviewDate: row.ReviewDate,
		Version: row.Version, HasFile: row.FileID != "", CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, RetainUntil: row.RetainUntil}
}

// CreateRequest is a create call.
type CreateRequest struct {
	Input
	// IdempotencyKey, when set, makes a retried create return the document
	// the first call created instead of a second one.
	IdempotencyKey string
	// Raw is the submitted JSON (for the payload history, and to recognise
	// a retry).
	Raw []byte
	// File is the uploaded file, if any.
	File *Upload
}

// Created is the result of a create.
type Created struct {
	Document Document
	// Replayed is true when an earlier call with the same Idempotency-Key
	// created the document.
	Replayed bool
}

var errReplay = errors.New("idempotent replay")

// Create stores a new document (and its file) with its first version.
func (s *Service) Create(ctx context.Context, p authz.Principal, req CreateRequest) (Created, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentCreate, authz.Resource{TenantID: tenantID, DocType: req.Type}, "document"); err != nil {
		return Created{}, err
	}
	if len(req.IdempotencyKey) > 255 {
		return Created{}, problem.Invalid("invalid_idempotency_key", "An Idempotency-Key has at most 255 characters.")
	}
	dt, err := s.documentType(ctx, tenantID, req.Type)
	if err != nil {
		return Created{}, err
	}
	if err := s.checkInput(&req.Input, dt.archive); err != nil {
		return Created{}, err
	}
	if err := dt.check(req.Data); err != nil {
		return Created{}, err
	}
	var idem *store.IdempotencyRow
	if req.IdempotencyKey != "" {
		idem = s.idempotency(p, tenantID, req.IdempotencyKey, req.Raw)
		if out, done, err := s.replay(ctx, p, *idem); done {
			return out, err
		}
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Created{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id := uuid.Must(uuid.NewV7()).String()
	c := content{Data: req.Data, Metadata: req.Metadata, Subjects: req.Subjects, Type: req.Type, Archive: req.Archive,
		DocumentDate: req.DocumentDate, ReviewDate: req.ReviewDate}
	var staged *stagedFile
	if req.File != nil {
		if staged, err = s.stage(ctx, sealer, req.File); err != nil {
			return Created{}, err
		}
		c.File = &staged.info
	}
	fileID := ""
	if staged != nil {
		fileID = staged.id
	}
	sv, err := sealVersion(sealer, p, id, 1, c, changedOnCreate(c), fileID, now)
	if err != nil {
		s.discard(ctx, tenantID, staged)
		return Created{}, err
	}
	kept, err := s.preparePayload(ctx, tenantID, "document", id, req.Raw)
	if err != nil {
		s.discard(ctx, tenantID, staged)
		return Created{}, err
	}
	row := store.DocumentRow{TenantID: tenantID, ID: id, Type: req.Type, Archive: req.Archive, DocumentDate: req.DocumentDate,
		ReviewDate: req.ReviewDate, Version: 1, FileID: fileID, CreatedAt: now, UpdatedAt: now}
	if err := s.setRetention(ctx, &row); err != nil {
		s.discard(ctx, tenantID, staged)
		return Created{}, err
	}
	if idem != nil {
		idem.DocumentID, idem.CreatedAt = id, now
	}
	err = s.trail.Do(ctx, audit.Description{Action: string(authz.DocumentCreate), TenantID: tenantID, ResourceType: "document", ResourceID: id},
		func(tx *store.Tx) error {
			if idem != nil {
				if err := tx.InsertIdempotencyKey(ctx, *idem); errors.Is(err, store.ErrConflict) {
					return errReplay // a concurrent call with the same key won
				} else if err != nil {
					return err
				}
			}
			if err := tx.InsertDocument(ctx, row); err != nil {
				return err
			}
			if err := tx.InsertDocumentVersion(ctx, sv.row); err != nil {
				return err
			}
			if err := tx.SetDocumentSubjects(ctx, tenantID, id, sv.subjects); err != nil {
				return err
			}
			if staged != nil {
				if err := tx.StoreFile(ctx, tenantID, staged.id, id); err != nil {
					return fmt.Errorf("store the uploaded file: %w", err)
				}
			}
			return kept.Keep(ctx, tx)
		})
	if err != nil {
		s.discard(ctx, tenantID, staged)
		if errors.Is(err, errReplay) {
			out, _, err := s.replay(ctx, p, *idem)
			return out, err
		}
		return Created{}, err
	}
	d := view(row, c)
	d.Retention, _ = s.retentionView(ctx, row)
	return Created{Document: d}, nil
}

// changedOnCreate lists what a first version sets.
func changedOnCreate(c content) []string {
	out := []string{"/type", "/archive", "/document_date"}
	if c.ReviewDate != "" {
		out = append(out, "/review_date")
	}
	if len(c.Data) > 0 {
		out = append(out, "/data")
	}
	if len(c.Metadata) > 0 {
		out = append(out, "/metadata")
	}
	for _, k := range subjectKinds(c.Subjects) {
		out = append(out, "/subjects/"+k)
	}
	if c.File != nil {
		out = append(out, "/file")
	}
	return out
}

// preparePayload seals the submitted JSON for the tenant's payload
// history, when the tenant keeps one (nil otherwise, which keeps nothing).
func (s *Service) preparePayload(ctx context.Context, tenantID, resType, resID string, raw []byte) (*audit.Payload, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	st, err := s.settings.SettingsOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !st.PayloadHistory {
		audit.Detail(ctx, "payload_kept", "no")
		return nil, nil
	}
	audit.Detail(ctx, "payload_kept", "yes")
	return s.trail.PreparePayload(ctx, tenantID, audit.ActionOf(ctx), resType, resID, raw)
}

// idempotency is the record of a create under an Idempotency-Key: the key
// and the request are kept only as hashes.
func (s *Service) idempotency(p authz.Principal, tenantID, key string, raw []byte) *store.IdempotencyRow {
	kh := sha256.Sum256([]byte(key))
	rh := sha256.Sum256(raw)
	_, actor := actorOf(p)
	return &store.IdempotencyRow{TenantID: tenantID, Actor: actor, KeyHash: kh[:], RequestHash: rh[:]}
}

// replay answers a create whose Idempotency-Key was used before: done is
// true when it was.
func (s *Service) replay(ctx context.Context, p authz.Principal, idem store.IdempotencyRow) (Created, bool, error) {
	prev, err := s.db.Reader().IdempotencyKey(ctx, idem.TenantID, idem.Actor, idem.KeyHash)
	if errors.Is(err, store.ErrNotFound) {
		return Created{}, false, nil
	}
	if err != nil {
		return Created{}, true, err
	}
	if !bytes.Equal(prev.RequestHash, idem.RequestHash) {
		return Created{}, true, problem.New(problem.KindUnprocessable, "idempotency_key_reused",
			"This Idempotency-Key was used for a different request. Use a new key for a new document.")
	}
	audit.Detail(ctx, "idempotent_replay", "yes")
	doc, err := s.get(ctx, idem.TenantID, prev.DocumentID)
	if errors.Is(err, ErrNotFound) {
		return Created{}, true, problem.Conflict("idempotency_key_used", "This Idempotency-Key created a document that has since been deleted.")
	}
	return Created{Document: doc, Replayed: true}, true, err
}

// Get returns a document with its current content.
func (s *Service) Get(ctx context.Context, p authz.Principal, id string) (Document, error) {
	tenantID := tenantOf(p)
	row, err := s.readRow(ctx, p, authz.DocumentRead, tenantID, id)
	if err != nil {
		return Document{}, err
	}
	return s.viewRow(ctx, row)
}

// readRow reads a document's row and authorizes action on it: a missing
// document is authorized against its tenant first, so that a caller who
// may not read documents learns nothing from a 404.
func (s *Service) readRow(ctx context.Context, p authz.Principal, action authz.Action, tenantID, id string) (store.DocumentRow, error) {
	res := authz.Resource{TenantID: tenantID, ID: id}
	row, err := s.db.Reader().Document(ctx, tenantID, id)
	if err == nil {
		res.DocType = row.Type
	}
	if aerr := s.authorize(ctx, p, action, res, "document"); aerr != nil {
		return store.DocumentRow{}, aerr
	}
	if errors.Is(err, store.ErrNotFound) || tenantID == "" {
		return store.DocumentRow{}, ErrNotFound
	}
	return row, err
}

func (s *Service) get(ctx context.Context, tenantID, id string) (Document, error) {
	row, err := s.db.Reader().Document(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Document{}, ErrNotFound
	}
	if err != nil {
		return Document{}, err
	}
	return s.viewRow(ctx, row)
}

func (s *Service) viewRow(ctx context.Context, row store.DocumentRow) (Document, error) {
	v, err := s.db.Reader().DocumentVersion(ctx, row.TenantID, row.ID, row.Version)
	if err != nil {
		return Document{}, fmt.Errorf("document %s: current version: %w", row.ID, err)
	}
	sealer, err := s.keys.Sealer(ctx, row.TenantID)
	if err != nil {
		return Document{}, err
	}
	c, err := openVersion(sealer, row.ID, row.Version, v.Content)
	if err != nil {
		return Document{}, err
	}
	d := view(row, c)
	if d.Retention, err = s.retentionView(ctx, row); err != nil {
		return Document{}, err
	}
	return d, nil
}

// Filter selects documents in a list.
type Filter struct {
	Type     string
	Archive  string
	DateFrom string
	DateTo   string
	// ReviewDue lists documents whose review date has come.
	ReviewDue bool
}

func (s *Service) storeFilter(f Filter) (store.DocumentFilter, error) {
	var fields []problem.FieldError
	if f.Type != "" && !typePattern.MatchString(f.Type) {
		fields = append(fields, problem.Field("/type", "invalid_type", "A type is 1 to 64 lower-case letters, digits, '_', '.' or '-'."))
	}
	switch f.Archive {
	case "", ArchiveLegal, ArchiveStandard, ArchiveMessage:
	default:
		fields = append(fields, problem.Field("/archive", "invalid_archive", "Use legal, standard or message."))
	}
	for name, d := range map[string]string{"from": f.DateFrom, "to": f.DateTo} {
		if d != "" && !validDate(d) {
			fields = append(fields, problem.Field("/"+name, "invalid_date", "Use a date as YYYY-MM-DD."))
		}
	}
	if len(fields) > 0 {
		return store.DocumentFilter{}, problem.Invalid("invalid_filter", "The filter is not valid.", fields...)
	}
	sf := store.DocumentFilter{Type: f.Type, Archive: f.Archive, DateFrom: f.DateFrom, DateTo: f.DateTo}
	if f.ReviewDue {
		sf.ReviewDueBy = retention.Today(s.now())
	}
	return sf, nil
}

func checkCursor(cursor string) error {
	if cursor == "" {
		return nil
	}
	if _, err := uuid.Parse(cursor); err != nil {
		return problem.Invalid("invalid_cursor", "The cursor is not one this API gave out.", problem.Field("/cursor", "invalid_cursor", "Use next_cursor from the previous page."))
	}
	return nil
}

// List lists the documents of p's tenant matching f, newest first.
func (s *Service) List(ctx context.Context, p authz.Principal, f Filter, cursor string, limit int) ([]Summary, string, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentList, authz.Resource{TenantID: tenantID, DocType: f.Type}, "document"); err != nil {
		return nil, "", err
	}
	sf, err := s.storeFilter(f)
	if err != nil {
		return nil, "", err
	}
	if err := checkCursor(cursor); err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	rows, err := s.db.Reader().Documents(ctx, tenantID, sf, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(rows, limit)
}

func pageLimit(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return MaxPage
	}
	return limit
}

func page(rows []store.DocumentRow, limit int) ([]Summary, string, error) {
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Summary, 0, len(rows))
	for _, r := range rows {
		out = append(out, summary(r))
	}
	return out, next, nil
}

// Search lists the documents of p's tenant linked to a data subject,
// newest first. The identifier is normalised first, so every way of
// writing it finds the same documents.
func (s *Service) Search(ctx context.Context, p authz.Principal, subject Subject, f Filter, cursor string, limit int) ([]Summary, string, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentList, authz.Resource{TenantID: tenantID, DocType: f.Type}, "document"); err != nil {
		return nil, "", err
	}
	audit.Detail(ctx, "search", "subject:"+subject.Kind)
	norm, err := normaliseSubject(subject, s.now())
	if err != nil {
		return nil, "", err
	}
	sf, err := s.storeFilter(f)
	if err != nil {
		return nil, "", err
	}
	if err := checkCursor(cursor); err != nil {
		return nil, "", err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, "", err
	}
	token, err := subjectToken(sealer, norm)
	if err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	rows, err := s.db.Reader().SearchDocuments(ctx, tenantID, token, sf, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	return page(rows, limit)
}

// Patch changes a document: each non-nil field replaces the current one;
// Data is a JSON merge patch (RFC 7386) of the current data.
type Patch struct {
	Archive      *string            `json:"archive,omitempty"`
	DocumentDate *string            `json:"document_date,omitempty"`
	ReviewDate   *string            `json:"review_date,omitempty"`
	Data         json.RawMessage    `json:"data,omitempty"`
	Subjects     *[]Subject         `json:"subjects,omitempty"`
	Metadata     *map[string]string `json:"metadata,omitempty"`
}

// UpdateRequest is an update call.
type UpdateRequest struct {
	Patch Patch
	// IfMatch is the version the caller read (0: any).
	IfMatch int64
	// Raw is the submitted JSON (for the payload history).
	Raw []byte
}

// Update makes a new version of a document. The version history records
// which fields changed, by whom and when — never their values.
func (s *Service) Update(ctx context.Context, p authz.Principal, id string, req UpdateRequest) (Document, error) {
	return s.change(ctx, p, id, req.IfMatch, req.Raw, func(c *content) error {
		in := Input{Type: c.Type, Archive: c.Archive, DocumentDate: c.DocumentDate, ReviewDate: c.ReviewDate,
			Data: c.Data, Subjects: c.Subjects, Metadata: c.Metadata}
		pt := req.Patch
		if pt.Archive != nil {
			in.Archive = *pt.Archive
		}
		if pt.DocumentDate != nil {
			in.DocumentDate = *pt.DocumentDate
		}
		if pt.ReviewDate != nil {
			in.ReviewDate = *pt.ReviewDate
		}
		if len(pt.Data) > 0 {
			merged, err := mergePatch(in.Data, pt.Data)
			if err != nil {
				return err
			}
			in.Data = merged
		}
		if pt.Subjects != nil {
			in.Subjects = *pt.Subjects
		}
		if pt.Metadata != nil {
			in.Metadata = *pt.Metadata
		}
		if err := s.checkInput(&in, c.Archive); err != nil {
			return err
		}
		dt, err := s.documentType(ctx, tenantOf(p), in.Type)
		if err != nil {
			return err
		}
		if err := dt.check(in.Data); err != nil {
			return err
		}
		c.Archive, c.DocumentDate, c.ReviewDate, c.Data, c.Subjects, c.Metadata = in.Archive, in.DocumentDate, in.ReviewDate, in.Data, in.Subjects, in.Metadata
		return nil
	}, nil)
}

// change reads a document, applies edit to its content (and, with a file,
// replaces the file) and stores the result as a new version.
func (s *Service) change(ctx context.Context, p authz.Principal, id string, ifMatch int64, raw []byte, edit func(*content) error, up *Upload) (Document, error) {
	return s.changeKeep(ctx, p, id, ifMatch, raw, edit, up, nil)
}

// changeKeep is change that can also set the day a reviewer extended the
// document's retention to (keepUntil); the new version's changed fields
// then name /keep_until.
func (s *Service) changeKeep(ctx context.Context, p authz.Principal, id string, ifMatch int64, raw []byte, edit func(*content) error, up *Upload, keepUntil *string) (Document, error) {
	tenantID := tenantOf(p)
	row, err := s.readRow(ctx, p, authz.DocumentUpdate, tenantID, id)
	if err != nil {
		return Document{}, err
	}
	if err := checkIfMatch(ifMatch, row.Version); err != nil {
		return Document{}, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Document{}, err
	}
	cur, err := s.db.Reader().DocumentVersion(ctx, tenantID, id, row.Version)
	if err != nil {
		return Document{}, err
	}
	old, err := openVersion(sealer, id, row.Version, cur.Content)
	if err != nil {
		return Document{}, err
	}
	next := old
	if edit != nil {
		if err := edit(&next); err != nil {
			return Document{}, err
		}
	}
	fileID := row.FileID
	var staged *stagedFile
	if up != nil {
		if staged, err = s.stage(ctx, sealer, up); err != nil {
			return Document{}, err
		}
		next.File, fileID = &staged.info, staged.id
	}
	changed := changedFields(old, next)
	if keepUntil != nil && *keepUntil != row.KeepUntil {
		changed = append(changed, "/keep_until")
	}
	if len(changed) == 0 {
		// Nothing changed: no new version.
		s.discard(ctx, tenantID, staged)
		return view(row, old), nil
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	version := row.Version + 1
	sv, err := sealVersion(sealer, p, id, version, next, changed, fileID, now)
	if err != nil {
		s.discard(ctx, tenantID, staged)
		return Document{}, err
	}
	kept, err := s.preparePayload(ctx, tenantID, "document", id, raw)
	if err != nil {
		s.discard(ctx, tenantID, staged)
		return Document{}, err
	}
	audit.Detail(ctx, "version", strconv.FormatInt(version, 10))
	audit.Detail(ctx, "changed", strconv.Itoa(len(changed)))
	updated := row
	updated.Archive, updated.DocumentDate, updated.ReviewDate, updated.Version, updated.FileID, updated.UpdatedAt =
		next.Archive, next.DocumentDate, next.ReviewDate, version, fileID, now
	if keepUntil != nil {
		updated.KeepUntil = *keepUntil
	}
	if row.Archive != updated.Archive || row.DocumentDate != updated.DocumentDate {
		// Moving a document out of the legal archive, or changing the date
		// its legal retention counts from, is refused while the law keeps it.
		if err := s.checkLegalKept(ctx, row); err != nil {
			s.discard(ctx, tenantID, staged)
			return Document{}, err
		}
	}
	if err := s.setRetention(ctx, &updated); err != nil {
		s.discard(ctx, tenantID, staged)
		return Document{}, err
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "document", ResourceID: id}, func(tx *store.Tx) error {
		cur, err := tx.DocumentForUpdate(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if cur.Version != row.Version {
			return errChangedMeanwhile
		}
		if err := tx.UpdateDocument(ctx, updated, row.Version); err != nil {
			return err
		}
		if err := tx.InsertDocumentVersion(ctx, sv.row); err != nil {
			return err
		}
		if subjectsChanged(old.Subjects, next.Subjects) {
			if err := tx.SetDocumentSubjects(ctx, tenantID, id, sv.subjects); err != nil {
				return err
			}
		}
		if staged != nil {
			if err := tx.StoreFile(ctx, tenantID, staged.id, id); err != nil {
				return fmt.Errorf("store the uploaded file: %w", err)
			}
		}
		return kept.Keep(ctx, tx)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.discard(ctx, tenantID, staged)
		return Document{}, ErrNotFound
	case errors.Is(err, errChangedMeanwhile), errors.Is(err, store.ErrConflict):
		s.discard(ctx, tenantID, staged)
		return Document{}, problem.Conflict("document_changed", "The document changed while this change was made; read it again and retry.")
	case err != nil:
		s.discard(ctx, tenantID, staged)
		return Document{}, err
	}
	d := view(updated, next)
	d.Retention, _ = s.retentionView(ctx, updated)
	return d, nil
}

var errChangedMeanwhile = errors.New("document changed meanwhile")

func checkIfMatch(ifMatch, version int64) error {
	if ifMatch == 0 || ifMatch == version {
		return nil
	}
	return &problem.Error{Kind: problem.KindPrecondition, Code: "version_mismatch",
		Message: fmt.Sprintf("The document is at version %d, not the one If-Match names; read it again.", version)}
}

// Delete removes a document with all its versions, subjects and files.
func (s *Service) Delete(ctx context.Context, p authz.Principal, id string, ifMatch int64) error {
	tenantID := tenantOf(p)
	row, err := s.readRow(ctx, p, authz.DocumentDelete, tenantID, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(ifMatch, row.Version); err != nil {
		return err
	}
	if err := s.checkLegalKept(ctx, row); err != nil {
		return err
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "document", ResourceID: id}, func(tx *store.Tx) error {
		if err := checkNotHeld(ctx, tx, tenantID, id); err != nil {
			return err
		}
		return tx.DeleteDocument(ctx, tenantID, id)
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// Version is one entry of a document's version history.
type Version struct {
	Version   int64     `json:"version"`
	Time      time.Time `json:"time"`
	ActorType string    `json:"actor_type"`
	ActorID   string    `json:"actor_id,omitempty"`
	// Changed lists the fields that changed from the version before, as
	// JSON pointers ("/data/address/street", "/subjects/personnummer",
	// "/file"); never their values.
	Changed []string `json:"changed"`
}

// Versions returns a document's version history, oldest first.
func (s *Service) Versions(ctx context.Context, p authz.Principal, id string) ([]Version, error) {
	tenantID := tenantOf(p)
	if _, err := s.readRow(ctx, p, authz.DocumentRead, tenantID, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().DocumentVersions(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(rows))
	for _, r := range rows {
		v := Version{Version: r.Version, Time: r.Time, ActorType: r.ActorType, ActorID: r.ActorID}
		_ = json.Unmarshal([]byte(r.Changed), &v.Changed)
		out = append(out, v)
	}
	return out, nil
}

// AtVersion returns a document as it was at a version.
func (s *Service) AtVersion(ctx context.Context, p authz.Principal, id string, version int64) (Document, error) {
	tenantID := tenantOf(p)
	row, err := s.readRow(ctx, p, authz.DocumentRead, tenantID, id)
	if err != nil {
		return Document{}, err
	}
	v, err := s.db.Reader().DocumentVersion(ctx, tenantID, id, version)
	if errors.Is(err, store.ErrNotFound) {
		return Document{}, problem.NotFound("version_not_found", "The document has no such version.")
	}
	if err != nil {
		return Document{}, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Document{}, err
	}
	c, err := openVersion(sealer, id, version, v.Content)
	if err != nil {
		return Document{}, err
	}
	d := view(row, c)
	d.Version, d.Type, d.Archive, d.DocumentDate, d.ReviewDate, d.UpdatedAt = version, c.Type, c.Archive, c.DocumentDate, c.ReviewDate, v.Time
	return d, nil
}

// MaxImportBatch bounds the documents of one ImportBatch call.
const MaxImportBatch = 1000

// ImportBatch stores many documents (without files) in one transaction,
// with one audit entry for the batch: for imports from another system. A
// batch with any invalid document stores nothing and says which. raw is the
// submitted request (for the payload history).
func (s *Service) ImportBatch(ctx context.Context, p authz.Principal, docs []Input, raw []byte) ([]string, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentCreate, authz.Resource{TenantID: tenantID}, "document"); err != nil {
		return nil, err
	}
	if len(docs) == 0 || len(docs) > MaxImportBatch {
		return nil, problem.Invalid("invalid_batch", fmt.Sprintf("A batch has 1 to %d documents.", MaxImportBatch))
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	types := map[string]docType{}
	now := s.now().UTC().Truncate(time.Microsecond)
	rows := make([]store.DocumentRow, len(docs))
	versions := make([]sealedVersion, len(docs))
	ids := make([]string, len(docs))
	for i := range docs {
		in := &docs[i]
		dt, ok := types[in.Type]
		if !ok && typePattern.MatchString(in.Type) {
			if dt, err = s.documentType(ctx, tenantID, in.Type); err != nil {
				return nil, err
			}
			types[in.Type] = dt
		}
		if !ok && !typePattern.MatchString(in.Type) {
			dt = docType{archive: ArchiveStandard}
		}
		err := s.checkInput(in, dt.archive)
		if err == nil {
			err = dt.check(in.Data)
		}
		if err != nil {
			if pe, ok := problem.As(err); ok {
				q := *pe
				q.Message = fmt.Sprintf("Document %d of the batch: %s", i, pe.Message)
				return nil, &q
			}
			return nil, err
		}
		id := uuid.Must(uuid.NewV7()).String()
		c := content{Data: in.Data, Metadata: in.Metadata, Subjects: in.Subjects, Type: in.Type, Archive: in.Archive,
			DocumentDate: in.DocumentDate, ReviewDate: in.ReviewDate}
		if versions[i], err = sealVersion(sealer, p, id, 1, c, changedOnCreate(c), "", now); err != nil {
			return nil, err
		}
		rows[i] = store.DocumentRow{TenantID: tenantID, ID: id, Type: in.Type, Archive: in.Archive, DocumentDate: in.DocumentDate,
			ReviewDate: in.ReviewDate, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := s.setRetention(ctx, &rows[i]); err != nil {
			return nil, err
		}
		ids[i] = id
	}
	audit.Detail(ctx, "documents", fmt.Sprint(len(docs)))
	// Each document's submitted content is kept under its own id, so that
	// culling and erasure find it.
	var kept []*audit.Payload
	if len(raw) > 0 {
		for i := range docs {
			one, err := json.Marshal(docs[i])
			if err != nil {
				return nil, err
			}
			p, err := s.preparePayload(ctx, tenantID, "document", ids[i], one)
			if err != nil {
				return nil, err
			}
			if p == nil {
				break // the tenant keeps no payload history
			}
			kept = append(kept, p)
		}
	}
	err = s.trail.Do(ctx, audit.Description{Action: "document.import", TenantID: tenantID, ResourceType: "document"}, func(tx *store.Tx) error {
		for i := range rows {
			if err := tx.InsertDocument(ctx, rows[i]); err != nil {
				return err
			}
			if err := tx.InsertDocumentVersion(ctx, versions[i].row); err != nil {
				return err
			}
			if err := tx.SetDocumentSubjects(ctx, tenantID, ids[i], versions[i].subjects); err != nil {
				return err
			}
		}
		for _, p := range kept {
			if err := p.Keep(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ValidType reports whether s is a well-formed document type name.
func ValidType(s string) bool { return typePattern.MatchString(s) }

// MonthCount is how many documents of an archive are dated in a month.
type MonthCount = store.MonthCount

// PerMonth counts p's tenant's documents per archive and month of their
// document date, from the date from (YYYY-MM-DD) on: the portal's chart.
func (s *Service) PerMonth(ctx context.Context, p authz.Principal, from string) ([]MonthCount, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentList, authz.Resource{TenantID: tenantID}, "document"); err != nil {
		return nil, err
	}
	if !validDate(from) {
		return nil, problem.Invalid("invalid_date", "Use a date as YYYY-MM-DD.")
	}
	return s.db.Reader().DocumentsPerMonth(ctx, tenantID, from)
}
