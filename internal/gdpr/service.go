// Package gdpr keeps the data subjects' rights (GDPR-1..5) and a tenant's
// termination (TEN-3): register extracts, portability packages and their
// import, anonymisation, erasure with signed receipts, restriction, the
// erasure ledger that a restored backup is replayed against, and account
// termination after a grace period.
//
// A request is a durable object, run as queued work (package jobs): each
// batch of documents is handled in one transaction that also saves where
// the request stands, so a request that stops halfway (a crash, a lost
// database) resumes where it was and never reports done before it is.
package gdpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Request kinds.
const (
	KindAccess        = "access"
	KindPortability   = "portability"
	KindErasure       = "erasure"
	KindAnonymisation = "anonymisation"
	KindRestriction   = "restriction"
)

// Request statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusRetrying  = "retrying"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// queueKind is the kind of queued work that runs a request.
const queueKind = "gdpr.request"

// Keys is what the service needs of the keyring.
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
	Destroy(ctx context.Context, tenant string) error
}

// Law says how long the law alone keeps a document (archive.Service).
type Law interface {
	LawUntil(ctx context.Context, tenantID, archive, typ, documentDate string) (string, error)
}

// Options build a Service.
type Options struct {
	DB        *store.DB
	Keys      Keys
	Documents *document.Service
	Trail     *audit.Trail
	Jobs      *jobs.Scheduler
	Law       Law
	// Grace is how long a requested termination waits (default 30 days).
	Grace time.Duration
	// Batch is how many documents one transaction handles (default 200).
	Batch int
	// AfterBatch, if set, is called after each committed batch of a
	// request (tests use it to stop a request halfway).
	AfterBatch func(requestID string, batch int) error
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service keeps the data subjects' rights.
type Service struct {
	db         *store.DB
	keys       Keys
	docs       *document.Service
	trail      *audit.Trail
	jobs       *jobs.Scheduler
	law        Law
	grace      time.Duration
	batch      int
	afterBatch func(string, int) error
	now        func() time.Time
	log        *slog.Logger
}

// New builds the service and registers its queued work.
func New(o Options) *Service {
	s := &Service{db: o.DB, keys: o.Keys, docs: o.Documents, trail: o.Trail, jobs: o.Jobs, law: o.Law, grace: o.Grace, batch: o.Batch,
		afterBatch: o.AfterBatch, now: o.Now, log: o.Logger}
	if s.grace <= 0 {
		s.grace = 30 * 24 * time.Hour
	}
	if s.batch <= 0 {
		s.batch = 200
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.jobs != nil {
		s.jobs.Handle(queueKind, s.handle)
	}
	return s
}

// Grace is how long a requested termination waits.
func (s *Service) Grace() time.Duration { return s.grace }

var (
	errForbidden       = problem.Forbidden("forbidden", "You may not do this.")
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	// ErrNotFound is a request that does not exist (or is not the caller's
	// tenant's).
	ErrNotFound = problem.NotFound("request_not_found", "There is no such data-subject request.")
)

func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, id string) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "subject_request", ResourceID: id})
	d := authz.Decide(p, a, authz.Resource{TenantID: p.TenantID, ID: id}, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed || p.TenantID == "" {
		return errForbidden
	}
	return nil
}

// RequestInput is a new data-subject request.
type RequestInput struct {
	// Kind: access, portability, erasure, anonymisation or restriction.
	Kind string `json:"kind"`
	// Subjects are the subject's identifiers (kind and value, e.g.
	// personnummer, email); the request covers every document linked to
	// any of them.
	Subjects []Identifier `json:"subjects,omitempty"`
	// DocumentID narrows an erasure, anonymisation or restriction to one
	// document (then Subjects may be empty for erasure and restriction).
	DocumentID string `json:"document_id,omitempty"`
	// Fields are further fields to remove when anonymising, as JSON
	// pointers: "/data/..." or "/metadata/<key>". Fields the document
	// type's schema marks "x-personal" are always removed.
	Fields []string `json:"fields,omitempty"`
}

// options are a request's settings kept in the clear (no personal data).
type options struct {
	Fields []string `json:"fields,omitempty"`
}

// MaxIdentifiers bounds the identifiers of one request.
const MaxIdentifiers = 20

