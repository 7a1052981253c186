package app

import (
	"context"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/web"
)

// portal builds the web portal and operator console (UI-1).
func (a *App) portal() (*web.Web, error) {
	return web.New(web.Deps{Logger: a.log, Auth: a.Auth, Tenants: a.Tenants, Trail: a.Trail, Documents: a.Documents, Archive: a.Archive,
		GDPR: a.GDPR, Messages: a.Messages, Access: a.Access, Console: console{a}, CheckJSON: a.checkJSON,
		OperatorIdle: a.cfg.Auth.OperatorIdleTimeout, Environment: string(a.cfg.Environment), Now: a.now})
}

// console is the app's state as the operator console shows it.
type console struct{ a *App }

// wafDays is how many days the console's chart of WAF blocks covers, and
// wafScan how many audit entries it reads for it at most.
const (
	wafDays = 14
	wafScan = 5000
)

func (c console) Status(ctx context.Context, p authz.Principal) (web.ConsoleStatus, error) {
	a := c.a
	audit.Describe(ctx, audit.Description{ResourceType: "console"})
	d := authz.Decide(p, authz.ConsoleRead, authz.Resource{}, a.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return web.ConsoleStatus{}, problem.Forbidden("forbidden", "The console is for operators.")
	}
	st := web.ConsoleStatus{Sealed: a.Keys.Sealed(), KeyProvider: a.cfg.Keys.Provider}
	jobs, err := a.JobStatus(ctx)
	if err != nil {
		return st, err
	}
	for _, j := range jobs {
		st.Jobs = append(st.Jobs, web.Job{Name: j.Name, LastFinished: j.LastFinished, LastStatus: j.LastStatus, NextRun: j.NextRun})
	}
	b, err := a.BackupStatus(ctx, 5)
	if err != nil {
		return st, err
	}
	for _, r := range b.Backups {
		var names []string
		for _, t := range r.Targets {
			names = append(names, t.Name)
		}
		st.Backups = append(st.Backups, web.Backup{ID: r.ID, Finished: r.CreatedAt.Add(r.Duration), Targets: strings.Join(names, ", "),
			OK: r.Status == "ok", Bytes: r.Stored})
	}
	for _, r := range b.RestoreTests {
		st.RestoreTests = append(st.RestoreTests, web.RestoreTest{Target: r.Target, Finished: r.FinishedAt, OK: r.OK, Rows: r.Rows})
	}
	blocks, err := a.Guard.List(ctx)
	if err != nil {
		return st, err
	}
	for _, e := range blocks {
		st.Blocks = append(st.Blocks, web.Block{Target: e.Target, Kind: e.Kind, Until: e.Until, Reason: e.Reason})
	}
	if st.WAFBlocks, err = c.wafPerDay(ctx); err != nil {
		return st, err
	}
	run, ok, err := a.LastDoctorRun(ctx)
	if err != nil {
		return st, err
	}
	if ok {
		st.Doctor = &web.DoctorRun{RanAt: run.RanAt, Findings: run.Findings}
	}
	return st, nil
}

// wafPerDay counts the platform chain's WAF refusals per day (Stockholm
// time) over the last wafDays days.
func (c console) wafPerDay(ctx context.Context) ([]web.DayCount, error) {
	a := c.a
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		loc = time.UTC
	}
	now := a.now().In(loc)
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -(wafDays - 1))
	days := make([]web.DayCount, wafDays)
	for i := range days {
		days[i].Day = first.AddDate(0, 0, i)
	}
	err = a.eachWAFBlock(ctx, audit.Filter{From: first}, wafScan, func(it audit.View) {
		t := it.Time.In(loc)
		i := int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc).Sub(first).Hours() / 24)
		if i >= 0 && i < wafDays {
			days[i].Count++
		}
	})
	return days, err
}

// eachWAFBlock calls fn with the platform chain's WAF refusals that match
// f (its time bounds), reading at most about max entries.
func (a *App) eachWAFBlock(ctx context.Context, f audit.Filter, max int, fn func(audit.View)) error {
	f.Action = "guard.waf.block"
	cursor := ""
	for seen := 0; seen < max; {
		items, next, err := a.Trail.Query(ctx, audit.Platform, f, cursor, 500)
		if err != nil {
			return err
		}
		for _, it := range items {
			fn(it)
		}
		seen += len(items)
		if next == "" {
			return nil
		}
		cursor = next
	}
	return nil
}
