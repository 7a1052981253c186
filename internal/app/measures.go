package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/guard"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/report"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
)

// The measures report (EVD-1) is read from the running installation: the
// configuration it runs with, the key records, the tenant's accounts and
// keys, the backup and job records, the audit chains. Nothing in it is
// typed in.

// MaxReportDays bounds a report's period.
const MaxReportDays = 366

// MeasuresRequest says which tenant and period a report covers.
type MeasuresRequest struct {
	// Tenant is a tenant's id or slug; users' own tenant when empty.
	Tenant string
	// From and To bound the period (default: the last 30 days).
	From, To time.Time
}

// Measures makes a tenant's measures report.
func (a *App) Measures(ctx context.Context, p authz.Principal, req MeasuresRequest) (report.Measures, error) {
	if p.Kind == authz.Anonymous {
		audit.Decision(ctx, authz.Decide(p, authz.ReportMeasures, authz.Resource{}, a.now()))
		return report.Measures{}, auth.ErrUnauthenticated
	}
	row, err := a.reportTenant(ctx, p, req.Tenant)
	if errors.Is(err, tenant.ErrNotFound) {
		// A probe of another tenant (or a wrong name) is a denial on the
		// prober's own trail.
		audit.Decision(ctx, authz.Decision{Allowed: false, Reason: "no such tenant for this principal"})
	}
	if err != nil {
		return report.Measures{}, err
	}
	audit.Describe(ctx, audit.Description{TenantID: row.ID, ResourceType: "measures_report", ResourceID: row.ID})
	d := authz.Decide(p, authz.ReportMeasures, authz.Resource{TenantID: row.ID}, a.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return report.Measures{}, problem.Forbidden("forbidden", "Owners, admins and auditors of the organisation, and operators, can get its measures report.")
	}
	now := a.now().UTC().Truncate(time.Second)
	to, from := req.To, req.From
	if to.IsZero() || to.After(now) {
		to = now
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	if !from.Before(to) || to.Sub(from) > MaxReportDays*24*time.Hour {
		return report.Measures{}, problem.Invalid("invalid_period", "The period must start before it ends and last at most a year.",
			problem.Field("/from", "invalid_period", "Give from and to at most 366 days apart."))
	}
	st, err := a.Tenants.SettingsOf(ctx, row.ID)
	if err != nil {
		return report.Measures{}, err
	}
	m := report.Measures{Format: report.FormatV1, Installation: a.Installation.ID, Environment: string(a.cfg.Environment), Version: a.version,
		Tenant: report.Tenant{ID: row.ID, Slug: row.Slug, Name: row.Name}, Generated: now, PeriodFrom: from.UTC(), PeriodTo: to.UTC()}
	steps := []func() error{
		func() error { return a.measureTransport(&m.Transport) },
		func() error { return a.measureEncryption(ctx, row.ID, &m.Encryption) },
		func() error { return a.measureIdentity(ctx, row.ID, st, &m.Identity) },
		func() error { return a.measureKeys(ctx, row.ID, &m.APIKeys) },
		func() error { return a.measureBackups(ctx, &m.Backups) },
		func() error { return a.measureAudit(ctx, row.ID, st, &m.Audit) },
		func() error { return a.measureRetention(ctx, row.ID, &m.Retention) },
		func() error { return a.measureFirewall(ctx, from, to, &m.Firewall) },
		func() error { m.Scanner = a.measureScanner(ctx); return nil },
		func() error { return a.measureAccess(ctx, row.ID, st, from, to, &m.OperatorAccess) },
		func() error { return a.measureRequests(ctx, row.ID, from, to, &m.Requests) },
		func() error { return a.measureResidency(ctx, row.ID, st.Region, &m.Residency) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return report.Measures{}, fmt.Errorf("measures report: %w", err)
		}
	}
	return m, nil
}

// reportTenant finds the tenant a report is about: the user's own, or the
// one an operator names by id or slug.
func (a *App) reportTenant(ctx context.Context, p authz.Principal, ref string) (store.TenantRow, error) {
	if p.TenantID != "" {
		if ref != "" && ref != p.TenantID {
			row, err := a.db.Reader().Tenant(ctx, p.TenantID)
			if err != nil || ref != row.Slug {
				return store.TenantRow{}, tenant.ErrNotFound
			}
		}
		ref = p.TenantID
	}
	if ref == "" {
		return store.TenantRow{}, problem.Invalid("tenant_required", "Name the organisation the report is about.",
			problem.Field("/tenant", "required", "Give the tenant's id or slug."))
	}
	row, err := a.db.Reader().Tenant(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		row, err = a.db.Reader().TenantBySlug(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.TenantRow{}, tenant.ErrNotFound
	}
	return row, err
}

// ptime is t, or nil for the zero time ("never").
func ptime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (a *App) measureTransport(out *report.Transport) error {
	out.MinVersion = a.cfg.TLS.MinVersion
	out.Versions = []string{"TLS 1.3"}
	if a.cfg.TLS.MinVersion != "1.3" {
		out.Versions = []string{"TLS 1.2", "TLS 1.3"}
		for _, id := range server.TLSConfig(tls.Certificate{}, a.cfg.TLS.MinVersion).CipherSuites {
			out.CipherSuites = append(out.CipherSuites, tls.CipherSuiteName(id))
		}
	}
	for _, id := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		out.CipherSuites = append(out.CipherSuites, tls.CipherSuiteName(id))
	}
	out.HSTS = server.HSTS
	leaf, selfSigned, err := a.certificateInUse()
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	if leaf != nil {
		sum := sha256.Sum256(leaf.Raw)
		out.Certificate = report.Certificate{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter.UTC(),
			SelfSigned: selfSigned, SHA256: hex.EncodeToString(sum[:])}
	}
	return nil
}

func (a *App) measureEncryption(ctx context.Context, tenantID string, out *report.Encryption) error {
	out.Algorithm = "AES-256-GCM (Tink AEAD), associated data binding each value to its tenant, table, row and field"
	out.Hierarchy = []string{"root key", "tenant keyset (wrapped by the root key, rotatable)", "sealed values and file chunks"}
	out.BlindIndex = "HMAC-SHA256 (Tink PRF) over the normalised identifier, per-tenant key"
	st, err := a.Keys.Status(ctx)
	if err != nil {
		return err
	}
	out.RootProvider = st.Provider
	out.KeyHolders, out.Threshold = 1, 1
	if st.Shares > 0 {
		out.KeyHolders, out.Threshold = st.Shares, st.Threshold
	}
	rec, err := a.db.Reader().RootKey(ctx)
	if err != nil {
		return err
	}
	created := rec.CreatedAt
	if !rec.RotatedAt.IsZero() {
		created = rec.RotatedAt
	}
	out.RootKeyCreated = ptime(created)
	n, since, err := a.Keys.KeySummary(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("tenant keys: %w", err)
	}
	out.TenantKeys, out.TenantKeyCreated = n, ptime(since)
	return nil
}

func (a *App) measureIdentity(ctx context.Context, tenantID string, st tenant.Settings, out *report.Identity) error {
	out.RequireTwoFactor = st.Require2FA
	out.IdleTimeoutSeconds = int64(time.Duration(st.IdleTimeout) / time.Second)
	out.PasswordHash = "argon2id (m=19456 KiB, t=2, p=1), per-user salt"
	return a.eachAccountFactors(ctx, tenantID, func(f accountFactors) {
		if f.status == "disabled" {
			return
		}
		out.Users++
		if f.second() {
			out.UsersWithSecondFactor++
		}
		if f.passkey {
			out.UsersWithPasskey++
		}
		if f.admin() {
			out.Admins++
			if f.second() {
				out.AdminsWithSecondFactor++
			}
		}
	})
}

// accountFactors is one account's role, status and second factors.
type accountFactors struct {
	role, status  string
	totp, passkey bool
}

func (f accountFactors) second() bool { return f.totp || f.passkey }
func (f accountFactors) admin() bool {
	return f.role == string(authz.Owner) || f.role == string(authz.Admin)
}

// eachAccountFactors calls fn with every account of a tenant (the report's
// coverage figures and the doctor's check read the same facts).
func (a *App) eachAccountFactors(ctx context.Context, tenantID string, fn func(accountFactors)) error {
	after := ""
	for {
		rows, err := a.db.Reader().Accounts(ctx, tenantID, after, 500)
		if err != nil {
			return err
		}
		for _, r := range rows {
			keys, err := a.db.Reader().Passkeys(ctx, tenantID, r.ID)
			if err != nil {
				return err
			}
			fn(accountFactors{role: r.Role, status: r.Status, totp: r.TOTPEnabled, passkey: len(keys) > 0})
		}
		if len(rows) < 500 {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

func (a *App) measureKeys(ctx context.Context, tenantID string, out *report.APIKeys) error {
	rows, err := a.db.Reader().APIKeys(ctx, tenantID)
	if err != nil {
		return err
	}
	now := a.now()
	for _, k := range rows {
		if !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)) {
			continue
		}
		out.Active++
		var ips []string
		if json.Unmarshal([]byte(k.AllowedIPs), &ips) == nil && len(ips) > 0 {
			out.WithAllowlist++
		} else {
			out.WithoutAllowlist++
		}
		if !k.ExpiresAt.IsZero() {
			out.WithExpiry++
		}
	}
	return nil
}

// backupFacts is the newest backup and restore test of each target.
type backupFacts struct {
	lastBackup, lastTest, lastGoodTest map[string]time.Time
	testOK                             map[string]bool
}

func (a *App) backupFacts(ctx context.Context) (backupFacts, error) {
	f := backupFacts{lastBackup: map[string]time.Time{}, lastTest: map[string]time.Time{}, lastGoodTest: map[string]time.Time{}, testOK: map[string]bool{}}
	st, err := a.BackupStatus(ctx, 200)
	if err != nil {
		return f, err
	}
	for _, b := range st.Backups {
		for _, t := range b.Targets {
			if t.OK && t.Verified && b.CreatedAt.After(f.lastBackup[t.Name]) {
				f.lastBackup[t.Name] = b.CreatedAt
			}
		}
	}
	for _, rt := range st.RestoreTests {
		if rt.FinishedAt.After(f.lastTest[rt.Target]) {
			f.lastTest[rt.Target], f.testOK[rt.Target] = rt.FinishedAt, rt.OK
		}
		if rt.OK && rt.FinishedAt.After(f.lastGoodTest[rt.Target]) {
			f.lastGoodTest[rt.Target] = rt.FinishedAt
		}
	}
	return f, nil
}

func (a *App) measureBackups(ctx context.Context, out *report.Backups) error {
	c := a.cfg.Backup
	out.IntervalSeconds, out.KeepSeconds = int64(c.Interval/time.Second), int64(c.Keep/time.Second)
	out.RestoreTestIntervalSeconds = int64(c.RestoreTestInterval / time.Second)
	f, err := a.backupFacts(ctx)
	if err != nil {
		return err
	}
	out.Targets = []report.BackupTarget{}
	for _, t := range c.Targets {
		out.Targets = append(out.Targets, report.BackupTarget{Name: t.Name, Type: t.Type, Region: t.Region,
			LastBackup: ptime(f.lastBackup[t.Name]), LastRestoreTest: ptime(f.lastTest[t.Name]), RestoreTestOK: f.testOK[t.Name],
			LastSuccessfulRestoreTest: ptime(f.lastGoodTest[t.Name])})
	}
	return nil
}

// jobStatus returns a job's status (zero when it never ran).
func (a *App) jobStatus(ctx context.Context, name string) (lastFinished time.Time, status string, err error) {
	list, err := a.JobStatus(ctx)
	if err != nil {
		return time.Time{}, "", err
	}
	for _, j := range list {
		if j.Name == name {
			return j.LastFinished, j.LastStatus, nil
		}
	}
	return time.Time{}, "", nil
}

func (a *App) measureAudit(ctx context.Context, tenantID string, st tenant.Settings, out *report.AuditTrail) error {
	out.PayloadHistory, out.RetentionDays = st.PayloadHistory, st.AuditRetentionDays
	chains, err := a.db.Reader().AuditChains(ctx)
	if err != nil {
		return err
	}
	out.Entries = chains[tenantID]
	at, status, err := a.jobStatus(ctx, JobAuditVerify)
	if err != nil {
		return err
	}
	out.LastVerified, out.Verified = ptime(at), !at.IsZero() && status == "ok"
	cps, err := a.db.Reader().AuditCheckpoints(ctx, tenantID)
	if err != nil {
		return err
	}
	if n := len(cps); n > 0 {
		newest := slices.MaxFunc(cps, func(x, y store.AuditCheckpointRow) int { return int(x.Size - y.Size) })
		out.Checkpoint, out.CheckpointSize, out.CheckpointTime = newest.Note, newest.Size, ptime(newest.Time)
	}
	keys, err := a.Trail.VerifierKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		out.VerifierKey = keys[0]
	}
	return nil
}

func (a *App) measureRetention(ctx context.Context, tenantID string, out *report.Retention) error {
	out.LegalYears, out.StandardMonths = a.cfg.Retention.LegalYears, a.cfg.Retention.StandardMonths
	pol, err := a.db.Reader().RetentionPolicy(ctx, tenantID)
	switch {
	case err == nil:
		out.LegalArchive = pol.Contract
		if pol.StandardMonths > 0 {
			out.StandardMonths = pol.StandardMonths
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	rules, err := a.db.Reader().RetentionRules(ctx, tenantID)
	if err != nil {
		return err
	}
	out.Rules = []report.RetentionRule{}
	for _, r := range rules {
		out.Rules = append(out.Rules, report.RetentionRule{Type: r.Type, Archive: r.Archive, Months: r.Months})
	}
	holds, err := a.db.Reader().LegalHolds(ctx, tenantID, false)
	if err != nil {
		return err
	}
	out.LegalHolds = len(holds)
	at, _, err := a.jobStatus(ctx, JobCull)
	out.LastCull = ptime(at)
	return err
}

func (a *App) measureFirewall(ctx context.Context, from, to time.Time, out *report.Firewall) error {
	g := a.cfg.Guard
	mode := "blocking"
	if g.InboundThreshold >= 100 {
		mode = "detection"
	}
	*out = report.Firewall{Mode: mode, RuleSet: "OWASP Core Rule Set 4 (Coraza), tuned for Valv's API", ParanoiaLevel: g.ParanoiaLevel,
		InboundThreshold: g.InboundThreshold, Detection: guard.CorpusDetection, WindowSeconds: int64(g.Window / time.Second),
		AddressLimit: g.AddressLimit, KeyLimit: g.KeyLimit, UserLimit: g.UserLimit, TenantLimit: g.TenantLimit, AutoBlock: g.BlockAfter > 0}
	return a.eachWAFBlock(ctx, audit.Filter{From: from, To: to}, 100*wafScan, func(audit.View) { out.RefusedInPeriod++ })
}

// versioner is a scanner that tells its version (clamd).
type versioner interface {
	Version(ctx context.Context) (string, error)
}

func (a *App) measureScanner(ctx context.Context) report.Scanner {
	out := report.Scanner{Enabled: a.cfg.Scan.Address != "", Policy: a.cfg.Scan.Policy}
	sc, err := a.scanner()
	if err != nil || sc == nil {
		return out
	}
	if v, ok := sc.(versioner); ok {
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if line, err := v.Version(vctx); err == nil {
			out.Reachable, out.Version = true, line
		}
	}
	return out
}

func (a *App) measureAccess(ctx context.Context, tenantID string, st tenant.Settings, from, to time.Time, out *report.OperatorAccess) error {
	out.ConsentRequired = st.OperatorAccessConsent
	out.Accesses = []report.AccessRecord{}
	after := ""
	for {
		rows, err := a.db.Reader().AccessGrants(ctx, store.AccessGrantFilter{TenantID: tenantID}, after, 500)
		if err != nil {
			return err
		}
		for _, r := range rows {
			// In the period: asked for in it, or in force during it.
			end := r.ExpiresAt
			if !r.RevokedAt.IsZero() && (end.IsZero() || r.RevokedAt.Before(end)) {
				end = r.RevokedAt
			}
			if r.CreatedAt.After(to) || (r.CreatedAt.Before(from) && (end.IsZero() || end.Before(from))) {
				continue
			}
			out.Accesses = append(out.Accesses, report.AccessRecord{ID: r.ID, Scope: r.Scope, Status: accessState(r, a.now()),
				BreakGlass: r.BreakGlass, Requested: r.CreatedAt.UTC(), Expires: ptime(r.ExpiresAt)})
		}
		if len(rows) < 500 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	slices.SortFunc(out.Accesses, func(x, y report.AccessRecord) int { return x.Requested.Compare(y.Requested) })
	return nil
}

// accessState names where a request stands.
func accessState(r store.AccessGrantRow, now time.Time) string {
	switch {
	case !r.RevokedAt.IsZero():
		return "revoked"
	case r.Approval == "denied" || r.Consent == "refused":
		return "denied"
	case r.Approval == "pending" || r.Consent == "pending":
		return "pending"
	case !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now):
		return "expired"
	case !r.ActivatedAt.IsZero():
		return "active"
	default:
		return r.Approval
	}
}

func (a *App) measureRequests(ctx context.Context, tenantID string, from, to time.Time, out *report.Requests) error {
	out.Open = []report.OpenRequest{}
	today := a.now().UTC().Format(time.DateOnly)
	before := ""
	for {
		rows, err := a.db.Reader().SubjectRequests(ctx, tenantID, "", before, 500)
		if err != nil {
			return err
		}
		for _, r := range rows {
			switch r.Status {
			case "completed":
				if !r.CompletedAt.Before(from) && !r.CompletedAt.After(to) {
					out.CompletedInPeriod++
				}
			default: // queued, running, retrying, failed: still owed
				deadline, _ := time.Parse(time.DateOnly, r.Deadline)
				out.Open = append(out.Open, report.OpenRequest{Kind: r.Kind, Received: r.ReceivedAt.UTC(), Deadline: deadline,
					Overdue: r.Deadline < today})
			}
		}
		if len(rows) < 500 {
			break
		}
		before = rows[len(rows)-1].ID
	}
	slices.SortFunc(out.Open, func(x, y report.OpenRequest) int { return x.Deadline.Compare(y.Deadline) })
	return nil
}

func (a *App) measureResidency(ctx context.Context, tenantID, pin string, out *report.Residency) error {
	if !region.ValidPin(pin) {
		pin = region.EEA // what Allowed enforces for a missing or unknown pin
	}
	out.Pin = pin
	if pin == region.None {
		out.Pin = ""
	}
	add := func(kind, name, label string) {
		out.Locations = append(out.Locations, report.ResidencyTarget{Kind: kind, Name: name, Region: label, Country: region.Country(label),
			Allowed: region.Allowed(pin, label)})
	}
	add("storage", "database and files", a.cfg.Region)
	for _, t := range a.cfg.Backup.Targets {
		add("backup", t.Name, t.Region)
	}
	eps, err := a.db.Reader().Endpoints(ctx, tenantID, "")
	if err != nil {
		return err
	}
	for _, e := range eps {
		if e.State == "approved" || e.State == "pending" {
			add("endpoint", "endpoint "+e.ID, e.Region)
		}
	}
	return nil
}

// MeasuresFile makes a tenant's measures report in one format (json,
// html, pdf, or zip with all three) and signs it with the audit key.
func (a *App) MeasuresFile(ctx context.Context, p authz.Principal, tenantRef string, from, to time.Time, format, lang string) (report.File, error) {
	m, err := a.Measures(ctx, p, MeasuresRequest{Tenant: tenantRef, From: from, To: to})
	if err != nil {
		return report.File{}, err
	}
	if format == "zip" {
		return report.Bundle(ctx, m, lang, a.Trail)
	}
	return report.Render(ctx, m, format, lang, a.Trail)
}

// certificateInUse is the certificate the server serves; outside the
// server (the CLI), the one it would load, read without making one. A nil
// leaf means there is none yet.
func (a *App) certificateInUse() (leaf *x509.Certificate, selfSigned bool, err error) {
	if s := a.served.Load(); s != nil {
		return s.leaf, s.selfSigned, nil
	}
	leaf, selfSigned, err = server.ReadLeaf(a.cfg.TLS.CertFile, a.cfg.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, selfSigned, nil
	}
	return leaf, selfSigned, err
}
