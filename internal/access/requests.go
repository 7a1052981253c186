package access

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// RequestInput is an operator's access request (or break-glass access).
type RequestInput struct {
	// Tenant is the tenant's id.
	Tenant string `json:"tenant"`
	// Scope is documents_of_type, document, audit or messages.
	Scope authz.GrantScope `json:"scope"`
	// DocumentType names the type, for documents_of_type.
	DocumentType string `json:"document_type,omitempty"`
	// DocumentID names the document, for document.
	DocumentID string `json:"document_id,omitempty"`
	// Reason says why, in 10 to 2000 characters (sealed; the tenant sees it).
	Reason string `json:"reason"`
	// Ticket is an optional reference to the support case.
	Ticket string `json:"ticket,omitempty"`
	// Duration is how long the grant lasts once active, such as "2h"
	// (at most the configured maximum; break-glass at most 1h).
	Duration string `json:"duration,omitempty"`
}

var docTypeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// canonicalID reports whether s is a UUID in the canonical form Valv's ids
// have (so that a grant names exactly the id it will be compared with).
func canonicalID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// check validates the input and returns the duration asked for. A
// request longer than max is refused; break-glass access (shorten) is cut
// to max instead, as an emergency must not wait for a retry.
func (s *Service) check(in *RequestInput, max time.Duration, shorten bool) (time.Duration, error) {
	var fields []problem.FieldError
	add := func(field, code, hint string) { fields = append(fields, problem.Field(field, code, hint)) }
	if !canonicalID(in.Tenant) {
		add("/tenant", "invalid_tenant", "Give the tenant's id (valv tenant list shows it).")
	}
	switch in.Scope {
	case authz.GrantDocumentsOfType:
		if len(in.DocumentType) == 0 || len(in.DocumentType) > maxDocType || !docTypeName.MatchString(in.DocumentType) {
			add("/document_type", "invalid_document_type", "Name the document type the grant covers, such as invoice.")
		}
		if in.DocumentID != "" {
			add("/document_id", "not_allowed", "A grant of a type covers every document of it; leave document_id out.")
		}
	case authz.GrantDocument:
		if !canonicalID(in.DocumentID) {
			add("/document_id", "invalid_document_id", "Give the id of the one document the grant covers.")
		}
		if in.DocumentType != "" {
			add("/document_type", "not_allowed", "A grant of one document names no type; leave document_type out.")
		}
	case authz.GrantAudit, authz.GrantMessages:
		if in.DocumentType != "" || in.DocumentID != "" {
			add("/scope", "not_allowed", "The audit and messages scopes name no document type or document.")
		}
	default:
		add("/scope", "invalid_scope", "Use documents_of_type, document, audit or messages.")
	}
	d := min(time.Hour, max)
	if in.Duration != "" {
		var err error
		if d, err = time.ParseDuration(in.Duration); err != nil {
			add("/duration", "invalid_duration", "Give a duration such as 30m or 2h.")
		} else if d > max && shorten {
			d = max
		}
		if err == nil && (d < MinDuration || d > max) {
			add("/duration", "out_of_range", "A grant lasts at least 5m and at most "+max.String()+".")
		}
	}
	if len(fields) > 0 {
		return 0, problem.Invalid("invalid_access_request", "The access request is not valid.", fields...)
	}
	var err error
	if in.Reason, err = cleanText(in.Reason, minReason, maxReason, "/reason", "The reason"); err != nil {
		return 0, err
	}
	if in.Ticket, err = cleanText(in.Ticket, 0, maxTicket, "/ticket", "The ticket reference"); err != nil {
		return 0, err
	}
	return d, nil
}

// File records an operator's request for access to a tenant's data. It
// waits for a security operator other than the requester; nothing can be
// read until then.
func (s *Service) File(ctx context.Context, p authz.Principal, in RequestInput) (Request, error) {
	return s.file(ctx, p, in, false)
}

