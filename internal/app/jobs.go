package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/notify"
)

// Valv's background work runs through the jobs scheduler, with leases in
// the database: with several nodes each run happens once, and a run a
// crashed node left is resumed by another.

// Job names.
const (
	JobAuditCheckpoint = "audit.checkpoint"
	JobAuditVerify     = "audit.verify"
	JobAuditPrune      = "audit.prune"
	JobUploadCleanup   = "documents.cleanup"
	JobCull            = "retention.cull"
	JobReviewDigest    = "retention.digest"
	JobQueueExpire     = "jobs.expire"
	JobTerminate       = "tenants.terminate"
	JobDeliver         = "messages.deliver"
)

// RegisterJobs registers Valv's scheduled work (once per App).
func (a *App) RegisterJobs(ctx context.Context, sinks []audit.Sink) error {
	if a.jobsRegistered {
		return nil
	}
	a.Archive.RegisterHandlers()
	list := []jobs.Job{
		{Name: JobAuditCheckpoint, Every: a.cfg.Audit.CheckpointInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
			return a.CheckpointAudit(ctx, sinks)
		}},
		{Name: JobAuditVerify, Every: a.cfg.Audit.VerifyInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
			_, err := a.VerifyAudit(ctx)
			return err
		}},
		{Name: JobAuditPrune, Every: 24 * time.Hour, Run: func(ctx context.Context, _ *jobs.Run) error {
			return a.PruneAudit(ctx)
		}},
		{Name: JobUploadCleanup, Every: time.Hour, Run: func(ctx context.Context, _ *jobs.Run) error {
			n, err := a.Documents.Cleanup(ctx)
			if n > 0 {
				a.log.Info("removed abandoned uploads", "files", n)
			}
			return err
		}},
		{Name: JobCull, Every: a.cfg.Retention.CullInterval, Run: func(ctx context.Context, r *jobs.Run) error {
			_, err := a.Cull(ctx, r, archive.CullOptions{})
			return err
		}},
		{Name: JobReviewDigest, At: a.cfg.Retention.DigestAt, Run: func(ctx context.Context, r *jobs.Run) error {
			if a.Keys.Sealed() {
				return nil
			}
			_, err := a.Archive.SendDigests(a.systemContext(ctx, "retention.digest"), r)
			return err
		}},
		{Name: JobTerminate, Every: time.Hour, Run: func(ctx context.Context, _ *jobs.Run) error {
			if a.Keys.Sealed() {
				return nil
			}
			_, err := a.GDPR.RunTerminations(a.systemContext(ctx, "tenant.terminate"))
			return err
		}},
		{Name: JobQueueExpire, Every: 24 * time.Hour, Run: func(ctx context.Context, _ *jobs.Run) error {
			return a.Jobs.ExpireQueue(ctx, 30*24*time.Hour)
		}},
	}
	list = append(list, jobs.Job{Name: JobDeliver, Every: a.cfg.Messages.Interval, Run: func(ctx context.Context, _ *jobs.Run) error {
		_, err := a.DeliverMessages(ctx)
		return err
	}})
	list = append(list,
		jobs.Job{Name: JobGuardSummary, Every: a.cfg.Guard.NotifyInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
			_, err := a.SendGuardSummary(ctx)
			return err
		}},
		jobs.Job{Name: JobGuardMaintain, Every: 10 * time.Minute, Run: func(ctx context.Context, _ *jobs.Run) error {
			return a.Guard.Maintain(ctx)
		}})
	list = append(list, a.backupJobs()...)
	list = append(list, jobs.Job{Name: JobDoctor, Every: doctorInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
		if a.Keys.Sealed() {
			return nil
		}
		_, err := a.Doctor(ctx)
		return err
	}})
	for _, j := range list {
		if err := a.Jobs.Register(ctx, j); err != nil {
			return err
		}
	}
	a.jobsRegistered = true
	return nil
}

// Cull runs culling as Valv's job within run (nil: a one-off run).
func (a *App) Cull(ctx context.Context, run *jobs.Run, o archive.CullOptions) (archive.CullResult, error) {
	if a.Keys.Sealed() {
		return archive.CullResult{}, errors.New("valv is sealed")
	}
	ctx = a.systemContext(ctx, string(authz.RetentionCull))
	return a.Archive.Cull(ctx, authz.PrincipalFrom(ctx), run, o)
}

// CullNow runs culling by hand (valv retention run) as principal p under
// the job's lease, so it never runs beside the scheduled run.
func (a *App) CullNow(ctx context.Context, p authz.Principal, o archive.CullOptions) (archive.CullResult, error) {
	if a.Keys.Sealed() {
		return archive.CullResult{}, errors.New("valv is sealed")
	}
	if err := a.RegisterJobs(ctx, nil); err != nil {
		return archive.CullResult{}, err
	}
	ctx = a.systemContext(ctx, string(authz.RetentionCull))
	ctx = authz.WithPrincipal(ctx, p)
	if o.DryRun {
		return a.Archive.Cull(ctx, p, nil, o)
	}
	var res archive.CullResult
	err := a.Jobs.RunNow(ctx, JobCull, func(ctx context.Context, r *jobs.Run) error {
		var err error
		res, err = a.Archive.Cull(ctx, p, r, o)
		return err
	})
	if errors.Is(err, jobs.ErrBusy) {
		return res, errors.New("culling is running on another node now; try again when it has finished")
	}
	return res, err
}

// directory is the archive service's view of tenants and their users.
type directory struct{ a *App }

func (d directory) Users(ctx context.Context, tenantID string) ([]archive.User, error) {
	var out []archive.User
	cursor := ""
	for {
		accs, next, err := d.a.Auth.ListAccounts(ctx, tenantID, cursor, 500)
		if err != nil {
			return nil, err
		}
		for _, acc := range accs {
			out = append(out, archive.User{ID: acc.ID, Email: acc.Email, Role: authz.Role(acc.Role), Active: acc.Status == "active", Language: acc.Language})
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

func (d directory) Tenant(ctx context.Context, tenantID string) (string, string, error) {
	pol, err := d.a.Tenants.LoginPolicy(ctx, tenantID)
	if err != nil {
		return "", "", fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	st, err := d.a.Tenants.SettingsOf(ctx, tenantID)
	if err != nil {
		return "", "", err
	}
	return pol.Name, st.Language, nil
}

// ReviewDigest mails a tenant's review digest.
func (m mailer) ReviewDigest(ctx context.Context, to []string, lang string, d archive.Digest) error {
	data := notify.ReviewDigest{Organisation: d.Organisation, Date: d.Date, Due: d.Due, Overdue: d.Overdue, Link: d.Link}
	for _, t := range d.Types {
		data.Types = append(data.Types, notify.ReviewCount{Type: t.Type, Due: t.Due})
	}
	return m.deliver(ctx, to, notify.TemplateReviewDigest, lang, data)
}

// subjects gives the archive service subject tokens through the document
// service (built after it).
type subjects struct{ a *App }

func (s subjects) SubjectToken(ctx context.Context, tenantID string, sub document.Subject) (document.Subject, []byte, error) {
	return s.a.Documents.SubjectToken(ctx, tenantID, sub)
}

// JobStatus lists the scheduled jobs and their last runs.
func (a *App) JobStatus(ctx context.Context) ([]jobs.Status, error) {
	return jobs.List(ctx, a.db, a.now())
}
