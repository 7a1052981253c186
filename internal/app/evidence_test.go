package app

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/doctor"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/report"
	"github.com/valvhq/valv/internal/synth"
)

// withEvidenceSetup is an installation with two backup targets in
// Sweden and its storage region stated.
func withEvidenceSetup(dir string) serverOption {
	return func(c *config.Config, _ *Options) {
		c.Region = "se-sto"
		c.Documents.AllowUnscanned = true
		c.Backup.Targets = []config.BackupTarget{{Name: "primary", Type: "dir", Region: "se-sto", Path: filepath.Join(dir, "a")},
			{Name: "offsite", Type: "dir", Region: "eu-north-1", Path: filepath.Join(dir, "b")}}
	}
}

// TestMeasuresReport: the report is read from the running installation
// (golden JSON), it is signed, and a changed byte is detected (EVD-1).
func TestMeasuresReport(t *testing.T) {
	ts := startServer(t, withEvidenceSetup(t.TempDir()))
	ctx := context.Background()
	op := ts.operator()
	slug, owner := ts.tenantWithOwner(op, "Evidens AB", "owner@evidens.test")
	owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{"validate"}, "allowed_ips": []string{"192.0.2.0/24"}})
	owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "open", "scopes": []string{"validate"}})
	owner.must(201, "POST", "/api/v1/message-endpoints", map[string]string{"name": "Partner", "url": "https://partner.example/in", "region": "se-sto"})
	if _, err := ts.app.BackupNow(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.RestoreTests(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.Trail.CheckpointAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.Jobs.RunNamed(ctx, JobAuditVerify); err != nil {
		t.Fatal(err)
	}

	r := owner.must(200, "GET", "/api/v1/reports/measures", nil)
	var m report.Measures
	r.json(t, &m)
	if m.Tenant.Slug != slug || m.Environment != "test" || m.Identity.Users != 1 || m.APIKeys.WithAllowlist != 1 || m.APIKeys.WithoutAllowlist != 1 ||
		len(m.Backups.Targets) != 2 || m.Backups.Targets[0].LastBackup == nil || !m.Backups.Targets[1].RestoreTestOK || !m.Audit.Verified ||
		m.Audit.Checkpoint == "" || len(m.Residency.Locations) != 4 {
		t.Fatalf("report does not show the installation: %s", r.Body)
	}
	golden(t, "evidence/measures.json.golden", normaliseRun(normaliseMeasures(t, r.Body)))

	// Signed: the signature in the header checks against the published
	// verifier key, and any changed byte is detected.
	var keys struct{ Keys []string }
	owner.must(200, "GET", "/api/v1/audit/key", nil).json(t, &keys)
	for _, format := range []string{"json", "html", "pdf"} {
		r := owner.must(200, "GET", "/api/v1/reports/measures?format="+format+"&lang=en", nil)
		sig, err := base64.StdEncoding.DecodeString(r.Header.Get("Valv-Signature"))
		if err != nil || len(sig) == 0 {
			t.Fatalf("%s: no signature header: %v", format, err)
		}
		st, err := report.Verify(r.Body, sig, keys.Keys[0])
		if err != nil || st.Format != format || st.Tenant != m.Tenant.ID {
			t.Fatalf("%s: the report does not verify: %v %+v", format, err, st)
		}
		tampered := bytes.Clone(r.Body)
		tampered[len(tampered)/2] ^= 1
		if _, err := report.Verify(tampered, sig, keys.Keys[0]); err == nil {
			t.Fatalf("%s: a changed byte was not detected", format)
		}
		if format == "pdf" && !bytes.HasPrefix(r.Body, []byte("%PDF-")) {
			t.Fatal("the pdf form is not a PDF") // rendering is tested in internal/report
		}
	}
	// The zip holds every form with its signature and a README.
	z := owner.must(200, "GET", "/api/v1/reports/measures?format=zip", nil)
	zr, err := zip.NewReader(bytes.NewReader(z.Body), int64(len(z.Body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	if len(files) != 7 {
		t.Fatalf("zip holds %d files", len(files))
	}
	for name, body := range files {
		if strings.HasSuffix(name, ".sig") || name == "README.txt" {
			continue
		}
		if _, err := report.Verify(body, files[name+".sig"], keys.Keys[0]); err != nil {
			t.Errorf("%s in the zip: %v", name, err)
		}
	}

	// Tenants are isolated; a member may not; an operator names the tenant.
	otherSlug, other := ts.tenantWithOwner(op, "Annan AB", "owner@annan.test")
	other.must(404, "GET", "/api/v1/reports/measures?tenant="+slug, nil)
	var mine report.Measures
	other.must(200, "GET", "/api/v1/reports/measures?tenant="+otherSlug, nil).json(t, &mine)
	if mine.Tenant.Slug != otherSlug {
		t.Fatalf("the other owner got %s's report", mine.Tenant.Slug)
	}
	op.must(200, "GET", "/api/v1/reports/measures?tenant="+slug, nil)
	op.must(400, "GET", "/api/v1/reports/measures", nil)
	owner.must(400, "GET", "/api/v1/reports/measures?format=docx", nil)
	owner.must(400, "GET", "/api/v1/reports/measures?from=2020-01-01T00:00:00Z", nil)
}

// normaliseMeasures replaces what differs between runs besides ids and
// times: keys, signatures, certificate digests and entry counts.
func normaliseMeasures(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	a := m["audit"].(map[string]any)
	a["verifier_key"], a["checkpoint"], a["entries"], a["checkpoint_size"] = "<key>", "<signed note>", "<n>", "<n>"
	m["transport"].(map[string]any)["certificate"].(map[string]any)["sha256"] = "<sha256>"
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDoctorOnARunningInstallation: a well-configured test installation
// has nothing worse than info; a planted weakness shows, in /metrics too.
func TestDoctorOnARunningInstallation(t *testing.T) {
	ts := startServer(t, withEvidenceSetup(t.TempDir()), withClamd(t))
	ctx := context.Background()
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Doktor AB", "owner@doktor.test")
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"require_2fa": true})
	if _, err := ts.app.BackupNow(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.RestoreTests(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.Jobs.RunNamed(ctx, JobAuditVerify); err != nil {
		t.Fatal(err)
	}
	run, err := ts.app.Doctor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range run.Findings {
		if f.Severity != doctor.Info {
			t.Errorf("a well-configured installation has a finding: %+v", f)
		}
	}
	// Planted: a tenant whose owner has no second factor and that does not
	// require one; a clock that went back an hour.
	ts.tenantWithOwner(op, "Svag AB", "owner@svag.test")
	ts.clock.Advance(-time.Hour)
	if _, err := ts.app.Doctor(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := ts.app.JobStatus(ctx)
	if err != nil || !slices.ContainsFunc(list, func(j jobs.Status) bool { return j.Name == JobDoctor }) {
		t.Fatalf("the doctor is not a scheduled job: %v", err)
	}
	last, ok, err := ts.app.LastDoctorRun(ctx)
	if err != nil || !ok {
		t.Fatalf("no recorded run: %v", err)
	}
	checks := map[string]string{}
	for _, f := range last.Findings {
		checks[f.Check] = f.Severity
	}
	if checks["admins_without_2fa"] != doctor.Warning || checks["clock_skew"] != doctor.Critical || last.Worst != doctor.Critical {
		t.Fatalf("planted weaknesses not found: %+v", last.Findings)
	}
	metrics := op.must(200, "GET", "/metrics", nil)
	if !bytes.Contains(metrics.Body, []byte(`valv_doctor_findings{severity="critical"} 1`)) {
		t.Errorf("/metrics does not show the findings:\n%s", firstN(metrics.Body, 400))
	}
}

// TestEnvironments: test and development refuse a production data set,
// and production refuses theirs (ENV-1).
func TestEnvironments(t *testing.T) {
	ctx := context.Background()
	open := func(dir string, env config.Environment) (*App, error) {
		cfg := testConfig(dir)
		cfg.Environment = env
		return Open(ctx, Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	}
	prod := t.TempDir()
	a, err := open(prod, config.Production)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if b, err := os.ReadFile(filepath.Join(prod, markerFile)); err != nil || !strings.Contains(string(b), "environment: production") {
		t.Fatalf("no production marker: %v %q", err, b)
	}
	for _, env := range []config.Environment{config.Development, config.Test} {
		if _, err := open(prod, env); err == nil || !strings.Contains(err.Error(), "production installation") {
			t.Fatalf("a %s installation opened a production data directory: %v", env, err)
		}
	}
	// The database alone (copied without the marker) is refused too.
	copied := t.TempDir()
	db, err := os.ReadFile(filepath.Join(prod, "valv.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(copied, "valv.db"), db, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(copied, config.Development); err == nil || !strings.Contains(err.Error(), "production installation") {
		t.Fatalf("a development installation opened a production database: %v", err)
	}
	// ... also to migrate it (valv migrate).
	cfg := testConfig(copied)
	cfg.Environment = config.Development
	if _, err := Open(ctx, Options{Config: cfg, SkipMigrations: true}); err == nil || !strings.Contains(err.Error(), "production installation") {
		t.Fatalf("valv migrate in development opened a production database: %v", err)
	}
	// And production refuses a development data set.
	dev := t.TempDir()
	a, err = open(dev, config.Development)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := open(dev, config.Production); err == nil || !strings.Contains(err.Error(), "development installation") {
		t.Fatalf("production opened a development data directory: %v", err)
	}
	a, err = open(dev, config.Development)
	if err != nil {
		t.Fatalf("a development installation does not reopen: %v", err)
	}
	defer a.Close()
	// Synthetic data is refused in production ...
	pa, err := open(t.TempDir(), config.Production)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	ops := authz.Principal{Kind: authz.Operator, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0009", Role: authz.RoleSecurity}
	if _, err := pa.SeedSynthetic(ctx, ops, SeedOptions{Tenants: 1, Documents: 1}); err == nil {
		t.Fatal("a production installation accepted synthetic data")
	}
}

// TestSeedSynthetic: synthetic data goes through Valv's own validators
// and is found like real data (ENV-1).
func TestSeedSynthetic(t *testing.T) {
	ts := startServer(t, func(c *config.Config, _ *Options) { c.Documents.AllowUnscanned = true })
	ctx := context.Background()
	ops := authz.Principal{Kind: authz.Operator, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0009", Role: authz.RoleSecurity}
	var progress int64
	list, err := ts.app.SeedSynthetic(ctx, ops, SeedOptions{Tenants: 2, Documents: 8, Seed: 7, Progress: func(done, _ int64) { progress = done }})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || progress != 16 || list[0].Documents != 8 || list[0].Messages != 3 || !strings.Contains(list[0].SetupLink, "/setup?token=") {
		t.Fatalf("seeded: %+v (progress %d)", list, progress)
	}
	// A member record's personnummer is a test number, and the document
	// is found by it like any other.
	row, err := ts.app.db.Reader().TenantBySlug(ctx, list[0].Slug)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := ts.app.db.Reader().Accounts(ctx, row.ID, "", 10)
	if err != nil || len(accounts) != 1 {
		t.Fatalf("owners: %v %d", err, len(accounts))
	}
	p := authz.Principal{Kind: authz.User, ID: accounts[0].ID, TenantID: row.ID, Role: authz.Owner}
	docs, _, err := ts.app.Documents.List(withAuditRecord(ctx, "document.list"), p, document.Filter{}, "", 100)
	if err != nil || len(docs) != 8+3+3 {
		t.Fatalf("documents: %v %d (8 made, 3 sent and 3 received)", err, len(docs))
	}
	var member document.Document
	for _, d := range docs {
		if d.Type == "medlem" {
			member, err = ts.app.Documents.Get(withAuditRecord(ctx, "document.read"), p, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var pnr string
	for _, s := range member.Subjects {
		if s.Kind == "personnummer" {
			pnr = s.Value
		}
	}
	if !synth.IsTestPersonnummer(pnr) {
		t.Fatalf("member's personnummer %q is not a test number", pnr)
	}
	found, _, err := ts.app.Documents.Search(withAuditRecord(ctx, "document.search"), p, document.Subject{Kind: "personnummer", Value: pnr}, document.Filter{}, "", 10)
	if err != nil || !slices.ContainsFunc(found, func(s document.Summary) bool { return s.ID == member.ID }) {
		t.Fatalf("search by the member's personnummer: %v %d", err, len(found))
	}
}

// TestResidency: a tenant pinned to the EU/EEA (the default) refuses a
// backup target and a message destination outside it (ENV-2).
func TestResidency(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, withEvidenceSetup(dir), func(c *config.Config, _ *Options) {
		c.Backup.Targets = append(c.Backup.Targets, config.BackupTarget{Name: "abroad", Type: "dir", Region: "us-east-1", Path: filepath.Join(dir, "c")})
	})
	ctx := context.Background()
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Region AB", "owner@region.test")

	rep, err := ts.app.BackupNow(ctx, nil)
	if err == nil && rep.Status == "ok" {
		t.Fatalf("a backup wrote to a target outside the EU/EEA: %+v", rep)
	}
	for _, tr := range rep.Targets {
		ok := tr.OK && tr.Verified
		if ok != (tr.Name != "abroad") {
			t.Errorf("target %s: ok=%v (%s)", tr.Name, ok, tr.Error)
		}
		if tr.Name == "abroad" && !strings.Contains(tr.Error, "outside the EU/EEA") {
			t.Errorf("refusal does not say why: %q", tr.Error)
		}
	}
	// Only the erasure ledger (tokens) goes there, never a backup.
	if entries, _ := os.ReadDir(filepath.Join(dir, "c")); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() != "ledger" }) {
		t.Errorf("a backup was written to the refused target: %v", entries)
	}

	for _, label := range []string{"us-east-1", "uksouth", "", "mars-1"} {
		r := owner.do("POST", "/api/v1/message-endpoints", map[string]string{"name": "Partner", "url": "https://partner.example/in", "region": label})
		if r.Status != 400 || r.code() != "region_not_allowed" {
			t.Errorf("endpoint in %q: %d %s", label, r.Status, r.Body)
		}
	}
	owner.must(201, "POST", "/api/v1/message-endpoints", map[string]string{"name": "Partner", "url": "https://partner.example/in", "region": "de-fra"})

	// A pin the installation cannot keep (a backup target is abroad) is
	// refused: one owner's choice must not stop every tenant's backups.
	if r := owner.do("PATCH", "/api/v1/tenant/settings", map[string]any{"region": "se"}); r.code() != "region_not_kept" || !strings.Contains(string(r.Body), "abroad") {
		t.Errorf("a Sweden pin with a target abroad: %d %s", r.Status, r.Body)
	}
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"region": "eu-eea"}) // unchanged: fine
	owner.must(400, "PATCH", "/api/v1/tenant/settings", map[string]any{"region": "mars"})
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"region": "none"})
	owner.must(201, "POST", "/api/v1/message-endpoints", map[string]string{"name": "Partner", "url": "https://partner.example/in", "region": "us-east-1"})
	// The platform's own data (operators, its audit chain) stays in the
	// EU/EEA whatever the tenants choose.
	rep, _ = ts.app.BackupNow(ctx, nil)
	for _, tr := range rep.Targets {
		if ok := tr.OK && tr.Verified; ok != (tr.Name != "abroad") {
			t.Errorf("unpinned: target %s: ok=%v (%s)", tr.Name, ok, tr.Error)
		}
	}
}
