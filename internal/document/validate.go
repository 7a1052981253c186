package document

import (
	"context"
	"strconv"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/validate"
)

// Trail is what validation needs of the audit trail: to keep a payload in
// the tenant's history together with the call's entry.
type Trail interface {
	PreparePayload(ctx context.Context, tenantID, action, resType, resID string, payload []byte) (*audit.Payload, error)
	Do(ctx context.Context, d audit.Description, fn func(tx *store.Tx) error) error
}

// Settings reads a tenant's settings (the tenant service).
type Settings interface {
	SettingsOf(ctx context.Context, tenantID string) (tenant.Settings, error)
}

// Value types the validator knows.
const (
	TypeIBAN                = "iban"
	TypeBIC                 = "bic"
	TypePersonnummer        = "personnummer"
	TypeSamordningsnummer   = "samordningsnummer"
	TypeOrganisationsnummer = "organisationsnummer"
	TypeBankgiro            = "bankgiro"
	TypePlusgiro            = "plusgiro"
	TypeEmail               = "email"
	TypePhone               = "phone"
	TypeCustomerNumber      = "customer_number"
)

// Types lists the value types, in a fixed order.
func Types() []string {
	return []string{TypeIBAN, TypeBIC, TypePersonnummer, TypeSamordningsnummer, TypeOrganisationsnummer,
		TypeBankgiro, TypePlusgiro, TypeEmail, TypePhone, TypeCustomerNumber}
}

// Limits of one validation request.
const (
	MaxFields     = 100
	MaxValueBytes = 1024
	maxNameBytes  = 100
)

