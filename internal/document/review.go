package document

import (
	"context"
	"fmt"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Review decisions (RET-4): what a reviewer does with a document whose
// review date has come.
const (
	DecisionKeep      = "keep"      // keep it, and review it again on a new date
	DecisionExtend    = "extend"    // keep it longer than its retention
	DecisionDelete    = "delete"    // delete it now
	DecisionAnonymise = "anonymise" // remove its personal data (AnonymiseTx)
)

// ReviewDecision is a reviewer's decision on a document.
type ReviewDecision struct {
	Decision string `json:"decision"`
	// ReviewDate is the next review date: required to keep, optional to
	// extend ("" clears it).
	ReviewDate *string `json:"review_date,omitempty"`
	// KeepUntil is the day to keep the document until (extend).
	KeepUntil string `json:"keep_until,omitempty"`
	// IfMatch is the version the reviewer read (0: any).
	IfMatch int64 `json:"-"`
}

// Review carries out a reviewer's decision on a document; the decision is
// in the call's audit entry. It returns the document after a keep or an
// extend.
func (s *Service) Review(ctx context.Context, p authz.Principal, id string, d ReviewDecision) (*Document, error) {
	if err := s.authorize(ctx, p, authz.DocumentReview, authz.Resource{TenantID: tenantOf(p), ID: id}, "document"); err != nil {
		return nil, err
	}
	audit.Detail(ctx, "review", d.Decision)
	today := retention.Today(s.now())
	futureDate := func(field, v string) error {
		if !validDate(v) {
			return problem.Invalid("invalid_decision", "The decision is not valid.", problem.Field("/"+field, "invalid_date", "Use a date as YYYY-MM-DD."))
		}
		if v <= today {
			return problem.Invalid("invalid_decision", "The decision is not valid.", problem.Field("/"+field, "date_not_in_future", "Give a day after today ("+today+")."))
		}
		return nil
	}
	switch d.Decision {
	case DecisionKeep:
		if d.ReviewDate == nil {
			return nil, problem.Invalid("invalid_decision", "To keep a document, give its next review date.", problem.Field("/review_date", "required", "Give the next review date as YYYY-MM-DD."))
		}
		if err := futureDate("review_date", *d.ReviewDate); err != nil {
			return nil, err
		}
		doc, err := s.Update(ctx, p, id, UpdateRequest{Patch: Patch{ReviewDate: d.ReviewDate}, IfMatch: d.IfMatch})
		return &doc, err
	case DecisionExtend:
		if err := futureDate("keep_until", d.KeepUntil); err != nil {
			return nil, err
		}
		if d.ReviewDate != nil && *d.ReviewDate != "" {
			if err := futureDate("review_date", *d.ReviewDate); err != nil {
				return nil, err
			}
		}
		doc, err := s.changeKeep(ctx, p, id, d.IfMatch, nil, func(c *content) error {
			if c.Archive == ArchiveMessage {
				return problem.Conflict("retention_fixed", "Messages are kept at most 12 months; their retention cannot be extended.")
			}
			if d.ReviewDate != nil {
				c.ReviewDate = *d.ReviewDate
			} else {
				c.ReviewDate = ""
			}
			return nil
		}, nil, &d.KeepUntil)
		if err != nil {
			return nil, err
		}
		if doc.Retention != nil {
			audit.Detail(ctx, "retain_until", doc.Retention.Until)
		}
		return &doc, nil
	case DecisionDelete:
		return nil, s.Delete(ctx, p, id, d.IfMatch)
	case DecisionAnonymise:
		// Every subject identifier, every field the type marks personal
		// and the file go, with every earlier version (see AnonymiseTx).
		tenantID := tenantOf(p)
		row, err := s.readRow(ctx, p, authz.DocumentReview, tenantID, id)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch(d.IfMatch, row.Version); err != nil {
			return nil, err
		}
		if err := s.checkLegalKept(ctx, row); err != nil {
			return nil, err
		}
		var res Anonymised
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			if err := checkNotHeld(ctx, tx, tenantID, id); err != nil {
				return err
			}
			res, err = s.AnonymiseTx(ctx, tx, p, tenantID, id, nil, nil)
			return err
		})
		if err != nil {
			return nil, err
		}
		audit.Detail(ctx, "removed", fmt.Sprint(len(res.Removed)))
		doc, err := s.get(ctx, tenantID, id)
		return &doc, err
	default:
		return nil, problem.Invalid("invalid_decision", "The decision is not valid.", problem.Field("/decision", "invalid_decision", "Use keep, extend, delete or anonymise."))
	}
}
