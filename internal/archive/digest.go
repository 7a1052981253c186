package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/retention"
	"github.com/valvhq/valv/internal/store"
)

// Digest is the daily review digest of one tenant (RET-4): counts and
// document types only, never content.
type Digest struct {
	Organisation string
	Date         string
	Due          int
	Overdue      int
	Types        []TypeCount
	Link         string
}

// TypeCount is how many documents of a type are due.
type TypeCount struct {
	Type string
	Due  int
}

// Mailer sends the digest (the app's mailer).
type Mailer interface {
	ReviewDigest(ctx context.Context, to []string, lang string, d Digest) error
}

// maxDigestTypes bounds the types a digest lists.
const maxDigestTypes = 20

type digestState struct {
	Date string          `json:"date"`
	Sent map[string]bool `json:"sent"`
}

// SendDigests mails each tenant's reviewers how many documents are due for
// review, once per run (a resumed run skips the tenants already mailed).
// It returns how many tenants were mailed.
func (s *Service) SendDigests(ctx context.Context, run *jobs.Run) (int, error) {
	st := digestState{Date: retention.Today(s.now()), Sent: map[string]bool{}}
	if run != nil && run.State != "" {
		if err := json.Unmarshal([]byte(run.State), &st); err != nil {
			return 0, fmt.Errorf("review digest: saved progress: %w", err)
		}
	}
	counts, err := s.db.Reader().DueReviews(ctx, st.Date)
	if err != nil {
		return 0, fmt.Errorf("review digest: count due reviews: %w", err)
	}
	byTenant := map[string][]store.DueReviewCount{}
	var order []string
	for _, c := range counts {
		if _, ok := byTenant[c.TenantID]; !ok {
			order = append(order, c.TenantID)
		}
		byTenant[c.TenantID] = append(byTenant[c.TenantID], c)
	}
	sent := 0
	var errs []error
	for _, tenant := range order {
		if st.Sent[tenant] {
			continue
		}
		if err := s.digestTenant(ctx, tenant, st.Date, byTenant[tenant]); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenant, err))
			continue
		}
		sent++
		st.Sent[tenant] = true
		if run != nil {
			b, _ := json.Marshal(st)
			if err := s.db.Write(ctx, func(tx *store.Tx) error { return run.Save(ctx, tx, string(b)) }); err != nil {
				return sent, err
			}
		}
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("review digest: %d tenants not mailed: %w", len(errs), errs[0])
	}
	return sent, nil
}

func (s *Service) digestTenant(ctx context.Context, tenant, date string, counts []store.DueReviewCount) error {
	name, tenantLang, err := s.dir.Tenant(ctx, tenant)
	if err != nil {
		return err
	}
	d := Digest{Organisation: name, Date: date, Link: s.reviewLink()}
	for _, c := range counts {
		d.Due += c.Due
		d.Overdue += c.Overdue
		d.Types = append(d.Types, TypeCount{Type: c.Type, Due: c.Due})
	}
	slices.SortFunc(d.Types, func(a, b TypeCount) int { return b.Due - a.Due })
	if len(d.Types) > maxDigestTypes {
		d.Types = d.Types[:maxDigestTypes]
	}
	_, row, err := s.loadPolicy(ctx, s.db.Reader(), tenant)
	if err != nil {
		return err
	}
	users, err := s.dir.Users(ctx, tenant)
	if err != nil {
		return err
	}
	byLang := map[string][]string{}
	for _, u := range users {
		if !u.Active || u.Email == "" {
			continue
		}
		named := slices.Contains(row.Reviewers, u.ID)
		if len(row.Reviewers) > 0 && !named {
			continue
		}
		if len(row.Reviewers) == 0 && u.Role != authz.Owner && u.Role != authz.Admin {
			continue
		}
		lang := u.Language
		if lang == "" {
			lang = tenantLang
		}
		byLang[lang] = append(byLang[lang], u.Email)
	}
	for lang, to := range byLang {
		if err := s.mail.ReviewDigest(ctx, to, lang, d); err != nil {
			return err
		}
	}
	s.log.Info("review digest sent", "tenant", tenant, "due", d.Due, "recipients", len(byLang))
	return nil
}