// Field is one value to check.
type Field struct {
	// Name is the caller's own name for the field, echoed in the result.
	Name  string `json:"name,omitempty"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Request is a validation request: values, a document, or both.
type Request struct {
	Fields []Field `json:"fields,omitempty"`
	// Document is checked as a create would check it (its fields, its
	// subjects, its type's schema) and not stored.
	Document *Input `json:"document,omitempty"`
}

// FieldResult is the verdict on one field.
type FieldResult struct {
	Name  string `json:"name,omitempty"`
	Type  string `json:"type"`
	Valid bool   `json:"valid"`
	// Normalised is the value in its normal form (valid values only).
	Normalised string `json:"normalised,omitempty"`
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Result is the verdict on a request.
type Result struct {
	Valid   bool          `json:"valid"`
	Results []FieldResult `json:"results"`
	// Document is the verdict on the document, if one was sent.
	Document *DocumentResult `json:"document,omitempty"`
	// PayloadKept says whether the request went to the tenant's payload
	// history (the tenant's payload_history setting).
	PayloadKept bool `json:"payload_kept"`
}

// DocumentResult is the verdict on a document.
type DocumentResult struct {
	Valid bool `json:"valid"`
	// Errors are the document's field errors, as a create would report
	// them (JSON pointers into the document; values never shown).
	Errors []problem.FieldError `json:"errors,omitempty"`
}

// Validate checks the values and the document of req and stores nothing
// of them (VAL-3) — unless the tenant keeps payload history, in which case
// the submitted request goes to that history, sealed (AUD-4). raw is the
// request as submitted.
func (s *Service) Validate(ctx context.Context, p authz.Principal, req Request, raw []byte) (Result, error) {
	if p.Kind == authz.Anonymous {
		return Result{}, errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "validation"})
	d := authz.Decide(p, authz.DataValidate, authz.Resource{TenantID: p.TenantID}, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return Result{}, errForbidden
	}
	if err := checkRequest(req); err != nil {
		return Result{}, err
	}
	out := Result{Valid: true, Results: make([]FieldResult, len(req.Fields))}
	invalid := 0
	for i, f := range req.Fields {
		out.Results[i] = s.check(f)
		if !out.Results[i].Valid {
			out.Valid = false
			invalid++
		}
	}
	audit.Detail(ctx, "fields", strconv.Itoa(len(req.Fields)))
	audit.Detail(ctx, "invalid", strconv.Itoa(invalid))
	if req.Document != nil {
		dr, err := s.checkDocument(ctx, p.TenantID, *req.Document)
		if err != nil {
			return Result{}, err
		}
		out.Document = &dr
		out.Valid = out.Valid && dr.Valid
		audit.Detail(ctx, "document_valid", strconv.FormatBool(dr.Valid))
	}
	kept, err := s.preparePayload(ctx, p.TenantID, "validation", "", raw)
	if err != nil || kept == nil {
		return out, err
	}
	if err := s.trail.Do(ctx, audit.Description{Action: string(authz.DataValidate)}, func(tx *store.Tx) error {
		return kept.Keep(ctx, tx)
	}); err != nil {
		return Result{}, err
	}
	out.PayloadKept = true
	return out, nil
}

// checkDocument checks a document as Create would, and stores nothing.
func (s *Service) checkDocument(ctx context.Context, tenantID string, in Input) (DocumentResult, error) {
	dt := docType{archive: ArchiveStandard}
	if typePattern.MatchString(in.Type) {
		var err error
		if dt, err = s.documentType(ctx, tenantID, in.Type); err != nil {
			return DocumentResult{}, err
		}
	}
	err := s.checkInput(&in, dt.archive)
	if err == nil {
		err = dt.check(in.Data)
	}
	if err == nil {
		return DocumentResult{Valid: true}, nil
	}
	p, ok := problem.As(err)
	if !ok || (p.Kind != problem.KindInvalid && p.Kind != problem.KindUnprocessable) {
		return DocumentResult{}, err
	}
	fields := p.Fields
	if len(fields) == 0 {
		fields = []problem.FieldError{problem.Field("", p.Code, p.Message)}
	}
	return DocumentResult{Errors: fields}, nil
}

func checkRequest(req Request) error {
	if len(req.Fields) == 0 && req.Document == nil {
		return problem.Invalid("no_fields", "Send fields to check, a document, or both.", problem.Field("/fields", "required", "Add fields: [{\"type\": ..., \"value\": ...}]."))
	}
	if len(req.Fields) > MaxFields {
		return problem.Invalid("too_many_fields", "At most 100 fields can be checked at once.", problem.Field("/fields", "too_many", "Split the request."))
	}
	var errs []problem.FieldError
	for i, f := range req.Fields {
		at := "/fields/" + strconv.Itoa(i)
		if !knownType(f.Type) {
			errs = append(errs, problem.Field(at+"/type", "unknown_type", "Use one of: iban, bic, personnummer, samordningsnummer, organisationsnummer, bankgiro, plusgiro, email, phone, customer_number."))
		}
		if len(f.Value) > MaxValueBytes {
			errs = append(errs, problem.Field(at+"/value", "too_long", "A value has at most 1024 bytes."))
		}
		if len(f.Name) > maxNameBytes {
			errs = append(errs, problem.Field(at+"/name", "too_long", "A name has at most 100 bytes."))
		}
	}
	if len(errs) > 0 {
		return problem.Invalid("invalid_request", "Some fields cannot be checked.", errs...)
	}
	return nil
}

func knownType(t string) bool {
	for _, x := range Types() {
		if x == t {
			return true
		}
	}
	return false
}

func (s *Service) check(f Field) FieldResult {
	var norm string
	var err error
	switch f.Type {
	case TypeIBAN:
		norm, err = validate.IBAN(f.Value)
	case TypeBIC:
		norm, err = validate.BIC(f.Value)
	case TypeBankgiro:
		norm, err = validate.Bankgiro(f.Value)
	case TypePlusgiro:
		norm, err = validate.Plusgiro(f.Value)
	default:
		// The rest are the subject-identifier kinds.
		norm, err = validate.Identifier(validate.Kind(f.Type), f.Value, s.now())
	}
	r := FieldResult{Name: f.Name, Type: f.Type}
	if err != nil {
		fe := validate.Field("", err)
		r.Code, r.Message = fe.Code, fe.Message
		return r
	}
	r.Valid, r.Normalised = true, norm
	return r
}
