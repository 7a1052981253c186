// Package archive keeps each tenant's documents exactly as long as law and
// the tenant say (RET-1..5): the retention policy and its rules, legal
// holds, the daily review digest and culling. The rules themselves are in
// package retention.
package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Keys hands out a tenant's sealer (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Subjects normalises a subject identifier and gives its blind index (the
// document service).
type Subjects interface {
	SubjectToken(ctx context.Context, tenantID string, sub document.Subject) (document.Subject, []byte, error)
}

// User is a tenant's user, as the digest and the reviewer list need it.
type User struct {
	ID       string
	Email    string
	Role     authz.Role
	Active   bool
	Language string
}

// Directory lists a tenant's users and names it (the app).
type Directory interface {
	Users(ctx context.Context, tenantID string) ([]User, error)
	Tenant(ctx context.Context, tenantID string) (name, language string, err error)
}

// Options configure the service.
type Options struct {
	DB        *store.DB
	Keys      Keys
	Trail     *audit.Trail
	Jobs      *jobs.Scheduler
	Subjects  Subjects
	Directory Directory
	Mail      Mailer
	// LegalYears is how many calendar years after a document's year the
	// legal archive keeps it under a contract (default 7).
	LegalYears int
	// StandardMonths is a new tenant's standard archive period (default 24).
	StandardMonths int
	// CullBatch is how many documents culling deletes per transaction
	// (default 2000).
	CullBatch int
	// ReviewLink is where a reviewer lists due reviews.
	ReviewLink func() string
	Now        func() time.Time
	Logger     *slog.Logger
}

// Service is the retention policy, holds, reviews and culling.
type Service struct {
	db         *store.DB
	keys       Keys
	trail      *audit.Trail
	jobs       *jobs.Scheduler
	subjects   Subjects
	dir        Directory
	mail       Mailer
	legalYears int
	stdMonths  int
	batch      int
	reviewLink func() string
	now        func() time.Time
	log        *slog.Logger

	// AfterCullBatch, if set, is called after each committed culling batch
	// (tests stop a run halfway with it).
	AfterCullBatch func(culled int) error

	mu    sync.Mutex
	cache map[string]cachedPolicy
}

type cachedPolicy struct {
	p  retention.Policy
	at time.Time
}

// policyTTL bounds how long a node uses a policy another node may have
// changed; culling always reads the policy afresh.
const policyTTL = 10 * time.Second

// New builds the service.
func New(o Options) *Service {
	if o.LegalYears <= 0 {
		o.LegalYears = 7
	}
	if o.StandardMonths <= 0 {
		o.StandardMonths = 24
	}
	if o.CullBatch <= 0 {
		o.CullBatch = 2000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReviewLink == nil {
		o.ReviewLink = func() string { return "" }
	}
	return &Service{db: o.DB, keys: o.Keys, trail: o.Trail, jobs: o.Jobs, subjects: o.Subjects, dir: o.Directory, mail: o.Mail,
		legalYears: o.LegalYears, stdMonths: o.StandardMonths, batch: o.CullBatch, reviewLink: o.ReviewLink, now: o.Now, log: o.Logger,
		cache: map[string]cachedPolicy{}}
}

// LegalYears is the installation's legal archive period in years.
func (s *Service) LegalYears() int { return s.legalYears }

// Policy returns a tenant's retention policy (cached briefly).
func (s *Service) Policy(ctx context.Context, tenantID string) (retention.Policy, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < policyTTL {
		return c.p, nil
	}
	p, _, err := s.loadPolicy(ctx, s.db.Reader(), tenantID)
	if err != nil {
		return retention.Policy{}, err
	}
	s.mu.Lock()
	s.cache[tenantID] = cachedPolicy{p: p, at: now}
	s.mu.Unlock()
	return p, nil
}

func (s *Service) forget(tenantID string) {
	s.mu.Lock()
	delete(s.cache, tenantID)
	s.mu.Unlock()
}

// loadPolicy reads a tenant's policy and rules through tx.
func (s *Service) loadPolicy(ctx context.Context, tx *store.Tx, tenantID string) (retention.Policy, store.RetentionPolicyRow, error) {
	row, err := tx.RetentionPolicy(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		row, err = store.RetentionPolicyRow{TenantID: tenantID, StandardMonths: s.stdMonths, Reviewers: []string{}}, nil
	}
	if err != nil {
		return retention.Policy{}, row, fmt.Errorf("retention policy of tenant %s: %w", tenantID, err)
	}
	rules, err := tx.RetentionRules(ctx, tenantID)
	if err != nil {
		return retention.Policy{}, row, fmt.Errorf("retention rules of tenant %s: %w", tenantID, err)
	}
	p := retention.Policy{Contract: row.Contract, LegalYears: s.legalYears, StandardMonths: row.StandardMonths}
	for _, r := range rules {
		p.Rules = append(p.Rules, retention.Rule{Archive: r.Archive, Type: r.Type, Months: r.Months})
	}
	return p, row, nil
}

// Problems the service returns.
var (
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	errForbidden       = problem.Forbidden("forbidden", "You do not have permission to do this.")
)

// authorize decides whether p may do a in its own tenant and tells the
// call's audit record.
func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, resType, resID string) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: p.TenantID, ResourceType: resType, ResourceID: resID})
	d := authz.Decide(p, a, authz.Resource{TenantID: p.TenantID, ID: resID}, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return errForbidden
	}
	return nil
}

