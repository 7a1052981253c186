package access

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Keys hands out a tenant's sealer (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Trail writes the audit trail.
type Trail interface {
	Do(ctx context.Context, d audit.Description, fn func(tx *store.Tx) error) error
}

// Tenant is what the service needs to know of a tenant.
type Tenant struct {
	Name string
	// Consent is the tenant's setting that its owner must consent to
	// operator access (OPS-3).
	Consent bool
}

// Tenants looks tenants up; a missing one is store.ErrNotFound.
type Tenants interface {
	AccessTenant(ctx context.Context, tenantID string) (Tenant, error)
}

// Notifier tells people of requests. Its methods must not block the call
// (they mail in the background).
type Notifier interface {
	// Filed: a request waits for a security operator (not the requester).
	Filed(ctx context.Context, r Request)
	// ConsentWanted: an approved request waits for the tenant's owners.
	ConsentWanted(ctx context.Context, r Request)
	// Decided: the requester's request was approved, denied, consented
	// to, refused or revoked.
	Decided(ctx context.Context, r Request)
	// BreakGlass: emergency access was taken; every security operator and
	// the tenant's owners are told at once.
	BreakGlass(ctx context.Context, r Request)
}

// Defaults and bounds.
const (
	// DefaultMaxDuration bounds how long a grant lasts.
	DefaultMaxDuration = 4 * time.Hour
	// BreakGlassDuration bounds break-glass access.
	BreakGlassDuration = time.Hour
	// MinDuration is the shortest grant.
	MinDuration = 5 * time.Minute
	// RequestLifetime is how long a request may wait for its approval
	// and consent; after that it has lapsed and a new one is needed.
	RequestLifetime = 7 * 24 * time.Hour
	// MaxPage bounds a page of requests.
	MaxPage = 200

	maxReason  = 2000
	minReason  = 10
	maxTicket  = 100
	maxDocType = 64
)