// BreakGlass gives a security operator emergency access at once, without
// an approval or the tenant's consent. It is flagged, lasts at most an
// hour, and every security operator and the tenant's owners are told at
// once.
func (s *Service) BreakGlass(ctx context.Context, p authz.Principal, in RequestInput) (Request, error) {
	return s.file(ctx, p, in, true)
}

func (s *Service) file(ctx context.Context, p authz.Principal, in RequestInput, glass bool) (Request, error) {
	action, max := authz.AccessRequest, s.max
	if glass {
		action, max = authz.AccessBreakGlass, min(s.max, BreakGlassDuration)
	}
	if p.Kind == authz.Anonymous {
		return Request{}, errUnauthenticated
	}
	if p.Kind != authz.Operator {
		// Only operators ask for access; say so before validating.
		if err := s.authorize(ctx, p, action, authz.Resource{TenantID: p.TenantID}); err != nil {
			return Request{}, err
		}
		return Request{}, errForbidden
	}
	dur, err := s.check(&in, max, glass)
	if err != nil {
		return Request{}, err
	}
	if err := s.authorize(ctx, p, action, authz.Resource{TenantID: in.Tenant}); err != nil {
		return Request{}, err
	}
	t, err := s.tenants.AccessTenant(ctx, in.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		return Request{}, errTenantNotFound
	}
	if err != nil {
		return Request{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id := uuid.Must(uuid.NewV7()).String()
	row := store.AccessGrantRow{ID: id, TenantID: in.Tenant, Requester: p.ID, Scope: string(in.Scope), DocType: in.DocumentType,
		DocID: in.DocumentID, Duration: dur, Approval: approvalPending, Consent: consentNotRequired, CreatedAt: now, Version: 1}
	if t.Consent {
		row.Consent = consentPending
	}
	if glass {
		// Emergency access does not wait for anyone: the tenant's owners
		// are told at once instead of asked.
		row.BreakGlass, row.Approval, row.Approver, row.ApprovedAt = true, approvalBreakGlass, p.ID, now
		row.Consent, row.ActivatedAt, row.ExpiresAt = consentNotRequired, now, now.Add(dur)
	}
	d := detail{Reason: in.Reason, Ticket: in.Ticket}
	if row.Detail, err = s.sealDetail(ctx, in.Tenant, id, d); err != nil {
		return Request{}, err
	}
	describeGrant(ctx, row)
	if glass {
		audit.Detail(ctx, "break_glass", "yes")
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: in.Tenant, ResourceType: "access_grant", ResourceID: id, GrantID: id, Reason: in.Reason},
		func(tx *store.Tx) error { return tx.InsertAccessGrant(ctx, row) })
	if err != nil {
		return Request{}, err
	}
	v := s.view(row, d)
	if glass {
		s.notify.BreakGlass(ctx, v)
		s.log.Warn("break-glass access taken", "grant", id, "tenant", in.Tenant, "operator", p.ID, "expires", row.ExpiresAt)
	} else {
		s.notify.Filed(ctx, v)
	}
	return v, nil
}

// describeGrant puts a request's scope in the call's audit record.
func describeGrant(ctx context.Context, r store.AccessGrantRow) {
	audit.Detail(ctx, "scope", r.Scope)
	if r.DocType != "" {
		audit.Detail(ctx, "document_type", r.DocType)
	}
	if r.DocID != "" {
		audit.Detail(ctx, "document_id", r.DocID)
	}
	audit.Detail(ctx, "duration", r.Duration.String())
}

// Decision is a security operator's decision on a request.
type Decision struct {
	// Decision is approve or deny.
	Decision string `json:"decision"`
	// Comment says why (1 to 2000 characters; sealed; the tenant sees it).
	Comment string `json:"comment"`
}

// Decide approves or denies a pending request. The requester may not
// decide on their own request. An approved request becomes a grant at
// once, or, where the tenant asks for consent, when its owner consents.
func (s *Service) Decide(ctx context.Context, p authz.Principal, id string, in Decision) (Request, error) {
	row, err := s.loadFor(ctx, p, id, authz.AccessDecide)
	if err != nil {
		return Request{}, err
	}
	if p.ID == row.Requester {
		return Request{}, errOwnRequest
	}
	if in.Decision != "approve" && in.Decision != "deny" {
		return Request{}, invalid("invalid_decision", "The decision is approve or deny.", "/decision", "Use approve or deny.")
	}
	comment, err := cleanText(in.Comment, 1, maxReason, "/comment", "The comment")
	if err != nil {
		return Request{}, err
	}
	// The tenant's wish for consent is read again: one who asked for it
	// since the request was filed is asked too.
	t, err := s.tenants.AccessTenant(ctx, row.TenantID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Request{}, err
	}
	return s.change(ctx, row, "verdict", in.Decision, comment, func(r *store.AccessGrantRow, d *detail, now time.Time) error {
		if r.Approval != approvalPending || state(*r, now) != StatePending {
			return problem.Conflict("not_pending", "The request is not waiting for a decision (it is "+state(*r, now)+").")
		}
		d.DecisionNote = comment
		r.Approver, r.ApprovedAt = p.ID, now
		if in.Decision == "deny" {
			r.Approval = approvalDenied
			return nil
		}
		r.Approval = approvalApproved
		if t.Consent && r.Consent == consentNotRequired {
			r.Consent = consentPending
		}
		if r.Consent == consentNotRequired {
			r.ActivatedAt, r.ExpiresAt = now, now.Add(r.Duration)
		}
		return nil
	}, func(v Request) {
		if v.State == StateAwaitingConsent {
			s.notify.ConsentWanted(ctx, v)
		}
		s.notify.Decided(ctx, v)
	})
}

// ConsentInput is the tenant owner's answer.
type ConsentInput struct {
	// Consent is give or refuse.
	Consent string `json:"consent"`
	// Comment is optional (sealed; the operators see it).
	Comment string `json:"comment,omitempty"`
}

// Consent records the tenant owner's consent to an approved request (the
// grant starts now) or refusal (it never does).
func (s *Service) Consent(ctx context.Context, p authz.Principal, id string, in ConsentInput) (Request, error) {
	row, err := s.loadFor(ctx, p, id, authz.AccessConsent)
	if err != nil {
		return Request{}, err
	}
	if in.Consent != "give" && in.Consent != "refuse" {
		return Request{}, invalid("invalid_consent", "The answer is give or refuse.", "/consent", "Use give or refuse.")
	}
	comment, err := cleanText(in.Comment, 0, maxReason, "/comment", "The comment")
	if err != nil {
		return Request{}, err
	}
	return s.change(ctx, row, "consent", in.Consent, comment, func(r *store.AccessGrantRow, d *detail, now time.Time) error {
		switch st := state(*r, now); {
		case r.Consent == consentNotRequired:
			return problem.Conflict("consent_not_asked", "This request does not ask for your consent.")
		case st == StatePending:
			return problem.Conflict("not_approved_yet", "The request is not approved by the platform's security yet; you are asked when it is.")
		case st != StateAwaitingConsent:
			return problem.Conflict("not_awaiting_consent", "The request is not waiting for consent (it is "+st+").")
		}
		d.ConsentNote = comment
		r.ConsentBy, r.ConsentAt = p.ID, now
		if in.Consent == "refuse" {
			r.Consent = consentRefused
			return nil
		}
		r.Consent = consentGiven
		r.ActivatedAt, r.ExpiresAt = now, now.Add(r.Duration)
		return nil
	}, func(v Request) { s.notify.Decided(ctx, v) })
}

// Revocation ends a grant early, or withdraws a request not yet decided.
type Revocation struct {
	// Comment is optional (sealed).
	Comment string `json:"comment,omitempty"`
}

// Revoke ends a grant or withdraws a request: a security operator, the
// requester, or the tenant's owner may. Access stops on the operator's
// next request.
func (s *Service) Revoke(ctx context.Context, p authz.Principal, id string, in Revocation) (Request, error) {
	row, err := s.loadFor(ctx, p, id, authz.AccessRevoke)
	if err != nil {
		return Request{}, err
	}
	comment, err := cleanText(in.Comment, 0, maxReason, "/comment", "The comment")
	if err != nil {
		return Request{}, err
	}
	return s.change(ctx, row, "", "", comment, func(r *store.AccessGrantRow, d *detail, now time.Time) error {
		switch st := state(*r, now); st {
		case StatePending, StateAwaitingConsent, StateActive:
		default:
			return problem.Conflict("not_revocable", "The request has already ended (it is "+st+").")
		}
		d.RevocationNote = comment
		r.RevokedAt, r.RevokedBy = now, p.ID
		return nil
	}, func(v Request) {
		if p.ID != v.Requester {
			s.notify.Decided(ctx, v)
		}
	})
}

// loadFor reads a request p may see and authorizes action on it.
func (s *Service) loadFor(ctx context.Context, p authz.Principal, id string, action authz.Action) (store.AccessGrantRow, error) {
	if p.Kind == authz.Anonymous {
		return store.AccessGrantRow{}, errUnauthenticated
	}
	row, err := s.load(ctx, id)
	if err == nil && !visible(p, row) {
		err = ErrNotFound
	}
	res := authz.Resource{TenantID: row.TenantID, ID: id, Owner: row.Requester}
	if err != nil {
		// Authorize against the caller's own tenant first, so that one
		// who may not do this learns nothing from a 404.
		res = authz.Resource{TenantID: p.TenantID, ID: id}
		if p.Kind == authz.Operator {
			res.TenantID = ""
		}
		if aerr := s.authorize(ctx, p, action, res); aerr != nil {
			return row, aerr
		}
		return row, err
	}
	// Every attempt on a request, refused ones too, names it as the grant:
	// so it is in the platform's chain as well as the tenant's.
	audit.Describe(ctx, audit.Description{GrantID: row.ID})
	if err := s.authorize(ctx, p, action, res); err != nil {
		return row, err
	}
	return row, nil
}

// change applies fn to a request and writes it with its audit entry (the
// reason, or the comment, sealed in the entry), then calls after.
func (s *Service) change(ctx context.Context, row store.AccessGrantRow, key, value, comment string,
	fn func(r *store.AccessGrantRow, d *detail, now time.Time) error, after func(Request)) (Request, error) {
	d, err := s.openDetail(ctx, row)
	if err != nil {
		return Request{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := fn(&row, &d, now); err != nil {
		return Request{}, err
	}
	row.Version++
	if row.Detail, err = s.sealDetail(ctx, row.TenantID, row.ID, d); err != nil {
		return Request{}, err
	}
	describeGrant(ctx, row)
	if key != "" {
		audit.Detail(ctx, key, value)
	}
	reason := comment
	if reason == "" {
		reason = d.Reason
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: row.TenantID, ResourceType: "access_grant", ResourceID: row.ID, GrantID: row.ID, Reason: reason},
		func(tx *store.Tx) error { return tx.UpdateAccessGrant(ctx, row) })
	if errors.Is(err, store.ErrConflict) {
		return Request{}, problem.Conflict("access_request_changed", "The request changed while you decided; read it again.")
	}
	if err != nil {
		return Request{}, err
	}
	v := s.view(row, d)
	after(v)
	return v, nil
}

// Get returns one request: to a tenant's owners, admins and auditors, its
// own; to an operator, their own; to a security operator, any.
func (s *Service) Get(ctx context.Context, p authz.Principal, id string) (Request, error) {
	row, err := s.loadFor(ctx, p, id, authz.AccessRead)
	if err != nil {
		return Request{}, err
	}
	d, err := s.openDetail(ctx, row)
	if err != nil {
		return Request{}, err
	}
	return s.view(row, d), nil
}

// Filter selects requests in List.
type Filter struct {
	// Tenant is a tenant's id (operators; a tenant's people see only theirs).
	Tenant string
	// State keeps only requests in this state.
	State string
}

// List returns requests, newest first: a tenant's people see their
// tenant's; an operator their own; a security operator everyone's.
func (s *Service) List(ctx context.Context, p authz.Principal, f Filter, cursor string, limit int) ([]Request, string, error) {
	var sf store.AccessGrantFilter
	var action authz.Action
	var res authz.Resource
	switch p.Kind {
	case authz.Anonymous:
		return nil, "", errUnauthenticated
	case authz.Operator:
		action, sf.TenantID = authz.AccessList, f.Tenant
		if p.Role != authz.RoleSecurity {
			sf.Requester = p.ID
		}
	default:
		if f.Tenant != "" && f.Tenant != p.TenantID {
			return nil, "", errTenantNotFound
		}
		action, sf.TenantID, res = authz.AccessRead, p.TenantID, authz.Resource{TenantID: p.TenantID}
	}
	if err := s.authorize(ctx, p, action, res); err != nil {
		return nil, "", err
	}
	switch f.State {
	case "", StatePending, StateAwaitingConsent, StateActive, StateDenied, StateRefused, StateRevoked, StateExpired, StateLapsed:
	default:
		return nil, "", invalid("invalid_state", "The state filter is not a state.", "/state",
			"Use pending, awaiting_consent, active, denied, refused, revoked, expired or lapsed.")
	}
	if cursor != "" {
		if _, err := uuid.Parse(cursor); err != nil {
			return nil, "", invalid("invalid_cursor", "The cursor is not one this API gave out.", "/cursor", "Use next_cursor from the previous page.")
		}
	}
	if f.Tenant != "" {
		if _, err := uuid.Parse(f.Tenant); err != nil {
			return nil, "", errTenantNotFound
		}
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	now := s.now()
	var out []Request
	// A state filter is applied after reading (states depend on the time);
	// read on until the page is full.
	for {
		rows, err := s.db.Reader().AccessGrants(ctx, sf, cursor, limit+1)
		if err != nil {
			return nil, "", err
		}
		more := len(rows) > limit
		if more {
			rows = rows[:limit]
		}
		for i, r := range rows {
			cursor = r.ID
			if f.State != "" && state(r, now) != f.State {
				continue
			}
			d, err := s.openDetail(ctx, r)
			if err != nil {
				return nil, "", err
			}
			out = append(out, s.view(r, d))
			if len(out) == limit {
				if i < len(rows)-1 || more {
					return out, r.ID, nil
				}
				return out, "", nil
			}
		}
		if !more {
			return nonNil(out), "", nil
		}
	}
}

func nonNil(rs []Request) []Request {
	if rs == nil {
		return []Request{}
	}
	return rs
}

// ActiveGrants returns the grants an operator holds now, for
// authentication to put on the request's principal. It reads the
// database every time: a revoked or expired grant is gone on the next
// request.
func (s *Service) ActiveGrants(ctx context.Context, operatorID string) ([]authz.Grant, error) {
	rows, err := s.db.Reader().ActiveAccessGrants(ctx, operatorID, s.now())
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	out := make([]authz.Grant, 0, len(rows))
	for _, r := range rows {
		d, err := s.openDetail(ctx, r)
		if err != nil {
			// A grant whose reason cannot be read (its tenant's keys are
			// gone) grants nothing.
			s.log.Warn("access grant unreadable; ignored", "grant", r.ID, "error", err)
			continue
		}
		out = append(out, authz.Grant{ID: r.ID, TenantID: r.TenantID, Scope: authz.GrantScope(r.Scope), DocType: r.DocType,
			DocID: r.DocID, Reason: d.Reason, Expires: r.ExpiresAt, BreakGlass: r.BreakGlass})
	}
	return out, nil
}