// PolicyView is a tenant's retention policy as the API shows it.
type PolicyView struct {
	// Contract says the tenant has the 6+1 archive contract.
	Contract bool `json:"contract"`
	// LegalYears is the legal archive's period under a contract
	// (installation setting).
	LegalYears     int        `json:"legal_years"`
	StandardMonths int        `json:"standard_months"`
	MessageMonths  int        `json:"message_months"`
	Reviewers      []string   `json:"reviewers"`
	Rules          []RuleView `json:"rules"`
	UpdatedAt      time.Time  `json:"updated_at,omitzero"`
}

// RuleView is a rule: years for the legal archive, months otherwise.
type RuleView struct {
	Archive string `json:"archive"`
	Type    string `json:"type,omitempty"`
	Years   int    `json:"years,omitempty"`
	Months  int    `json:"months,omitempty"`
}

func ruleView(r retention.Rule) RuleView {
	v := RuleView{Archive: r.Archive, Type: r.Type}
	if r.Archive == retention.Legal {
		v.Years = r.Months / 12
	} else {
		v.Months = r.Months
	}
	return v
}

// GetPolicy returns the caller's tenant's policy.
func (s *Service) GetPolicy(ctx context.Context, p authz.Principal) (PolicyView, error) {
	if err := s.authorize(ctx, p, authz.RetentionRead, "retention_policy", ""); err != nil {
		return PolicyView{}, err
	}
	return s.GetPolicyUnchecked(ctx, p.TenantID)
}

func view(pol retention.Policy, row store.RetentionPolicyRow) PolicyView {
	v := PolicyView{Contract: pol.Contract, LegalYears: pol.LegalYears, StandardMonths: pol.StandardMonths, MessageMonths: retention.MessageMonths,
		Reviewers: row.Reviewers, Rules: []RuleView{}, UpdatedAt: row.UpdatedAt}
	if v.Reviewers == nil {
		v.Reviewers = []string{}
	}
	for _, r := range pol.Rules {
		v.Rules = append(v.Rules, ruleView(r))
	}
	return v
}

// PolicyPatch changes a policy; nil fields stay.
type PolicyPatch struct {
	Contract       *bool     `json:"contract,omitempty"`
	StandardMonths *int      `json:"standard_months,omitempty"`
	Reviewers      *[]string `json:"reviewers,omitempty"`
}

// UpdatePolicy changes the caller's tenant's policy and recomputes the
// retention of the documents it affects.
func (s *Service) UpdatePolicy(ctx context.Context, p authz.Principal, patch PolicyPatch) (PolicyView, error) {
	if err := s.authorize(ctx, p, authz.RetentionManage, "retention_policy", ""); err != nil {
		return PolicyView{}, err
	}
	tenantID := p.TenantID
	pol, row, err := s.loadPolicy(ctx, s.db.Reader(), tenantID)
	if err != nil {
		return PolicyView{}, err
	}
	var fields []problem.FieldError
	recompute := ""
	if patch.Contract != nil && *patch.Contract != row.Contract {
		// Declaring or ending the archive contract decides how long the
		// bookkeeping is kept: owners only.
		if d := authz.Decide(p, authz.RetentionContract, authz.Resource{TenantID: tenantID}, s.now()); !d.Allowed {
			audit.Decision(ctx, d)
			return PolicyView{}, problem.Forbidden("owner_only", "Only an owner can declare or end the archive contract.")
		}
		audit.Detail(ctx, "contract", strconv.FormatBool(*patch.Contract))
		row.Contract = *patch.Contract
		recompute = retention.Legal
	}
	if patch.StandardMonths != nil && *patch.StandardMonths != row.StandardMonths {
		if m := *patch.StandardMonths; m < 1 || m > retention.MaxMonths {
			fields = append(fields, problem.Field("/standard_months", "out_of_range", fmt.Sprintf("Give 1 to %d months.", retention.MaxMonths)))
		}
		audit.Detail(ctx, "standard_months", strconv.Itoa(*patch.StandardMonths))
		row.StandardMonths = *patch.StandardMonths
		if recompute == "" {
			recompute = retention.Standard
		} else {
			recompute = "*"
		}
	}
	if patch.Reviewers != nil {
		bad, err := s.checkReviewers(ctx, tenantID, *patch.Reviewers)
		if err != nil {
			return PolicyView{}, err
		}
		if bad != "" {
			fields = append(fields, problem.Field("/reviewers", "unknown_user", bad))
		}
		row.Reviewers = slices.Compact(slices.Sorted(slices.Values(*patch.Reviewers)))
		audit.Detail(ctx, "reviewers", strconv.Itoa(len(row.Reviewers)))
	}
	if len(fields) > 0 {
		return PolicyView{}, problem.Invalid("invalid_policy", "The retention policy is not valid.", fields...)
	}
	row.TenantID, row.UpdatedAt = tenantID, s.now().UTC()
	pol.Contract, pol.StandardMonths = row.Contract, row.StandardMonths
	if err := s.changeRules(ctx, tenantID, recompute, "", func(tx *store.Tx) error { return tx.PutRetentionPolicy(ctx, row) }); err != nil {
		return PolicyView{}, err
	}
	return view(pol, row), nil
}

