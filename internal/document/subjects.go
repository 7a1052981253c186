package document

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/validate"
)

// normaliseSubject validates an identifier by its kind and returns it in
// its normal form (so 811218-9876, 19811218-9876 and 198112189876 are one
// personnummer).
func normaliseSubject(sub Subject, now time.Time) (Subject, error) {
	kind := validate.Kind(sub.Kind)
	if !kind.Valid() {
		return Subject{}, problem.Invalid("invalid_subject", "The identifier kind is not one Valv knows.",
			problem.Field("/kind", validate.CodeUnknownKind, "Use personnummer, samordningsnummer, email, phone, customer_number or organisationsnummer."))
	}
	v, err := validate.Identifier(kind, sub.Value, now)
	if err != nil {
		return Subject{}, problem.Invalid("invalid_subject", "The identifier is not valid for its kind.", validate.Field("/value", err))
	}
	return Subject{Kind: sub.Kind, Value: v}, nil
}

// normaliseSubjects validates and normalises a document's subjects,
// dropping duplicates, in a stable order.
func normaliseSubjects(in []Subject, now time.Time) ([]Subject, []problem.FieldError) {
	if len(in) > MaxSubjects {
		return nil, []problem.FieldError{problem.Field("/subjects", "too_many", "A document has at most 50 subjects.")}
	}
	var out []Subject
	var fields []problem.FieldError
	seen := map[Subject]bool{}
	for i, sub := range in {
		at := "/subjects/" + strconv.Itoa(i)
		kind := validate.Kind(sub.Kind)
		if !kind.Valid() {
			fields = append(fields, problem.Field(at+"/kind", validate.CodeUnknownKind,
				"Use personnummer, samordningsnummer, email, phone, customer_number or organisationsnummer."))
			continue
		}
		v, err := validate.Identifier(kind, sub.Value, now)
		if err != nil {
			fields = append(fields, validate.Field(at+"/value", err))
			continue
		}
		n := Subject{Kind: sub.Kind, Value: v}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value < out[j].Value
	})
	return out, fields
}

// subjectToken is the blind index of a normalised identifier: the kind is
// part of it, so a customer number never matches a phone number.
func subjectToken(sealer *seal.Sealer, sub Subject) ([]byte, error) {
	return sealer.BlindIndex("subject:"+sub.Kind, sub.Value)
}

// subjectKinds lists the kinds of subjects, once each, in order.
func subjectKinds(subs []Subject) []string {
	var out []string
	for _, s := range subs {
		if len(out) == 0 || out[len(out)-1] != s.Kind {
			out = append(out, s.Kind)
		}
	}
	return out
}

func subjectsChanged(a, b []Subject) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return true
		}
	}
	return false
}

// SubjectToken normalises a subject identifier and returns it with its
// blind index in the tenant: what finds the subject's documents (and what
// a legal hold on the subject holds).
func (s *Service) SubjectToken(ctx context.Context, tenantID string, sub Subject) (Subject, []byte, error) {
	norm, err := normaliseSubject(sub, s.now())
	if err != nil {
		return Subject{}, nil, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Subject{}, nil, err
	}
	token, err := subjectToken(sealer, norm)
	return norm, token, err
}
