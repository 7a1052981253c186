package gdpr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Progress is where a request stands and, once completed, what it did.
// Ids only: never content.
type Progress struct {
	// Cursor is the last document id handled (documents are handled in id
	// order).
	Cursor string `json:"cursor,omitempty"`
	// Batches and Documents count the committed work.
	Batches   int `json:"batches"`
	Documents int `json:"documents"`
	// Erased are the documents erased.
	Erased []string `json:"erased,omitempty"`
	// Restricted are the documents restricted, each until when and why.
	Restricted []Restricted `json:"restricted,omitempty"`
	// Anonymised are the documents anonymised and what was removed.
	Anonymised []Anonymised `json:"anonymised,omitempty"`
	// Skipped are the documents left as they were, and why.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Restricted is a document restricted (art. 18).
type Restricted struct {
	ID string `json:"id"`
	// Until is the last day it is kept (then it is erased); "" for a
	// restriction on request, which lasts until it is lifted.
	Until string `json:"until,omitempty"`
	// Reason: legal_archive (the law keeps it), legal_hold, or request.
	Reason string `json:"reason"`
}

// Anonymised is a document anonymised.
type Anonymised struct {
	ID      string   `json:"id"`
	Removed []string `json:"removed"`
}

// Skipped is a document a request left as it was.
type Skipped struct {
	ID string `json:"id"`
	// Reason: legal_archive (anonymising a document the law keeps as it
	// is), legal_hold, restricted.
	Reason string `json:"reason"`
}

// handle runs a queued request ("tenant/id").
func (s *Service) handle(ctx context.Context, payload string) error {
	tenantID, id, ok := strings.Cut(payload, "/")
	if !ok {
		return fmt.Errorf("malformed request reference %q", payload)
	}
	return s.Run(ctx, tenantID, id)
}

// Run carries out a request, from where it stands. A failure is saved on
// the request (status retrying, or failed after jobs.MaxAttempts) and
// returned, so that the queue tries again.
func (s *Service) Run(ctx context.Context, tenantID, id string) error {
	row, err := s.db.Reader().SubjectRequest(ctx, tenantID, id)
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	if row.Status == StatusCompleted || row.Status == StatusFailed {
		return nil
	}
	row.Attempts++
	row.Status, row.UpdatedAt = StatusRunning, s.now().UTC()
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateSubjectRequest(ctx, row) }); err != nil {
		return err
	}
	ctx = authz.WithPrincipal(ctx, authz.Principal{Kind: authz.System})
	runErr := s.run(ctx, &row)
	if runErr == nil {
		return nil
	}
	row, err = s.db.Reader().SubjectRequest(context.WithoutCancel(ctx), tenantID, id)
	if err != nil {
		return errors.Join(runErr, err)
	}
	row.Status, row.LastError, row.UpdatedAt = StatusRetrying, errorText(runErr), s.now().UTC()
	if row.Attempts >= jobs.MaxAttempts {
		row.Status = StatusFailed
	}
	if err := s.db.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.UpdateSubjectRequest(ctx, row) }); err != nil {
		return errors.Join(runErr, err)
	}
	s.log.Error("data-subject request failed", "request", id, "kind", row.Kind, "attempt", row.Attempts, "error", runErr)
	return runErr
}

// errorText is an error as a request shows it: short, and without
// personal data (errors here name ids and steps, never values).
func errorText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

func (s *Service) run(ctx context.Context, row *store.SubjectRequestRow) error {
	tokens, err := s.db.Reader().SubjectRequestTokens(ctx, row.TenantID, row.ID)
	if err != nil {
		return err
	}
	switch row.Kind {
	case KindAccess, KindPortability:
		return s.runExtract(ctx, row, tokens)
	case KindErasure, KindAnonymisation, KindRestriction:
		return s.runChange(ctx, row, tokens)
	default:
		return fmt.Errorf("request %s: unknown kind %q", row.ID, row.Kind)
	}
}