// checkReviewers returns why the list is not a list of the tenant's
// active owners, admins or members ("" if it is).
func (s *Service) checkReviewers(ctx context.Context, tenantID string, ids []string) (string, error) {
	if len(ids) > 50 {
		return "Name at most 50 reviewers.", nil
	}
	if len(ids) == 0 {
		return "", nil
	}
	users, err := s.dir.Users(ctx, tenantID)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		ok := false
		for _, u := range users {
			ok = ok || (u.ID == id && u.Role != authz.Auditor)
		}
		if !ok {
			return "Each reviewer is the id of an owner, admin or member of the organisation.", nil
		}
	}
	return "", nil
}

// RuleInput sets a rule: years (legal archive) or months.
type RuleInput struct {
	Type   string `json:"type,omitempty"`
	Years  int    `json:"years,omitempty"`
	Months int    `json:"months,omitempty"`
}

// PutRule sets the caller's tenant's rule for an archive (or one of its
// types) and recomputes the documents it applies to.
func (s *Service) PutRule(ctx context.Context, p authz.Principal, archive string, in RuleInput) (PolicyView, error) {
	if err := s.authorize(ctx, p, authz.RetentionManage, "retention_rule", archive); err != nil {
		return PolicyView{}, err
	}
	if in.Type != "" && !document.ValidType(in.Type) {
		return PolicyView{}, problem.Invalid("invalid_rule", "The rule is not valid.", problem.Field("/type", "invalid_type", "A type is 1 to 64 lower-case letters, digits, '_', '.' or '-'."))
	}
	if (in.Years == 0) == (in.Months == 0) || in.Years < 0 || in.Months < 0 {
		return PolicyView{}, problem.Invalid("invalid_rule", "Give the period as years or as months (not both).")
	}
	months := in.Months + 12*in.Years
	pol, err := s.Policy(ctx, p.TenantID)
	if err != nil {
		return PolicyView{}, err
	}
	r := retention.Rule{Archive: archive, Type: in.Type, Months: months}
	if err := pol.CheckRule(r); err != nil {
		code := "invalid_rule"
		if archive == retention.Message {
			code = "retention_fixed"
		}
		return PolicyView{}, problem.Invalid(code, "The rule is not valid: "+err.Error()+".")
	}
	audit.Detail(ctx, "archive", archive)
	audit.Detail(ctx, "type", in.Type)
	audit.Detail(ctx, "months", strconv.Itoa(months))
	err = s.changeRules(ctx, p.TenantID, archive, in.Type, func(tx *store.Tx) error {
		return tx.PutRetentionRule(ctx, store.RetentionRuleRow{TenantID: p.TenantID, Archive: archive, Type: in.Type, Months: months, UpdatedAt: s.now().UTC()})
	})
	if err != nil {
		return PolicyView{}, err
	}
	return s.GetPolicyUnchecked(ctx, p.TenantID)
}

// DeleteRule removes a rule and recomputes the documents it applied to.
func (s *Service) DeleteRule(ctx context.Context, p authz.Principal, archive, typ string) error {
	if err := s.authorize(ctx, p, authz.RetentionManage, "retention_rule", archive); err != nil {
		return err
	}
	audit.Detail(ctx, "archive", archive)
	audit.Detail(ctx, "type", typ)
	err := s.changeRules(ctx, p.TenantID, archive, typ, func(tx *store.Tx) error {
		return tx.DeleteRetentionRule(ctx, p.TenantID, archive, typ)
	})
	if errors.Is(err, store.ErrNotFound) {
		return problem.NotFound("rule_not_found", "There is no such rule.")
	}
	return err
}