// Create records a request and queues it; it runs at once where a node is
// free, and is retried until done.
func (s *Service) Create(ctx context.Context, p authz.Principal, in RequestInput) (View, error) {
	if err := s.authorize(ctx, p, authz.SubjectRequestCreate, ""); err != nil {
		return View{}, err
	}
	tenantID := p.TenantID
	var fields []problem.FieldError
	switch in.Kind {
	case KindAccess, KindPortability:
		if in.DocumentID != "" {
			fields = append(fields, problem.Field("/document_id", "not_allowed", "An extract covers a data subject: give their identifiers, not a document."))
		}
	case KindErasure, KindAnonymisation, KindRestriction:
	default:
		fields = append(fields, problem.Field("/kind", "invalid_kind", "Use access, portability, erasure, anonymisation or restriction."))
	}
	if len(in.Subjects) == 0 && (in.DocumentID == "" || in.Kind == KindAnonymisation) {
		fields = append(fields, problem.Field("/subjects", "required", "Give at least one identifier of the data subject."))
	}
	if len(in.Subjects) > MaxIdentifiers {
		fields = append(fields, problem.Field("/subjects", "too_many", fmt.Sprintf("At most %d identifiers.", MaxIdentifiers)))
	}
	if in.Kind != KindAnonymisation && len(in.Fields) > 0 {
		fields = append(fields, problem.Field("/fields", "not_allowed", "Fields are for anonymisation only."))
	}
	for i, f := range in.Fields {
		if !validField(f) {
			fields = append(fields, problem.Field(fmt.Sprintf("/fields/%d", i), "invalid_field", `Use a JSON pointer into the data ("/data/name") or a metadata key ("/metadata/key").`))
		}
	}
	if len(in.Fields) > 100 {
		fields = append(fields, problem.Field("/fields", "too_many", "At most 100 fields."))
	}
	var ids []Identifier
	var tokens [][]byte
	for i, sub := range in.Subjects {
		norm, tok, err := s.docs.SubjectToken(ctx, tenantID, document.Subject{Kind: sub.Kind, Value: sub.Value})
		if err != nil {
			if pe, ok := problem.As(err); ok {
				fields = append(fields, problem.Field(fmt.Sprintf("/subjects/%d", i), "invalid_identifier", pe.Message))
				continue
			}
			return View{}, err
		}
		ids = append(ids, Identifier{Kind: norm.Kind, Value: norm.Value})
		tokens = append(tokens, tok)
	}
	if len(fields) > 0 {
		return View{}, problem.Invalid("invalid_request", "The request is not valid.", fields...)
	}
	scope, target := "subject", ""
	if in.DocumentID != "" {
		scope, target = "document", in.DocumentID
		if _, _, err := s.db.Reader().DocumentAny(ctx, tenantID, in.DocumentID); errors.Is(err, store.ErrNotFound) {
			return View{}, document.ErrNotFound
		} else if err != nil {
			return View{}, err
		}
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return View{}, err
	}
	now := s.now().UTC()
	id := uuid.Must(uuid.NewV7()).String()
	rawIDs, _ := json.Marshal(ids)
	sealedIDs, err := sealer.Seal(rawIDs, subjectsLocation(id))
	if err != nil {
		return View{}, err
	}
	opts, _ := json.Marshal(options{Fields: in.Fields})
	row := store.SubjectRequestRow{TenantID: tenantID, ID: id, Kind: in.Kind, Scope: scope, Target: target, Subjects: sealedIDs,
		Options: string(opts), RequestedBy: actorString(p), ReceivedAt: now, Deadline: Deadline(now), Status: StatusQueued,
		Progress: "{}", UpdatedAt: now}
	var queued string
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertSubjectRequest(ctx, row, tokens); err != nil {
			return err
		}
		queued, err = s.jobs.Enqueue(ctx, tx, queueKind, tenantID+"/"+id)
		return err
	})
	if err != nil {
		return View{}, fmt.Errorf("store the request: %w", err)
	}
	audit.Describe(ctx, audit.Description{TenantID: tenantID, ResourceType: "subject_request", ResourceID: id})
	audit.Detail(ctx, "kind", in.Kind)
	// Run it now where we can, as Valv's own work (not as part of this
	// call, whose audit entry is its own); the queue retries it otherwise.
	if _, err := s.jobs.RunQueued(context.Background(), queued); err != nil {
		s.log.Warn("data-subject request did not finish at once; it is retried", "request", id, "error", err)
	}
	return s.view(ctx, tenantID, id)
}