// runExtract builds the extract and keeps it, sealed, as the result.
func (s *Service) runExtract(ctx context.Context, row *store.SubjectRequestRow, tokens [][]byte) error {
	v, err := s.viewRow(ctx, *row)
	if err != nil {
		return err
	}
	ex, err := s.BuildExtract(ctx, row.TenantID, RequestInfo{ID: row.ID, Kind: row.Kind, ReceivedAt: row.ReceivedAt, Deadline: row.Deadline}, v.Subjects, tokens)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	sealer, err := s.keys.Sealer(ctx, row.TenantID)
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal(raw, resultLocation(row.ID))
	clear(raw)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	row.Result, row.Status, row.CompletedAt, row.UpdatedAt, row.LastError = sealed, StatusCompleted, now, now, ""
	row.Progress = mustJSON(Progress{Documents: len(ex.Documents)})
	rctx, _ := audit.Begin(ctx, "gdpr.request.completed")
	audit.Detail(rctx, "kind", row.Kind)
	audit.Detail(rctx, "documents", fmt.Sprint(len(ex.Documents)))
	return s.trail.Do(rctx, audit.Description{TenantID: row.TenantID, ResourceType: "subject_request", ResourceID: row.ID}, func(tx *store.Tx) error {
		return tx.UpdateSubjectRequest(ctx, *row)
	})
}

// runChange erases, anonymises or restricts the subject's documents (or
// the one document), a batch per transaction, then finishes the request
// with a signed receipt.
func (s *Service) runChange(ctx context.Context, row *store.SubjectRequestRow, tokens [][]byte) error {
	var prog Progress
	if err := json.Unmarshal([]byte(row.Progress), &prog); err != nil {
		return fmt.Errorf("request %s: progress: %w", row.ID, err)
	}
	var opts options
	_ = json.Unmarshal([]byte(row.Options), &opts)
	for {
		var ids []string
		var err error
		if row.Scope == "document" {
			if prog.Cursor == "" {
				ids = []string{row.Target}
			}
		} else if ids, err = s.db.Reader().SubjectDocumentIDs(ctx, row.TenantID, tokens, prog.Cursor, s.batch); err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		plan, err := s.plan(ctx, row, ids)
		if err != nil {
			return err
		}
		next := prog
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			next = prog
			if err := s.apply(ctx, tx, row, tokens, opts, plan, &next); err != nil {
				return err
			}
			next.Cursor = ids[len(ids)-1]
			next.Batches++
			next.Documents += len(ids)
			cur, err := tx.SubjectRequestForUpdate(ctx, row.TenantID, row.ID)
			if err != nil {
				return err
			}
			if cur.Progress != row.Progress {
				return fmt.Errorf("request %s: another run moved it on meanwhile", row.ID)
			}
			row.Progress, row.UpdatedAt = mustJSON(next), s.now().UTC()
			cur.Progress, cur.UpdatedAt, cur.Status = row.Progress, row.UpdatedAt, StatusRunning
			return tx.UpdateSubjectRequest(ctx, cur)
		})
		if err != nil {
			return fmt.Errorf("request %s: batch %d: %w", row.ID, prog.Batches+1, err)
		}
		prog = next
		if s.afterBatch != nil {
			if err := s.afterBatch(row.ID, prog.Batches); err != nil {
				return err
			}
		}
	}
	return s.finish(ctx, row, tokens, prog)
}

// docPlan is what a batch does to each document, decided before the
// transaction (reading policies).
type docPlan struct {
	id         string
	gone       bool   // no longer there
	restricted string // how it is restricted already
	archive    string
	lawUntil   string // the law keeps it until (legal archive), "" if not
}