// GetPolicyUnchecked is the policy view without an authorization check
// (after a change the caller was authorised for).
func (s *Service) GetPolicyUnchecked(ctx context.Context, tenantID string) (PolicyView, error) {
	pol, row, err := s.loadPolicy(ctx, s.db.Reader(), tenantID)
	if err != nil {
		return PolicyView{}, err
	}
	return view(pol, row), nil
}

// recomputeKind is the queued task that recomputes documents' retention
// after a rule changed.
const recomputeKind = "retention.recompute"

type recomputeTask struct {
	TenantID string `json:"tenant"`
	Archive  string `json:"archive"` // "" or "*": every archive
	Type     string `json:"type"`
}

// changeRules makes a rule change and queues the recomputation of the
// documents it affects in one audited transaction, then runs the
// recomputation at once (if it fails, the queue retries it).
func (s *Service) changeRules(ctx context.Context, tenantID, archive, typ string, change func(tx *store.Tx) error) error {
	var taskID string
	payload, _ := json.Marshal(recomputeTask{TenantID: tenantID, Archive: archive, Type: typ})
	err := s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "retention_policy", ResourceID: archive}, func(tx *store.Tx) error {
		if err := change(tx); err != nil {
			return err
		}
		if archive == "" {
			return nil
		}
		var err error
		taskID, err = s.jobs.Enqueue(ctx, tx, recomputeKind, string(payload))
		return err
	})
	if err != nil {
		return err
	}
	s.forget(tenantID)
	if taskID != "" {
		if _, err := s.jobs.RunQueued(context.WithoutCancel(ctx), taskID); err != nil {
			s.log.Error("recomputing retention failed; it will be retried", "tenant", tenantID, "error", err)
		}
	}
	return nil
}

// RegisterHandlers registers the service's queued work with the scheduler.
func (s *Service) RegisterHandlers() {
	s.jobs.Handle(recomputeKind, func(ctx context.Context, payload string) error {
		var t recomputeTask
		if err := json.Unmarshal([]byte(payload), &t); err != nil {
			return fmt.Errorf("recompute task: %w", err)
		}
		archive := t.Archive
		if archive == "*" {
			archive = ""
		}
		n, err := s.Recompute(ctx, t.TenantID, archive, t.Type)
		if n > 0 {
			s.log.Info("retention recomputed", "tenant", t.TenantID, "documents", n)
		}
		return err
	})
}

// Recompute recomputes the stored retention of a tenant's documents (of
// one archive and type, "" for any) and returns how many changed.
func (s *Service) Recompute(ctx context.Context, tenantID, archive, typ string) (int, error) {
	pol, _, err := s.loadPolicy(ctx, s.db.Reader(), tenantID)
	if err != nil {
		return 0, err
	}
	changed, after := 0, ""
	for {
		rows, err := s.db.Reader().RetentionRows(ctx, tenantID, archive, typ, after, s.batch)
		if err != nil {
			return changed, err
		}
		if len(rows) == 0 {
			return changed, nil
		}
		n, err := s.storeRetention(ctx, pol, rows)
		changed += n
		if err != nil {
			return changed, err
		}
		after = rows[len(rows)-1].ID
	}
}

// storeRetention computes rows' retention under pol and stores the ones
// that changed, in one transaction.
func (s *Service) storeRetention(ctx context.Context, pol retention.Policy, rows []store.RetentionRow) (int, error) {
	var ups []store.RetentionRow
	for _, r := range rows {
		if r.Restricted == "erasure" {
			continue // kept for the law in place of an erasure: final
		}
		res, err := pol.Until(r.Archive, r.Type, r.DocumentDate, r.KeepUntil)
		if err != nil {
			return 0, fmt.Errorf("document %s: %w", r.ID, err)
		}
		if res.Until != r.RetainUntil {
			r.RetainUntil = res.Until
			ups = append(ups, r)
		}
	}
	if len(ups) == 0 {
		return 0, nil
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		for _, r := range ups {
			// A document changed meanwhile got its retention from that change.
			if _, err := tx.SetRetainUntil(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return len(ups), err
}

// LawUntil is the last day the law alone keeps a document: for the legal
// archive the period of the tenant's contract (or the short one without),
// without the tenant's own rules or a reviewer's extension; "" for every
// other archive. An erasure request is refused (the document restricted
// instead) only until then.
func (s *Service) LawUntil(ctx context.Context, tenantID, archive, typ, documentDate string) (string, error) {
	if archive != retention.Legal {
		return "", nil
	}
	pol, _, err := s.loadPolicy(ctx, s.db.Reader(), tenantID)
	if err != nil {
		return "", err
	}
	pol.Rules = nil
	res, err := pol.Until(archive, typ, documentDate, "")
	return res.Until, err
}