// Options configures the service.
type Options struct {
	DB       *store.DB
	Keys     Keys
	Trail    Trail
	Tenants  Tenants
	Notifier Notifier
	// MaxDuration bounds a grant's duration (DefaultMaxDuration).
	MaxDuration time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service is operator access: requests, decisions, consent, grants.
type Service struct {
	db      *store.DB
	keys    Keys
	trail   Trail
	tenants Tenants
	notify  Notifier
	max     time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.Notifier == nil {
		o.Notifier = silent{}
	}
	return &Service{db: o.DB, keys: o.Keys, trail: o.Trail, tenants: o.Tenants, notify: o.Notifier, max: o.MaxDuration, log: o.Logger, now: o.Now}
}

// MaxDuration is the longest grant this installation allows.
func (s *Service) MaxDuration() time.Duration { return s.max }

type silent struct{}

func (silent) Filed(context.Context, Request)         {}
func (silent) ConsentWanted(context.Context, Request) {}
func (silent) Decided(context.Context, Request)       {}
func (silent) BreakGlass(context.Context, Request)    {}

// States of a request, as Request.State shows them.
const (
	// StatePending: waiting for a security operator.
	StatePending = "pending"
	// StateAwaitingConsent: approved, waiting for the tenant's owner.
	StateAwaitingConsent = "awaiting_consent"
	// StateActive: a grant in force.
	StateActive = "active"
	// StateDenied: a security operator denied it.
	StateDenied = "denied"
	// StateRefused: the tenant's owner refused consent.
	StateRefused = "refused"
	// StateRevoked: ended early, or withdrawn before it was decided.
	StateRevoked = "revoked"
	// StateExpired: its time ran out.
	StateExpired = "expired"
	// StateLapsed: not approved (or consented to) within RequestLifetime.
	StateLapsed = "lapsed"
)

// Stored approval and consent values.
const (
	approvalPending    = "pending"
	approvalApproved   = "approved"
	approvalDenied     = "denied"
	approvalBreakGlass = "break_glass"

	consentNotRequired = "not_required"
	consentPending     = "pending"
	consentGiven       = "given"
	consentRefused     = "refused"
)

// Problems.
var (
	ErrNotFound        = problem.NotFound("access_request_not_found", "No such access request.")
	errTenantNotFound  = problem.NotFound("tenant_not_found", "No such tenant.")
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	errForbidden       = problem.Forbidden("forbidden", "You do not have permission to do this.")
	errOwnRequest      = problem.Forbidden("own_request", "A security operator other than the requester must decide on a request.")
)

// Request is an access request as its readers see it.
type Request struct {
	ID        string           `json:"id"`
	TenantID  string           `json:"tenant_id"`
	Requester string           `json:"requester"`
	Scope     authz.GrantScope `json:"scope"`
	// DocumentType is the type, for scope documents_of_type.
	DocumentType string `json:"document_type,omitempty"`
	// DocumentID is the document, for scope document.
	DocumentID string   `json:"document_id,omitempty"`
	Reason     string   `json:"reason"`
	Ticket     string   `json:"ticket,omitempty"`
	Duration   Duration `json:"duration"`
	BreakGlass bool     `json:"break_glass"`
	// State is pending, awaiting_consent, active, denied, refused,
	// revoked, expired or lapsed.
	State      string     `json:"state"`
	Approval   Step       `json:"approval"`
	Consent    Consent    `json:"consent"`
	CreatedAt  time.Time  `json:"created_at"`
	ActiveFrom *time.Time `json:"active_from,omitempty"`
	Expires    *time.Time `json:"expires,omitempty"`
	Revoked    *Step      `json:"revoked,omitempty"`
	Version    int64      `json:"version"`
}

// Step is a decision on a request: by whom, when, with what comment.
type Step struct {
	// State is pending, approved, denied or break_glass (an approval), or
	// revoked.
	State   string     `json:"state"`
	By      string     `json:"by,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Comment string     `json:"comment,omitempty"`
}

// Consent is the tenant owner's part.
type Consent struct {
	Required bool `json:"required"`
	// State is not_required, pending, given or refused.
	State   string     `json:"state"`
	By      string     `json:"by,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Comment string     `json:"comment,omitempty"`
}

// Duration is a time.Duration written as "2h0m0s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go's duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// detail is the sealed part of a request.
type detail struct {
	Reason         string `json:"reason"`
	Ticket         string `json:"ticket,omitempty"`
	DecisionNote   string `json:"decision_comment,omitempty"`
	ConsentNote    string `json:"consent_comment,omitempty"`
	RevocationNote string `json:"revocation_comment,omitempty"`
}

func location(id string) seal.Location {
	return seal.Location{Table: "access_grants", Row: id, Field: "detail"}
}

func (s *Service) sealDetail(ctx context.Context, tenantID, id string, d detail) ([]byte, error) {
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return sealer.Seal(raw, location(id))
}

func (s *Service) openDetail(ctx context.Context, r store.AccessGrantRow) (detail, error) {
	var d detail
	sealer, err := s.keys.Sealer(ctx, r.TenantID)
	if err != nil {
		return d, err
	}
	raw, err := sealer.Open(r.Detail, location(r.ID))
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(raw, &d)
}

// state is what a request is at now.
func state(r store.AccessGrantRow, now time.Time) string {
	switch {
	case !r.RevokedAt.IsZero():
		return StateRevoked
	case r.Approval == approvalDenied:
		return StateDenied
	case r.Consent == consentRefused:
		return StateRefused
	case !r.ActivatedAt.IsZero():
		if now.Before(r.ExpiresAt) {
			return StateActive
		}
		return StateExpired
	case now.Sub(r.CreatedAt) >= RequestLifetime:
		return StateLapsed
	case r.Approval == approvalApproved:
		return StateAwaitingConsent
	}
	return StatePending
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Service) view(r store.AccessGrantRow, d detail) Request {
	v := Request{ID: r.ID, TenantID: r.TenantID, Requester: r.Requester, Scope: authz.GrantScope(r.Scope), DocumentType: r.DocType,
		DocumentID: r.DocID, Reason: d.Reason, Ticket: d.Ticket, Duration: Duration(r.Duration), BreakGlass: r.BreakGlass,
		State: state(r, s.now()), CreatedAt: r.CreatedAt, ActiveFrom: timePtr(r.ActivatedAt), Expires: timePtr(r.ExpiresAt), Version: r.Version,
		Approval: Step{State: r.Approval, By: r.Approver, At: timePtr(r.ApprovedAt), Comment: d.DecisionNote},
		Consent:  Consent{Required: r.Consent != consentNotRequired, State: r.Consent, By: r.ConsentBy, At: timePtr(r.ConsentAt), Comment: d.ConsentNote},
	}
	if !r.RevokedAt.IsZero() {
		v.Revoked = &Step{State: StateRevoked, By: r.RevokedBy, At: timePtr(r.RevokedAt), Comment: d.RevocationNote}
	}
	return v
}

// authorize decides whether p may do a on a request of tenantID (res.ID
// is the request; res.Owner its requester), and tells the call's record.
func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, res authz.Resource) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: res.TenantID, ResourceType: "access_grant", ResourceID: res.ID})
	d := authz.Decide(p, a, res, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return errForbidden
	}
	return nil
}

// load reads a request; a caller who may not see it gets ErrNotFound.
func (s *Service) load(ctx context.Context, id string) (store.AccessGrantRow, error) {
	if _, err := uuid.Parse(id); err != nil {
		return store.AccessGrantRow{}, ErrNotFound
	}
	r, err := s.db.Reader().AccessGrant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, ErrNotFound
	}
	return r, err
}

// visible reports whether p may see request r at all (before authorizing
// the action): a tenant's people see its requests; an operator with the
// operator role sees only their own; security operators see every one.
func visible(p authz.Principal, r store.AccessGrantRow) bool {
	switch p.Kind {
	case authz.User, authz.APIKey:
		return p.TenantID == r.TenantID
	case authz.Operator:
		return p.Role == authz.RoleSecurity || p.ID == r.Requester
	}
	return false
}

func invalid(code, msg, field, hint string) error {
	return problem.Invalid(code, msg, problem.Field(field, code, hint))
}

// cleanText trims s and checks its length and that it is text.
func cleanText(s string, min, max int, field, what string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", invalid("invalid_text", what+" is not valid text.", field, "Use plain UTF-8 text.")
	}
	if n < min || n > max {
		if min > 0 && n == 0 {
			return "", invalid("required", what+" is required.", field, "Say it in words; it is kept in the audit trail.")
		}
		return "", invalid("invalid_length", what+" has the wrong length.", field,
			"Use "+strconv.Itoa(min)+" to "+strconv.Itoa(max)+" characters.")
	}
	return s, nil
}
