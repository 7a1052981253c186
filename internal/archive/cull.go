package archive

import (
	"context"
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
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Culling (RET-5) deletes every document whose retention has ended and
// that is under no legal hold — with its versions, files, subject index
// entries and payload history — in batches of one transaction each. Each
// batch also saves the run's progress (its cursor and counts), so a run
// that stops halfway is resumed without counting or deleting twice; at the
// end each tenant gets a culling report (counts per archive and type,
// never content) and an audit entry. Before deleting, each candidate's
// retention is computed afresh from the tenant's current rules, so a rule
// lengthened a moment ago is never outrun by a stored date.

// CullOptions shape a run.
type CullOptions struct {
	// DryRun counts what a run would cull and changes nothing.
	DryRun bool
	// Progress, if set, is told how many candidates were handled of how
	// many there were at the start.
	Progress func(done, total int64)
}

// Count is how many documents of an archive and type were culled.
type Count struct {
	Archive   string `json:"archive"`
	Type      string `json:"type"`
	Documents int64  `json:"documents"`
}

// CullResult is what a run did.
type CullResult struct {
	// Cutoff: documents kept until a day before it were culled.
	Cutoff string `json:"cutoff"`
	Culled int64  `json:"culled"`
	// Held counts candidates kept because a legal hold covers them.
	Held int64 `json:"held"`
	// Recomputed counts candidates whose stored retention was out of date
	// and that are kept after all.
	Recomputed int64              `json:"recomputed"`
	Tenants    map[string][]Count `json:"tenants"`
	// Reports are the ids of the culling reports written, per tenant.
	Reports map[string]string `json:"reports,omitempty"`
}

// cullState is a run's saved progress.
type cullState struct {
	Cutoff     string                      `json:"cutoff"`
	Started    time.Time                   `json:"started"`
	Backfilled bool                        `json:"backfilled"`
	Cursor     store.CullCursor            `json:"cursor"`
	Counts     map[string]map[string]int64 `json:"counts"` // tenant -> "archive/type" -> n
	Held       int64                       `json:"held"`
	Recomputed int64                       `json:"recomputed"`
	Done       int64                       `json:"done"`
	Reported   map[string]string           `json:"reported"` // tenant -> report id
	RunID      string                      `json:"run"`
}

// Cull runs culling as p (Valv's job, or a security operator at the
// console) within run (its saved progress), or, without a run, once.
func (s *Service) Cull(ctx context.Context, p authz.Principal, run *jobs.Run, o CullOptions) (CullResult, error) {
	d := authz.Decide(p, authz.RetentionCull, authz.Resource{}, s.now())
	if !d.Allowed {
		return CullResult{}, problem.Forbidden("forbidden", "Only Valv's culling job or a security operator at the server culls.")
	}
	st := cullState{Cutoff: retention.Today(s.now()), Started: s.now().UTC(), Counts: map[string]map[string]int64{}, Reported: map[string]string{},
		RunID: uuid.Must(uuid.NewV7()).String()}
	if run != nil && run.State != "" && !o.DryRun {
		if err := json.Unmarshal([]byte(run.State), &st); err != nil {
			return CullResult{}, fmt.Errorf("culling: saved progress: %w", err)
		}
		s.log.Info("resuming culling", "cutoff", st.Cutoff, "handled", st.Done)
	}
	save := func(ctx context.Context, tx *store.Tx, st *cullState) error {
		if run == nil || o.DryRun {
			return nil
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return run.Save(ctx, tx, string(b))
	}
	if !st.Backfilled && !o.DryRun {
		if err := s.backfill(ctx); err != nil {
			return CullResult{}, err
		}
		st.Backfilled = true
	}
	total, err := s.db.Reader().CountCullCandidates(ctx, st.Cutoff)
	if err != nil {
		return CullResult{}, err
	}
	total += st.Done
	for {
		if err := ctx.Err(); err != nil {
			return CullResult{}, err
		}
		rows, err := s.db.Reader().CullCandidates(ctx, st.Cutoff, st.Cursor, s.batch)
		if err != nil {
			return CullResult{}, fmt.Errorf("culling: find candidates: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		if err := s.cullBatch(ctx, &st, rows, o.DryRun, save); err != nil {
			return CullResult{}, err
		}
		if o.Progress != nil {
			o.Progress(st.Done, total)
		}
		if s.AfterCullBatch != nil {
			if err := s.AfterCullBatch(len(rows)); err != nil {
				return CullResult{}, err
			}
		}
	}
	res := CullResult{Cutoff: st.Cutoff, Held: st.Held, Recomputed: st.Recomputed, Tenants: map[string][]Count{}, Reports: map[string]string{}}
	for tenant, counts := range st.Counts {
		res.Tenants[tenant] = countList(counts)
		for _, n := range counts {
			res.Culled += n
		}
	}
	if o.DryRun {
		return res, nil
	}
	if err := s.report(ctx, &st, save); err != nil {
		return res, err
	}
	res.Reports = st.Reported
	if res.Culled > 0 {
		// Deleted content is overwritten in the database file (secure
		// delete); the write-ahead log still holds the old pages until
		// it is checkpointed and truncated.
		if err := s.db.TruncateLog(ctx); err != nil {
			s.log.Warn("could not truncate the write-ahead log after culling", "error", err)
		}
	}
	return res, nil
}

// cullBatch handles one batch of candidates in one transaction.
func (s *Service) cullBatch(ctx context.Context, st *cullState, rows []store.RetentionRow, dry bool, save func(context.Context, *store.Tx, *cullState) error) error {
	byTenant := map[string][]store.RetentionRow{}
	var order []string
	for _, r := range rows {
		if _, ok := byTenant[r.TenantID]; !ok {
			order = append(order, r.TenantID)
		}
		byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
	}
	// Fresh policies: the stored dates may predate a rule change.
	type plan struct {
		stale []store.RetentionRow
		ids   []string
		rows  map[string]store.RetentionRow // candidates by id
	}
	plans := map[string]*plan{}
	for _, tenant := range order {
		pol, _, err := s.loadPolicy(ctx, s.db.Reader(), tenant)
		if err != nil {
			return err
		}
		pl := &plan{rows: map[string]store.RetentionRow{}}
		for _, r := range byTenant[tenant] {
			if r.Restricted == "erasure" {
				// Kept only for the law (or a hold) in place of an
				// erasure: its day is final.
				pl.ids = append(pl.ids, r.ID)
				pl.rows[r.ID] = r
				continue
			}
			res, err := pol.Until(r.Archive, r.Type, r.DocumentDate, r.KeepUntil)
			if err != nil {
				return fmt.Errorf("culling: document %s: %w", r.ID, err)
			}
			if res.Until >= st.Cutoff {
				r.RetainUntil = res.Until
				pl.stale = append(pl.stale, r)
				continue
			}
			pl.ids = append(pl.ids, r.ID)
			pl.rows[r.ID] = r
		}
		plans[tenant] = pl
	}
	next := *st
	next.Counts = cloneCounts(st.Counts)
	last := rows[len(rows)-1]
	next.Cursor = store.CullCursor{Until: last.RetainUntil, TenantID: last.TenantID, ID: last.ID}
	next.Done += int64(len(rows))
	work := func(tx *store.Tx) error {
		for _, tenant := range order {
			pl := plans[tenant]
			next.Recomputed += int64(len(pl.stale))
			if dry {
				for _, id := range pl.ids {
					held, err := tx.DocumentHeld(ctx, tenant, id)
					if err != nil {
						return err
					}
					if held {
						next.Held++
						continue
					}
					r := pl.rows[id]
					addCount(next.Counts, tenant, r.Archive, r.Type)
				}
				continue
			}
			for _, r := range pl.stale {
				if _, err := tx.SetRetainUntil(ctx, r); err != nil {
					return err
				}
			}
			if len(pl.ids) == 0 {
				continue
			}
			gone, err := tx.CullDocuments(ctx, tenant, pl.ids, st.Cutoff)
			if err != nil {
				return fmt.Errorf("culling: delete documents of tenant %s: %w", tenant, err)
			}
			next.Held += int64(len(pl.ids) - len(gone))
			for _, g := range gone {
				addCount(next.Counts, tenant, g.Archive, g.Type)
			}
		}
		return save(ctx, tx, &next)
	}
	var err error
	if dry {
		err = work(s.db.Reader())
	} else {
		err = s.db.Write(ctx, work)
	}
	if err != nil {
		return err
	}
	*st = next
	return nil
}

// report writes each culled tenant's report and audit entry, each in one
// transaction with the run's progress, so none is written twice.
func (s *Service) report(ctx context.Context, st *cullState, save func(context.Context, *store.Tx, *cullState) error) error {
	tenants := make([]string, 0, len(st.Counts))
	for t := range st.Counts {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	now := s.now().UTC()
	for _, tenant := range tenants {
		if _, done := st.Reported[tenant]; done {
			continue
		}
		counts := countList(st.Counts[tenant])
		var total int64
		for _, c := range counts {
			total += c.Documents
		}
		body, err := json.Marshal(counts)
		if err != nil {
			return err
		}
		id := uuid.Must(uuid.NewV7()).String()
		rctx, _ := audit.Begin(ctx, string(authz.RetentionCull))
		audit.Detail(rctx, "culled", fmt.Sprint(total))
		audit.Detail(rctx, "cutoff", st.Cutoff)
		audit.Detail(rctx, "report", id)
		st.Reported[tenant] = id
		err = s.trail.Do(rctx, audit.Description{TenantID: tenant, ResourceType: "culling_report", ResourceID: id}, func(tx *store.Tx) error {
			if err := tx.InsertCullingReport(ctx, store.CullingReportRow{TenantID: tenant, ID: id, RunID: st.RunID,
				Cutoff: st.Cutoff, StartedAt: st.Started, FinishedAt: now, Total: total, Counts: string(body)}); err != nil {
				return err
			}
			return save(ctx, tx, st)
		})
		if err != nil {
			delete(st.Reported, tenant)
			return fmt.Errorf("culling: report for tenant %s: %w", tenant, err)
		}
		s.log.Info("culled documents past retention", "tenant", tenant, "documents", total, "report", id)
	}
	return nil
}

// backfill computes the retention of documents stored without one.
func (s *Service) backfill(ctx context.Context) error {
	for {
		rows, err := s.db.Reader().UncomputedRetention(ctx, s.batch)
		if err != nil || len(rows) == 0 {
			return err
		}
		byTenant := map[string][]store.RetentionRow{}
		for _, r := range rows {
			byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
		}
		changed := 0
		for tenant, rs := range byTenant {
			pol, _, err := s.loadPolicy(ctx, s.db.Reader(), tenant)
			if err != nil {
				return err
			}
			n, err := s.storeRetention(ctx, pol, rs)
			if err != nil {
				return err
			}
			changed += n
		}
		if changed == 0 {
			return nil // all changed meanwhile: the next run sees them
		}
	}
}

func addCount(m map[string]map[string]int64, tenant, archive, typ string) {
	if m[tenant] == nil {
		m[tenant] = map[string]int64{}
	}
	m[tenant][archive+"/"+typ]++
}

func cloneCounts(m map[string]map[string]int64) map[string]map[string]int64 {
	out := make(map[string]map[string]int64, len(m))
	for t, c := range m {
		out[t] = make(map[string]int64, len(c))
		for k, v := range c {
			out[t][k] = v
		}
	}
	return out
}

func countList(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		archive, typ, _ := strings.Cut(k, "/")
		out = append(out, Count{Archive: archive, Type: typ, Documents: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Archive != out[j].Archive {
			return out[i].Archive < out[j].Archive
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// Report is a culling report as owners and auditors see it.
type Report struct {
	ID         string    `json:"id"`
	Cutoff     string    `json:"cutoff"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Total      int64     `json:"total"`
	Counts     []Count   `json:"counts"`
}

func reportView(r store.CullingReportRow) (Report, error) {
	out := Report{ID: r.ID, Cutoff: r.Cutoff, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Total: r.Total}
	if err := json.Unmarshal([]byte(r.Counts), &out.Counts); err != nil {
		return Report{}, fmt.Errorf("culling report %s: %w", r.ID, err)
	}
	return out, nil
}

// Reports lists the caller's tenant's culling reports, newest first.
func (s *Service) Reports(ctx context.Context, p authz.Principal, cursor string, limit int) ([]Report, string, error) {
	if err := s.authorize(ctx, p, authz.CullReportRead, "culling_report", ""); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.db.Reader().CullingReports(ctx, p.TenantID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Report, 0, len(rows))
	for _, r := range rows {
		v, err := reportView(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// GetReport returns one culling report.
func (s *Service) GetReport(ctx context.Context, p authz.Principal, id string) (Report, error) {
	if err := s.authorize(ctx, p, authz.CullReportRead, "culling_report", id); err != nil {
		return Report{}, err
	}
	r, err := s.db.Reader().CullingReport(ctx, p.TenantID, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Report{}, problem.NotFound("report_not_found", "No such culling report.")
		}
		return Report{}, err
	}
	return reportView(r)
}