func (s *Service) plan(ctx context.Context, row *store.SubjectRequestRow, ids []string) ([]docPlan, error) {
	today := retention.Today(s.now())
	out := make([]docPlan, 0, len(ids))
	for _, id := range ids {
		d, restricted, err := s.db.Reader().DocumentAny(ctx, row.TenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			out = append(out, docPlan{id: id, gone: true})
			continue
		}
		if err != nil {
			return nil, err
		}
		p := docPlan{id: id, restricted: restricted, archive: d.Archive}
		until, err := s.law.LawUntil(ctx, row.TenantID, d.Archive, d.Type, d.DocumentDate)
		if err != nil {
			return nil, fmt.Errorf("document %s: retention: %w", id, err)
		}
		if until != "" && until >= today {
			p.lawUntil = until
		}
		out = append(out, p)
	}
	return out, nil
}

// apply does a batch inside tx, recording into prog.
func (s *Service) apply(ctx context.Context, tx *store.Tx, row *store.SubjectRequestRow, tokens [][]byte, opts options, plan []docPlan, prog *Progress) error {
	ids := make([]string, 0, len(plan))
	for _, p := range plan {
		if !p.gone {
			ids = append(ids, p.id)
		}
	}
	held, err := tx.HeldDocuments(ctx, row.TenantID, ids)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ledger := func(scope, target string) error {
		return tx.AppendErasure(ctx, store.ErasureRow{ID: uuid.Must(uuid.NewV7()).String(), TenantID: row.TenantID, RequestID: row.ID,
			Scope: scope, Target: target, Time: now})
	}
	var erase []string
	for _, p := range plan {
		if p.gone {
			continue
		}
		switch row.Kind {
		case KindErasure:
			switch {
			case p.lawUntil != "" || held[p.id]:
				reason, until := "legal_archive", p.lawUntil
				if held[p.id] {
					// Kept while the hold lasts; culled as soon as it is lifted
					// (and the law lets it go).
					reason = "legal_hold"
					if until == "" {
						until = retention.Today(now.AddDate(0, 0, -1))
					}
				}
				if err := tx.RestrictDocument(ctx, row.TenantID, p.id, "erasure", until); err != nil {
					return err
				}
				if err := ledger("restricted", p.id+"@"+until); err != nil {
					return err
				}
				prog.Restricted = append(prog.Restricted, Restricted{ID: p.id, Until: until, Reason: reason})
			default:
				erase = append(erase, p.id)
			}
		case KindAnonymisation:
			switch {
			case p.restricted != "":
				prog.Skipped = append(prog.Skipped, Skipped{ID: p.id, Reason: "restricted"})
			case p.lawUntil != "":
				prog.Skipped = append(prog.Skipped, Skipped{ID: p.id, Reason: "legal_archive"})
			case held[p.id]:
				prog.Skipped = append(prog.Skipped, Skipped{ID: p.id, Reason: "legal_hold"})
			default:
				toks := tokens
				if row.Scope == "document" && len(tokens) == 0 {
					toks = nil
				}
				res, err := s.docs.AnonymiseTx(ctx, tx, authz.Principal{Kind: authz.System}, row.TenantID, p.id, toks, opts.Fields)
				if err != nil {
					return fmt.Errorf("document %s: %w", p.id, err)
				}
				prog.Anonymised = append(prog.Anonymised, Anonymised{ID: p.id, Removed: res.Removed})
			}
		case KindRestriction:
			if p.restricted != "" {
				prog.Skipped = append(prog.Skipped, Skipped{ID: p.id, Reason: "restricted"})
				continue
			}
			if err := tx.RestrictDocument(ctx, row.TenantID, p.id, "request", ""); err != nil {
				return err
			}
			prog.Restricted = append(prog.Restricted, Restricted{ID: p.id, Reason: "request"})
		}
	}
	if len(erase) > 0 {
		if err := tx.EraseDocuments(ctx, row.TenantID, erase); err != nil {
			return err
		}
		for _, id := range erase {
			if err := ledger("document", id); err != nil {
				return err
			}
		}
		prog.Erased = append(prog.Erased, erase...)
	}
	return nil
}

