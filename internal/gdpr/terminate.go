package gdpr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Account termination (TEN-3, seed 001 "Borttagning av data", seed 003):
// an owner asks for it; the organisation can download its full export
// (the "return") during a grace period, in which an owner may cancel;
// after it, Valv deletes every document, user, key and setting of the
// tenant. Legal-archive documents the law still keeps are restricted
// instead and culled on their day; once none is left the tenant's keyset
// is destroyed, so no ciphertext of it anywhere (a backup included) can be
// read again. The tenant's audit chain stays: it holds no personal data.

// Termination is a tenant's termination as its owners see it.
type Termination struct {
	State       string     `json:"state"` // pending, cancelled, erasing, restricted, done
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	EraseAfter  time.Time  `json:"erase_after"`
	CancelledAt *time.Time `json:"cancelled_at,omitempty"`
	ErasedAt    *time.Time `json:"erased_at,omitempty"`
	// Kept counts legal-archive documents kept restricted until the law
	// lets them go.
	Kept    int64  `json:"kept"`
	Receipt string `json:"receipt,omitempty"`
}

func terminationView(r store.TerminationRow) Termination {
	t := Termination{State: r.State, RequestedBy: r.RequestedBy, RequestedAt: r.RequestedAt, EraseAfter: r.EraseAfter, Kept: r.Kept, Receipt: r.Receipt}
	if !r.CancelledAt.IsZero() {
		c := r.CancelledAt
		t.CancelledAt = &c
	}
	if !r.ErasedAt.IsZero() {
		e := r.ErasedAt
		t.ErasedAt = &e
	}
	return t
}

var (
	errNoTermination      = problem.NotFound("no_termination", "No termination has been requested for this organisation.")
	errTerminationPending = problem.Conflict("termination_pending", "A termination is already under way; cancel it first to start again.")
	errNotCancellable     = problem.Conflict("termination_not_cancellable", "Only a pending termination can be cancelled; this one has been carried out.")
)

// RequestTermination starts the grace period of p's tenant's termination.
func (s *Service) RequestTermination(ctx context.Context, p authz.Principal) (Termination, error) {
	if err := s.authorizeTenant(ctx, p, authz.TenantDelete); err != nil {
		return Termination{}, err
	}
	now := s.now().UTC()
	row := store.TerminationRow{TenantID: p.TenantID, RequestedBy: actorString(p), RequestedAt: now, EraseAfter: now.Add(s.grace),
		State: "pending", UpdatedAt: now}
	audit.Detail(ctx, "erase_after", row.EraseAfter.Format(time.RFC3339))
	err := s.trail.Do(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "tenant", ResourceID: p.TenantID}, func(tx *store.Tx) error {
		cur, err := tx.Termination(ctx, p.TenantID)
		if err == nil && cur.State != "cancelled" {
			return errTerminationPending
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.PutTermination(ctx, row)
	})
	if err != nil {
		return Termination{}, err
	}
	return terminationView(row), nil
}

// CancelTermination cancels a pending termination.
func (s *Service) CancelTermination(ctx context.Context, p authz.Principal) (Termination, error) {
	if err := s.authorizeTenant(ctx, p, authz.TenantDelete); err != nil {
		return Termination{}, err
	}
	var row store.TerminationRow
	err := s.trail.Do(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "tenant", ResourceID: p.TenantID}, func(tx *store.Tx) error {
		var err error
		row, err = tx.Termination(ctx, p.TenantID)
		if errors.Is(err, store.ErrNotFound) {
			return errNoTermination
		}
		if err != nil {
			return err
		}
		if row.State != "pending" {
			return errNotCancellable
		}
		now := s.now().UTC()
		row.State, row.CancelledBy, row.CancelledAt, row.UpdatedAt = "cancelled", actorString(p), now, now
		return tx.PutTermination(ctx, row)
	})
	if err != nil {
		return Termination{}, err
	}
	return terminationView(row), nil
}

// GetTermination returns p's tenant's termination.
func (s *Service) GetTermination(ctx context.Context, p authz.Principal) (Termination, error) {
	if err := s.authorizeTenant(ctx, p, authz.TerminationRead); err != nil {
		return Termination{}, err
	}
	row, err := s.db.Reader().Termination(ctx, p.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return Termination{}, errNoTermination
	}
	if err != nil {
		return Termination{}, err
	}
	return terminationView(row), nil
}

func (s *Service) authorizeTenant(ctx context.Context, p authz.Principal, a authz.Action) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: p.TenantID, ResourceType: "tenant", ResourceID: p.TenantID})
	d := authz.Decide(p, a, authz.Resource{TenantID: p.TenantID, ID: p.TenantID}, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed || p.TenantID == "" {
		return errForbidden
	}
	return nil
}

