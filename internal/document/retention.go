package document

import (
	"context"
	"errors"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Policies gives a tenant's retention policy (the archive service).
type Policies interface {
	Policy(ctx context.Context, tenantID string) (retention.Policy, error)
}

// Retention is a document's retention as its readers see it (RET-1..3).
type Retention struct {
	// Until is the last day the document is kept; it is culled after it.
	Until string `json:"until"`
	// Basis names the rule that decided it (see docs/retention.md).
	Basis string `json:"basis"`
	// KeepUntil is the day a reviewer extended it to, if one did.
	KeepUntil string `json:"keep_until,omitempty"`
	// Held says the document is under a legal hold and is not culled or
	// deleted whatever its retention; Holds are the holds' ids.
	Held  bool     `json:"held"`
	Holds []string `json:"holds,omitempty"`
}

var (
	errHeld = problem.Conflict("legal_hold", "The document is under a legal hold: it cannot be deleted until the hold is lifted.")
)

// retentionOf computes a document's retention under its tenant's policy;
// without a policy source (tests of this package alone) it is "".
func (s *Service) retentionOf(ctx context.Context, row store.DocumentRow) (retention.Result, error) {
	if s.policies == nil {
		return retention.Result{}, nil
	}
	p, err := s.policies.Policy(ctx, row.TenantID)
	if err != nil {
		return retention.Result{}, err
	}
	return p.Until(row.Archive, row.Type, row.DocumentDate, row.KeepUntil)
}

// setRetention stores the computed retention on the row.
func (s *Service) setRetention(ctx context.Context, row *store.DocumentRow) error {
	res, err := s.retentionOf(ctx, *row)
	if err != nil {
		return err
	}
	row.RetainUntil = res.Until
	return nil
}

// checkLegalKept refuses to delete a document, or move it out of the legal
// archive, while the law still keeps it (RET-1: bookkeeping records).
func (s *Service) checkLegalKept(ctx context.Context, row store.DocumentRow) error {
	if row.Archive != ArchiveLegal || s.policies == nil {
		return nil
	}
	p, err := s.policies.Policy(ctx, row.TenantID)
	if err != nil {
		return err
	}
	p.Rules = nil // the law's period, not the tenant's instructions
	res, err := p.Until(row.Archive, row.Type, row.DocumentDate, "")
	if err != nil {
		return err
	}
	if !retention.Expired(res.Until, s.now()) {
		return problem.Conflict("retention_active", "The document is in the legal archive, which the law requires to be kept until "+
			res.Until+"; it can be deleted after that.")
	}
	return nil
}

// retentionView is the retention shown with a document.
func (s *Service) retentionView(ctx context.Context, row store.DocumentRow) (*Retention, error) {
	if s.policies == nil {
		return nil, nil
	}
	res, err := s.retentionOf(ctx, row)
	if err != nil {
		return nil, err
	}
	holds, err := s.db.Reader().HoldsOnDocument(ctx, row.TenantID, row.ID)
	if err != nil {
		return nil, err
	}
	return &Retention{Until: res.Until, Basis: res.Basis, KeepUntil: row.KeepUntil, Held: len(holds) > 0, Holds: holds}, nil
}

// checkNotHeld refuses a change to a held document inside tx.
func checkNotHeld(ctx context.Context, tx *store.Tx, tenantID, id string) error {
	held, err := tx.DocumentHeld(ctx, tenantID, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if held {
		return errHeld
	}
	return nil
}