func validField(f string) bool {
	if len(f) > 256 {
		return false
	}
	if rest, ok := cutPrefix(f, "/metadata/"); ok {
		return rest != ""
	}
	return f == "/data" || (len(f) > len("/data/") && f[:6] == "/data/")
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func actorString(p authz.Principal) string {
	if p.Kind == authz.APIKey {
		return "api_key:" + p.ID
	}
	return string(p.Kind) + ":" + p.ID
}

func subjectsLocation(id string) seal.Location {
	return seal.Location{Table: "subject_requests", Row: id, Field: "subjects"}
}

func resultLocation(id string) seal.Location {
	return seal.Location{Table: "subject_requests", Row: id, Field: "result"}
}

// Deadline is the day an answer to a request received at t is due: one
// month later (art. 12(3)), on the Swedish calendar.
func Deadline(t time.Time) string {
	d, _ := time.Parse(time.DateOnly, retention.Today(t))
	return d.AddDate(0, 1, 0).Format(time.DateOnly)
}

// View is a request as the tenant sees it.
type View struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Scope      string `json:"scope"`
	DocumentID string `json:"document_id,omitempty"`
	// Subjects are the identifiers; gone once the subject is erased.
	Subjects    []Identifier `json:"subjects"`
	Fields      []string     `json:"fields,omitempty"`
	RequestedBy string       `json:"requested_by"`
	ReceivedAt  time.Time    `json:"received_at"`
	// Deadline is the day the answer is due; DaysLeft counts down to it
	// (negative when overdue) while the request is open.
	Deadline  string `json:"deadline"`
	DaysLeft  int    `json:"days_left"`
	Overdue   bool   `json:"overdue"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// Progress is what the request has done so far (and, once completed,
	// its result: what was erased, restricted and until when,
	// anonymised).
	Progress    Progress   `json:"progress"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Receipt is the signed receipt (erasure, anonymisation, restriction):
	// a note signed with the installation's audit key, verifiable with
	// the key from GET /api/v1/audit/key.
	Receipt string `json:"receipt,omitempty"`
	// ResultAvailable says the extract can be downloaded.
	ResultAvailable bool `json:"result_available"`
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, p authz.Principal, id string) (View, error) {
	if err := s.authorize(ctx, p, authz.SubjectRequestRead, id); err != nil {
		return View{}, err
	}
	return s.view(ctx, p.TenantID, id)
}

func (s *Service) view(ctx context.Context, tenantID, id string) (View, error) {
	row, err := s.db.Reader().SubjectRequest(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, ErrNotFound
	}
	if err != nil {
		return View{}, err
	}
	return s.viewRow(ctx, row)
}

func (s *Service) viewRow(ctx context.Context, row store.SubjectRequestRow) (View, error) {
	v := View{ID: row.ID, Kind: row.Kind, Scope: row.Scope, RequestedBy: row.RequestedBy, ReceivedAt: row.ReceivedAt,
		Deadline: row.Deadline, Status: row.Status, Attempts: row.Attempts, LastError: row.LastError, Receipt: row.Receipt,
		ResultAvailable: len(row.Result) > 0, Subjects: []Identifier{}}
	if row.Scope == "document" {
		v.DocumentID = row.Target
	}
	if len(row.Subjects) > 0 {
		sealer, err := s.keys.Sealer(ctx, row.TenantID)
		if err != nil {
			return View{}, err
		}
		raw, err := sealer.Open(row.Subjects, subjectsLocation(row.ID))
		if err != nil {
			return View{}, fmt.Errorf("request %s: identifiers: %w", row.ID, err)
		}
		if err := json.Unmarshal(raw, &v.Subjects); err != nil {
			return View{}, err
		}
		if v.Subjects == nil {
			v.Subjects = []Identifier{}
		}
	}
	var o options
	_ = json.Unmarshal([]byte(row.Options), &o)
	v.Fields = o.Fields
	if err := json.Unmarshal([]byte(row.Progress), &v.Progress); err != nil {
		return View{}, fmt.Errorf("request %s: progress: %w", row.ID, err)
	}
	if !row.CompletedAt.IsZero() {
		t := row.CompletedAt
		v.CompletedAt = &t
	}
	if row.Status != StatusCompleted {
		due, _ := time.Parse(time.DateOnly, row.Deadline)
		today, _ := time.Parse(time.DateOnly, retention.Today(s.now()))
		v.DaysLeft = int(due.Sub(today).Hours() / 24)
		v.Overdue = v.DaysLeft < 0
	}
	return v, nil
}

// List lists the tenant's requests, newest first; status "open" lists
// those not yet completed.
func (s *Service) List(ctx context.Context, p authz.Principal, status, cursor string, limit int) ([]View, string, error) {
	if err := s.authorize(ctx, p, authz.SubjectRequestRead, ""); err != nil {
		return nil, "", err
	}
	switch status {
	case "", "open", StatusQueued, StatusRunning, StatusRetrying, StatusCompleted, StatusFailed:
	default:
		return nil, "", problem.Invalid("invalid_status", "Use open, queued, running, retrying, completed or failed.")
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.db.Reader().SubjectRequests(ctx, p.TenantID, status, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]View, 0, len(rows))
	for _, r := range rows {
		v, err := s.viewRow(ctx, r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}