// WriteExport writes the tenant's full export (the "return" before a
// termination): every document with every version and file, as a
// portability package with no subject.
func (s *Service) WriteExport(ctx context.Context, p authz.Principal, w io.Writer) error {
	if err := s.authorizeTenant(ctx, p, authz.TerminationRead); err != nil {
		return err
	}
	t, err := s.db.Reader().Tenant(ctx, p.TenantID)
	if err != nil {
		return err
	}
	ex := &Extract{Schema: ExtractSchema, GeneratedAt: s.now().UTC(), Tenant: TenantInfo{ID: t.ID, Name: t.Name},
		Request: RequestInfo{Kind: "export"}, Subjects: []Identifier{}, Documents: []Document{}, Messages: []Message{},
		PayloadHistory: []Payload{}, Access: []Access{}}
	for after := ""; ; {
		rows, err := s.db.Reader().RetentionRows(ctx, p.TenantID, "", "", after, 500)
		if err != nil {
			return err
		}
		for _, r := range rows {
			full, err := s.docs.FullDocument(ctx, p.TenantID, r.ID)
			if errors.Is(err, document.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			ex.Documents = append(ex.Documents, extractDocument(full))
		}
		if len(rows) < 500 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	audit.Detail(ctx, "documents", fmt.Sprint(len(ex.Documents)))
	return s.writePackage(ctx, p.TenantID, ex, w)
}

// RunTerminations carries out every termination whose grace period has
// ended, and destroys the keyset of a terminated tenant once no document
// of it is left. It returns how many tenants it worked on.
func (s *Service) RunTerminations(ctx context.Context) (int, error) {
	due, err := s.db.Reader().DueTerminations(ctx, s.now())
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, row := range due {
		if err := s.terminate(ctx, row); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", row.TenantID, err))
		}
	}
	return len(due), errors.Join(errs...)
}

func (s *Service) terminate(ctx context.Context, row store.TerminationRow) error {
	tenantID := row.TenantID
	if row.State == "pending" {
		row.State, row.UpdatedAt = "erasing", s.now().UTC()
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.PutTermination(ctx, row) }); err != nil {
			return err
		}
	}
	if row.State == "erasing" {
		// Restrict what the law keeps, in batches; then delete the rest.
		today := retention.Today(s.now())
		for after := ""; ; {
			rows, err := s.db.Reader().RetentionRows(ctx, tenantID, "", "", after, s.batch)
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(rows))
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			err = s.db.Write(ctx, func(tx *store.Tx) error {
				held, err := tx.HeldDocuments(ctx, tenantID, ids)
				if err != nil {
					return err
				}
				for _, r := range rows {
					if r.Restricted == "erasure" {
						continue
					}
					until, err := s.law.LawUntil(ctx, tenantID, r.Archive, r.Type, r.DocumentDate)
					if err != nil {
						return err
					}
					if until < today && !held[r.ID] {
						continue
					}
					if until < today {
						until = retention.Today(s.now().AddDate(0, 0, -1))
					}
					if err := tx.RestrictDocument(ctx, tenantID, r.ID, "erasure", until); err != nil {
						return err
					}
					if err := tx.AppendErasure(ctx, store.ErasureRow{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID,
						Scope: "restricted", Target: r.ID + "@" + until, Time: s.now().UTC()}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(rows) < s.batch {
				break
			}
			after = rows[len(rows)-1].ID
		}
		now := s.now().UTC()
		var kept int64
		rctx, _ := audit.Begin(ctx, "tenant.terminate")
		err := s.trail.Do(rctx, audit.Description{TenantID: tenantID, ResourceType: "tenant", ResourceID: tenantID}, func(tx *store.Tx) error {
			if err := tx.EraseTenantData(ctx, tenantID); err != nil {
				return err
			}
			if err := tx.AppendErasure(ctx, store.ErasureRow{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Scope: "tenant",
				Target: tenantID, Time: now}); err != nil {
				return err
			}
			var err error
			if kept, err = tx.CountAllDocuments(ctx, tenantID); err != nil {
				return err
			}
			audit.Detail(rctx, "kept", fmt.Sprint(kept))
			row.State, row.ErasedAt, row.Kept, row.UpdatedAt = "restricted", now, kept, now
			return tx.PutTermination(ctx, row)
		})
		if err != nil {
			return err
		}
	}
	// restricted: wait for the last kept document to be culled.
	n, err := s.db.Reader().CountAllDocuments(ctx, tenantID)
	if err != nil {
		return err
	}
	if n > 0 {
		if n != row.Kept {
			row.Kept, row.UpdatedAt = n, s.now().UTC()
			return s.db.Write(ctx, func(tx *store.Tx) error { return tx.PutTermination(ctx, row) })
		}
		return nil
	}
	// The entry goes first: the tenant's chain seals with the keyset.
	rctx, _ := audit.Begin(ctx, "tenant.keyset.destroy")
	if err := s.trail.Do(rctx, audit.Description{TenantID: tenantID, ResourceType: "tenant", ResourceID: tenantID}, func(*store.Tx) error { return nil }); err != nil {
		return err
	}
	if err := s.keys.Destroy(ctx, tenantID); err != nil && !errors.Is(err, keyring.ErrNoKeyset) {
		return fmt.Errorf("destroy the keyset: %w", err)
	}
	now := s.now().UTC()
	text := fmt.Sprintf("Valv tenant termination receipt\ntenant %s\nrequested %s\nerased %s\nkeyset destroyed %s\n", tenantID,
		row.RequestedAt.Format(time.RFC3339), row.ErasedAt.Format(time.RFC3339), now.Format(time.RFC3339))
	receipt, err := s.trail.Sign(ctx, text)
	if err != nil {
		return err
	}
	row.State, row.Kept, row.Receipt, row.UpdatedAt = "done", 0, string(receipt), now
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.PutTermination(ctx, row) })
}
