package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/doctor"
	"github.com/valvhq/valv/internal/store"
)

// JobDoctor runs the doctor's checks on a schedule (EVD-2); its findings
// show in the operator console and in /metrics.
const JobDoctor = "doctor"

// doctorInterval is how often the scheduled doctor runs, and doctorKeep
// how many runs are kept.
const (
	doctorInterval = time.Hour
	doctorKeep     = 48
)

// DoctorRun is one run of the doctor's checks.
type DoctorRun struct {
	RanAt    time.Time        `json:"ran_at"`
	Worst    string           `json:"worst"`
	Findings []doctor.Finding `json:"findings"`
}

// Doctor gathers the facts, runs every check, records the run and updates
// the metrics.
func (a *App) Doctor(ctx context.Context) (DoctorRun, error) {
	var findings []doctor.Finding
	if f, err := a.doctorFacts(ctx); err != nil {
		// A check that cannot run is a finding, not silence: the console
		// and /metrics show it like any other.
		a.log.Error("doctor: facts could not be read", "error", err)
		findings = []doctor.Finding{{Check: "doctor_incomplete", Severity: doctor.Critical, Requirement: "EVD-2",
			Problem: "The checks could not run: " + err.Error() + ".",
			Fix:     "See the server log; fix what it names and run 'valv doctor' again."}}
	} else if findings = doctor.Check(f); findings == nil {
		findings = []doctor.Finding{}
	}
	run := DoctorRun{RanAt: a.now().UTC(), Worst: doctor.Worst(findings), Findings: findings}
	raw, err := json.Marshal(findings)
	if err != nil {
		return run, err
	}
	row := store.DoctorRun{ID: uuid.Must(uuid.NewV7()).String(), RanAt: run.RanAt, Node: a.Jobs.Node(), Worst: run.Worst, Findings: raw}
	if err := a.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertDoctorRun(ctx, row, doctorKeep) }); err != nil {
		return run, fmt.Errorf("doctor: record the run: %w", err)
	}
	a.doctorMetrics.set(run)
	return run, nil
}

// LastDoctorRun returns the newest recorded run; ok is false before the
// first.
func (a *App) LastDoctorRun(ctx context.Context) (run DoctorRun, ok bool, err error) {
	row, err := a.db.Reader().LatestDoctorRun(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return DoctorRun{}, false, nil
	}
	if err != nil {
		return DoctorRun{}, false, err
	}
	run = DoctorRun{RanAt: row.RanAt, Worst: row.Worst}
	if err := json.Unmarshal(row.Findings, &run.Findings); err != nil {
		return DoctorRun{}, false, fmt.Errorf("doctor: stored findings: %w", err)
	}
	return run, true, nil
}

func (a *App) doctorFacts(ctx context.Context) (doctor.Facts, error) {
	c := a.cfg
	now := a.now()
	f := doctor.Facts{Now: now, Production: c.Environment == config.Production, Installed: a.Installation.CreatedAt,
		TLSMinVersion: c.TLS.MinVersion, BackupInterval: c.Backup.Interval, RestoreTestInterval: c.Backup.RestoreTestInterval,
		StorageRegion: c.Region, WAFThreshold: c.Guard.InboundThreshold, ScannerConfigured: c.Scan.Address != "", ScanPolicy: c.Scan.Policy,
		VerifyInterval: c.Audit.VerifyInterval, MailTransport: c.Mail.Transport}
	st, err := a.Keys.Status(ctx)
	if err != nil {
		return f, err
	}
	f.KeyProvider, f.KeyHolders, f.Threshold = st.Provider, st.Shares, st.Threshold
	leaf, selfSigned, err := a.certificateInUse()
	if err != nil {
		return f, fmt.Errorf("server certificate: %w", err)
	}
	if leaf != nil {
		f.CertSelfSigned, f.CertNotAfter = selfSigned, leaf.NotAfter
	}
	bf, err := a.backupFacts(ctx)
	if err != nil {
		return f, err
	}
	for _, t := range c.Backup.Targets {
		f.Targets = append(f.Targets, doctor.Target{Name: t.Name, Region: t.Region, LastBackup: bf.lastBackup[t.Name], LastGoodRestoreTest: bf.lastGoodTest[t.Name]})
	}
	if f.Pin, err = a.strictestPin(ctx); err != nil {
		return f, err
	}
	f.ScannerReachable = a.measureScanner(ctx).Reachable
	if f.TenantsWeak2FA, err = a.tenantsWeak2FA(ctx); err != nil {
		return f, err
	}
	at, status, err := a.jobStatus(ctx, JobAuditVerify)
	if err != nil {
		return f, err
	}
	f.AuditLastVerify, f.AuditVerified = at, status == "ok"
	f.ClockSkew, f.ClockSkewSource, err = a.clockSkew(ctx)
	return f, err
}

// tenantsWeak2FA lists the active tenants that do not require a second
// factor and have an owner or admin without one.
func (a *App) tenantsWeak2FA(ctx context.Context) ([]string, error) {
	var out []string
	after := ""
	for {
		rows, err := a.db.Reader().Tenants(ctx, after, 500)
		if err != nil {
			return nil, err
		}
		for _, t := range rows {
			if t.Status != "active" {
				continue
			}
			st, err := a.Tenants.SettingsOf(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			if st.Require2FA {
				continue
			}
			weak := false
			err = a.eachAccountFactors(ctx, t.ID, func(f accountFactors) {
				weak = weak || (f.status == "active" && f.admin() && !f.second())
			})
			if err != nil {
				return nil, err
			}
			if weak {
				out = append(out, t.Slug)
			}
		}
		if len(rows) < 500 {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// clockSkew compares this machine's clock with the database server's
// (PostgreSQL), and with the newest platform audit entry: an entry from
// the future means the clock went back.
func (a *App) clockSkew(ctx context.Context) (time.Duration, string, error) {
	before := a.now()
	dbTime, ok, err := a.db.ServerTime(ctx)
	if err != nil {
		return 0, "", err
	}
	if ok {
		local := before.Add(a.now().Sub(before) / 2)
		return dbTime.Sub(local), "the database server's clock", nil
	}
	chains, err := a.db.Reader().AuditChains(ctx)
	if err != nil {
		return 0, "", err
	}
	next := chains[audit.Platform]
	if next <= 0 {
		return 0, "", nil
	}
	e, err := a.db.Reader().AuditEntry(ctx, audit.Platform, next-1)
	if errors.Is(err, store.ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	if ahead := e.Time.Sub(a.now()); ahead > 0 {
		return ahead, "the newest audit entry's time (the clock went back)", nil
	}
	return 0, "", nil
}

// doctorMetrics are the doctor's gauges in /metrics.
type doctorMetrics struct {
	findings *prometheus.GaugeVec
	last     prometheus.Gauge
}

func newDoctorMetrics(reg *prometheus.Registry) *doctorMetrics {
	m := &doctorMetrics{
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valv_doctor_findings", Help: "Findings of the last doctor run, by severity (info, warning, critical)."}, []string{"severity"}),
		last:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "valv_doctor_last_run_timestamp_seconds", Help: "When the doctor's checks last ran."}),
	}
	for _, c := range []prometheus.Collector{m.findings, m.last} {
		_ = reg.Register(c)
	}
	return m
}

func (m *doctorMetrics) set(run DoctorRun) {
	if m == nil {
		return
	}
	m.last.Set(float64(run.RanAt.Unix()))
	for sev, n := range doctor.Count(run.Findings) {
		m.findings.WithLabelValues(sev).Set(float64(n))
	}
}