// finish ends a change request: an erasure forgets the subject's
// identifiers everywhere (requests, results) and records the subject in
// the ledger; every change gets a signed receipt.
func (s *Service) finish(ctx context.Context, row *store.SubjectRequestRow, tokens [][]byte, prog Progress) error {
	now := s.now().UTC()
	receipt, err := s.trail.Sign(ctx, receiptText(row, prog, now))
	if err != nil {
		return fmt.Errorf("request %s: sign the receipt: %w", row.ID, err)
	}
	rctx, _ := audit.Begin(ctx, "gdpr.request.completed")
	audit.Detail(rctx, "kind", row.Kind)
	audit.Detail(rctx, "erased", fmt.Sprint(len(prog.Erased)))
	audit.Detail(rctx, "restricted", fmt.Sprint(len(prog.Restricted)))
	audit.Detail(rctx, "anonymised", fmt.Sprint(len(prog.Anonymised)))
	return s.trail.Do(rctx, audit.Description{TenantID: row.TenantID, ResourceType: "subject_request", ResourceID: row.ID}, func(tx *store.Tx) error {
		cur, err := tx.SubjectRequestForUpdate(ctx, row.TenantID, row.ID)
		if err != nil {
			return err
		}
		if cur.Status == StatusCompleted {
			return nil
		}
		if row.Kind == KindErasure && len(tokens) > 0 {
			if err := tx.ForgetSubject(ctx, row.TenantID, tokens); err != nil {
				return err
			}
			for _, tok := range tokens {
				if err := tx.AppendErasure(ctx, store.ErasureRow{ID: uuid.Must(uuid.NewV7()).String(), TenantID: row.TenantID, RequestID: row.ID,
					Scope: "subject", Target: base64.StdEncoding.EncodeToString(tok), Time: now}); err != nil {
					return err
				}
			}
			cur.Subjects, cur.Result = nil, nil
		}
		cur.Status, cur.Progress, cur.Receipt, cur.CompletedAt, cur.UpdatedAt, cur.LastError = StatusCompleted, mustJSON(prog), string(receipt), now, now, ""
		return tx.UpdateSubjectRequest(ctx, cur)
	})
}

// receiptText is what a receipt says: ids, counts and days, no personal
// data. Its format is documented in docs/gdpr.md.
func receiptText(row *store.SubjectRequestRow, prog Progress, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Valv data-subject request receipt\n")
	fmt.Fprintf(&b, "tenant %s\nrequest %s\nkind %s\nscope %s\n", row.TenantID, row.ID, row.Kind, row.Scope)
	if row.Scope == "document" {
		fmt.Fprintf(&b, "document %s\n", row.Target)
	}
	fmt.Fprintf(&b, "received %s\ncompleted %s\n", row.ReceivedAt.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
	fmt.Fprintf(&b, "erased %d\nrestricted %d\nanonymised %d\nskipped %d\n", len(prog.Erased), len(prog.Restricted), len(prog.Anonymised), len(prog.Skipped))
	erased := append([]string(nil), prog.Erased...)
	sort.Strings(erased)
	for _, id := range erased {
		fmt.Fprintf(&b, "erased %s\n", id)
	}
	for _, r := range prog.Restricted {
		if r.Until != "" {
			fmt.Fprintf(&b, "restricted %s until %s %s\n", r.ID, r.Until, r.Reason)
		} else {
			fmt.Fprintf(&b, "restricted %s %s\n", r.ID, r.Reason)
		}
	}
	for _, a := range prog.Anonymised {
		fmt.Fprintf(&b, "anonymised %s %s\n", a.ID, strings.Join(a.Removed, ","))
	}
	for _, sk := range prog.Skipped {
		fmt.Fprintf(&b, "skipped %s %s\n", sk.ID, sk.Reason)
	}
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
