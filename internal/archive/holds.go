package archive

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Legal holds (RET-3): nothing under an active hold is culled or deleted,
// whatever its retention. A hold covers one document, every document of a
// type, or every document of a data subject (found by the identifier's
// blind index, so documents linked later are held too).

// Hold scopes.
const (
	HoldDocument = "document"
	HoldType     = "type"
	HoldSubject  = "subject"
)

// MaxHoldReason bounds a hold's reason.
const MaxHoldReason = 1000

// HoldRequest places a hold.
type HoldRequest struct {
	Scope      string            `json:"scope"`
	DocumentID string            `json:"document_id,omitempty"`
	Type       string            `json:"type,omitempty"`
	Subject    *document.Subject `json:"subject,omitempty"`
	// Reason says why (a case, a dispute, an authority's request); it is
	// sealed.
	Reason string `json:"reason"`
}

// Hold is a legal hold as the API shows it.
type Hold struct {
	ID         string            `json:"id"`
	Scope      string            `json:"scope"`
	DocumentID string            `json:"document_id,omitempty"`
	Type       string            `json:"type,omitempty"`
	Subject    *document.Subject `json:"subject,omitempty"`
	Reason     string            `json:"reason"`
	Active     bool              `json:"active"`
	PlacedBy   string            `json:"placed_by"`
	PlacedAt   time.Time         `json:"placed_at"`
	LiftedBy   string            `json:"lifted_by,omitempty"`
	LiftedAt   time.Time         `json:"lifted_at,omitzero"`
}

// sealedHold is what a hold seals: its reason and, for a subject, the
// identifier.
type sealedHold struct {
	Reason  string `json:"reason"`
	Subject string `json:"subject,omitempty"`
}

func holdLocation(id string) seal.Location {
	return seal.Location{Table: "legal_holds", Row: id, Field: "reason"}
}

var errHoldNotFound = problem.NotFound("hold_not_found", "No such legal hold.")

// PlaceHold places a legal hold in the caller's tenant.
func (s *Service) PlaceHold(ctx context.Context, p authz.Principal, req HoldRequest) (Hold, error) {
	id := uuid.Must(uuid.NewV7()).String()
	if err := s.authorize(ctx, p, authz.HoldManage, "legal_hold", id); err != nil {
		return Hold{}, err
	}
	tenantID := p.TenantID
	var fields []problem.FieldError
	if n := utf8.RuneCountInString(req.Reason); n == 0 || n > MaxHoldReason || !utf8.ValidString(req.Reason) {
		fields = append(fields, problem.Field("/reason", "invalid_reason", "Say why the documents are held, in 1 to 1,000 characters."))
	}
	row := store.LegalHoldRow{TenantID: tenantID, ID: id, Scope: req.Scope, PlacedBy: p.ID, PlacedAt: s.now().UTC()}
	sh := sealedHold{Reason: req.Reason}
	switch req.Scope {
	case HoldDocument:
		if req.DocumentID == "" || req.Type != "" || req.Subject != nil {
			fields = append(fields, problem.Field("/document_id", "required", "A document hold names the document (only)."))
			break
		}
		if _, err := s.db.Reader().Document(ctx, tenantID, req.DocumentID); errors.Is(err, store.ErrNotFound) {
			return Hold{}, document.ErrNotFound
		} else if err != nil {
			return Hold{}, err
		}
		row.Target = req.DocumentID
	case HoldType:
		if !document.ValidType(req.Type) || req.DocumentID != "" || req.Subject != nil {
			fields = append(fields, problem.Field("/type", "invalid_type", "A type hold names a document type (only)."))
			break
		}
		row.Target = req.Type
	case HoldSubject:
		if req.Subject == nil || req.DocumentID != "" || req.Type != "" {
			fields = append(fields, problem.Field("/subject", "required", "A subject hold names the subject's identifier: kind and value (only)."))
			break
		}
		norm, token, err := s.subjects.SubjectToken(ctx, tenantID, *req.Subject)
		if err != nil {
			return Hold{}, err
		}
		row.Token, row.Kind, sh.Subject = token, norm.Kind, norm.Value
	default:
		fields = append(fields, problem.Field("/scope", "invalid_scope", "Use document, type or subject."))
	}
	if len(fields) > 0 {
		return Hold{}, problem.Invalid("invalid_hold", "The legal hold is not valid.", fields...)
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Hold{}, err
	}
	plain, err := json.Marshal(sh)
	if err != nil {
		return Hold{}, err
	}
	if row.Reason, err = sealer.Seal(plain, holdLocation(id)); err != nil {
		return Hold{}, err
	}
	audit.Detail(ctx, "scope", req.Scope)
	if req.Scope == HoldType {
		audit.Detail(ctx, "type", req.Type)
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "legal_hold", ResourceID: id}, func(tx *store.Tx) error {
		return tx.InsertLegalHold(ctx, row)
	})
	if err != nil {
		return Hold{}, err
	}
	return s.holdView(sealer, row)
}

func (s *Service) holdView(sealer *seal.Sealer, r store.LegalHoldRow) (Hold, error) {
	plain, err := sealer.Open(r.Reason, holdLocation(r.ID))
	if err != nil {
		return Hold{}, err
	}
	var sh sealedHold
	if err := json.Unmarshal(plain, &sh); err != nil {
		return Hold{}, err
	}
	h := Hold{ID: r.ID, Scope: r.Scope, Reason: sh.Reason, Active: r.LiftedAt.IsZero(), PlacedBy: r.PlacedBy, PlacedAt: r.PlacedAt,
		LiftedBy: r.LiftedBy, LiftedAt: r.LiftedAt}
	switch r.Scope {
	case HoldDocument:
		h.DocumentID = r.Target
	case HoldType:
		h.Type = r.Target
	case HoldSubject:
		h.Subject = &document.Subject{Kind: r.Kind, Value: sh.Subject}
	}
	return h, nil
}

// Holds lists the caller's tenant's holds: active ones, or all.
func (s *Service) Holds(ctx context.Context, p authz.Principal, all bool) ([]Hold, error) {
	if err := s.authorize(ctx, p, authz.HoldRead, "legal_hold", ""); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().LegalHolds(ctx, p.TenantID, all)
	if err != nil {
		return nil, err
	}
	sealer, err := s.keys.Sealer(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Hold, 0, len(rows))
	for _, r := range rows {
		h, err := s.holdView(sealer, r)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// LiftHold lifts an active hold; what it held is culled from the next
// culling run if its retention has ended.
func (s *Service) LiftHold(ctx context.Context, p authz.Principal, id string) error {
	if err := s.authorize(ctx, p, authz.HoldManage, "legal_hold", id); err != nil {
		return err
	}
	err := s.trail.Do(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "legal_hold", ResourceID: id}, func(tx *store.Tx) error {
		return tx.LiftLegalHold(ctx, p.TenantID, id, p.ID, s.now().UTC())
	})
	if errors.Is(err, store.ErrNotFound) {
		return errHoldNotFound
	}
	return err
}
