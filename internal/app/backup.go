package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/backup"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
)

// Job names of backups (BAK-1, BAK-3, GDPR-5).
const (
	JobBackup      = "backup.run"
	JobBackupTest  = "backup.restore_test"
	JobBackupLedge = "backup.ledger"
)

// backupTargets builds the configured targets.
func backupTargets(c config.Backup) ([]backup.Target, error) {
	var out []backup.Target
	for _, t := range c.Targets {
		switch t.Type {
		case "dir":
			d, err := backup.NewDirTarget(t.Name, t.Region, t.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		case "s3":
			s, err := backup.NewS3Target(backup.S3Options{Name: t.Name, Region: t.Region, Endpoint: t.Endpoint, Bucket: t.Bucket,
				Prefix: t.Prefix, AccessKey: t.AccessKey, SecretKey: t.SecretKey.Reveal(), Insecure: t.Insecure, CAFile: t.CAFile})
			if err != nil {
				return nil, fmt.Errorf("backup target %s: %w", t.Name, err)
			}
			out = append(out, s)
		default:
			return nil, fmt.Errorf("backup target %s: unknown type %q", t.Name, t.Type)
		}
	}
	return out, nil
}

// backupMetrics are the backup gauges in /metrics.
type backupMetrics struct {
	last        prometheus.Gauge
	lastSuccess prometheus.Gauge
	status      *prometheus.GaugeVec
	bytes       prometheus.Gauge
	targetOK    *prometheus.GaugeVec
	testLast    *prometheus.GaugeVec
	testOK      *prometheus.GaugeVec
}

func newBackupMetrics(reg *prometheus.Registry) *backupMetrics {
	m := &backupMetrics{
		last:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "valv_backup_last_timestamp_seconds", Help: "When the last backup run ended."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "valv_backup_last_success_timestamp_seconds", Help: "When the last backup that reached at least one target ended."}),
		status:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valv_backup_last_status", Help: "1 for the status of the last backup run (ok, degraded, failed)."}, []string{"status"}),
		bytes:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "valv_backup_last_stored_bytes", Help: "Stored size of the last backup."}),
		targetOK:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valv_backup_target_ok", Help: "1 if the last backup was written and verified on the target."}, []string{"target"}),
		testLast:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valv_backup_restore_test_last_timestamp_seconds", Help: "When the last restore test of a target ended."}, []string{"target"}),
		testOK:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valv_backup_restore_test_ok", Help: "1 if the last restore test of a target passed."}, []string{"target"}),
	}
	for _, c := range []prometheus.Collector{m.last, m.lastSuccess, m.status, m.bytes, m.targetOK, m.testLast, m.testOK} {
		_ = reg.Register(c)
	}
	return m
}

func (m *backupMetrics) backup(rep backup.Report, at time.Time) {
	m.last.Set(float64(at.Unix()))
	for _, s := range []string{backup.StatusOK, backup.StatusDegraded, backup.StatusFailed} {
		v := 0.0
		if s == rep.Status {
			v = 1
		}
		m.status.WithLabelValues(s).Set(v)
	}
	if rep.Status != backup.StatusFailed {
		m.lastSuccess.Set(float64(at.Unix()))
		m.bytes.Set(float64(rep.Stored))
	}
	for _, t := range rep.Targets {
		v := 0.0
		if t.OK && t.Verified {
			v = 1
		}
		m.targetOK.WithLabelValues(t.Name).Set(v)
	}
}

func (m *backupMetrics) restoreTest(r RestoreTest) {
	m.testLast.WithLabelValues(r.Target).Set(float64(r.FinishedAt.Unix()))
	v := 0.0
	if r.OK {
		v = 1
	}
	m.testOK.WithLabelValues(r.Target).Set(v)
}

// loadBackupMetrics sets the gauges from the recorded runs, so /metrics
// shows the last results after a restart too.
func (a *App) loadBackupMetrics(ctx context.Context) {
	runs, err := a.db.Reader().BackupRuns(ctx, "backup", 1)
	if err == nil && len(runs) == 1 {
		var rep backup.Report
		if json.Unmarshal([]byte(runs[0].Detail), &rep) == nil {
			a.backupMetrics.backup(rep, runs[0].FinishedAt)
		}
	}
	tests, err := a.db.Reader().BackupRuns(ctx, "restore_test", 50)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for i := len(tests) - 1; i >= 0; i-- {
		var r RestoreTest
		if json.Unmarshal([]byte(tests[i].Detail), &r) == nil && !seen[r.Target] {
			seen[r.Target] = true
			a.backupMetrics.restoreTest(r)
		}
	}
}

// backupJobs are the scheduled backup jobs, when targets are configured.
func (a *App) backupJobs() []jobs.Job {
	c := a.cfg.Backup
	if len(c.Targets) == 0 {
		return nil
	}
	var list []jobs.Job
	if c.Interval > 0 {
		list = append(list, jobs.Job{Name: JobBackup, Every: c.Interval, Run: func(ctx context.Context, _ *jobs.Run) error {
			if a.Keys.Sealed() {
				return nil
			}
			_, err := a.runBackup(ctx, nil)
			return err
		}})
	}
	if c.RestoreTestInterval > 0 {
		list = append(list, jobs.Job{Name: JobBackupTest, Every: c.RestoreTestInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
			if a.Keys.Sealed() {
				return nil
			}
			_, err := a.RestoreTests(ctx)
			return err
		}})
	}
	list = append(list, jobs.Job{Name: JobBackupLedge, Every: c.LedgerSyncInterval, Run: func(ctx context.Context, _ *jobs.Run) error {
		_, err := a.Backups.SyncLedger(ctx)
		if err != nil {
			a.log.Warn("erasure ledger not written to every backup target", "error", err)
		}
		return err
	}})
	return list
}

// BackupNow takes a backup by hand (valv backup run) under the job's
// lease, so it never runs beside a scheduled one.
func (a *App) BackupNow(ctx context.Context, progress backup.Progress) (backup.Report, error) {
	if a.Keys.Sealed() {
		return backup.Report{}, errors.New("valv is sealed")
	}
	if err := a.RegisterJobs(ctx, nil); err != nil {
		return backup.Report{}, err
	}
	if a.cfg.Backup.Interval == 0 || len(a.cfg.Backup.Targets) == 0 {
		return a.runBackup(ctx, progress)
	}
	var rep backup.Report
	err := a.Jobs.RunNow(ctx, JobBackup, func(ctx context.Context, _ *jobs.Run) error {
		var err error
		rep, err = a.runBackup(ctx, progress)
		return err
	})
	if errors.Is(err, jobs.ErrBusy) {
		return rep, errors.New("a backup is running on another node now; try again when it has finished")
	}
	return rep, err
}

// runBackup takes a backup, records it, prunes old ones, and raises an
// alert unless it is OK.
func (a *App) runBackup(ctx context.Context, progress backup.Progress) (backup.Report, error) {
	started := a.now()
	rep, err := a.Backups.Run(ctx, progress)
	finished := a.now()
	detail, _ := json.Marshal(rep)
	id := rep.ID
	if id == "" {
		id = "failed-" + randomHex(6)
	}
	if werr := a.db.Write(ctx, func(tx *store.Tx) error {
		return tx.SaveBackupRun(ctx, store.BackupRun{ID: id, Kind: "backup", BackupID: rep.ID, StartedAt: started, FinishedAt: finished,
			Status: rep.Status, Bytes: rep.Stored, Detail: string(detail)})
	}); werr != nil {
		a.log.Error("backup run not recorded", "error", werr)
	}
	a.backupMetrics.backup(rep, finished)

	jctx := a.systemContext(ctx, "backup.run")
	audit.Describe(jctx, audit.Description{ResourceType: "backup", ResourceID: rep.ID})
	audit.Detail(jctx, "status", rep.Status)
	status := 200
	if rep.Status != backup.StatusOK {
		status = 500
	}
	if ferr := a.Trail.Finish(jctx, status, err); ferr != nil {
		a.log.Error("backup run not audited", "error", ferr)
	}
	if rep.Status != backup.StatusOK {
		a.backupAlert(ctx, rep, err)
	} else {
		a.log.Info("backup written", "id", rep.ID, "stored_bytes", rep.Stored, "targets", len(rep.Targets))
	}
	if rep.Status != backup.StatusFailed {
		if pr, perr := a.Backups.Prune(ctx); perr != nil {
			a.log.Warn("old backups not pruned on every target", "error", perr)
		} else {
			n := 0
			for _, d := range pr.Deleted {
				n += len(d)
			}
			if n > 0 {
				a.log.Info("pruned old backups", "deleted", n)
			}
		}
	}
	return rep, err
}

// backupAlert tells the security operators that a backup is degraded or
// failed: which targets failed and why (no personal data is involved).
func (a *App) backupAlert(ctx context.Context, rep backup.Report, err error) {
	a.log.Error("BACKUP NOT OK", "id", rep.ID, "status", rep.Status, "reason", rep.Reason)
	lines := []string{fmt.Sprintf("Backup %s: %s — %s", orNone(rep.ID), rep.Status, rep.Reason)}
	for _, t := range rep.Targets {
		state := "written and verified"
		if !t.OK || !t.Verified {
			state = "FAILED: " + t.Error
		}
		lines = append(lines, fmt.Sprintf("Target %s (%s): %s", t.Name, orNone(t.Region), state))
	}
	if err != nil && rep.Reason == "" {
		lines = append(lines, err.Error())
	}
	a.operatorAlert(ctx, "Backup "+rep.Status, lines)
}

// operatorAlert mails the active security operators.
func (a *App) operatorAlert(ctx context.Context, title string, lines []string) {
	to, err := a.securityOperators(ctx)
	if err != nil {
		a.log.Error("security operators not found for the alert", "error", err)
		return
	}
	if len(lines) > 50 {
		lines = lines[:50]
	}
	if len(to) > 0 {
		if err := a.mail.SecurityAlert(context.WithoutCancel(ctx), to, "en", "Valv (platform)", title, lines, a.now()); err != nil {
			a.log.Error("alert not sent to the security operators", "title", title, "error", err)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RestoreTest is the result of restoring one target's latest backup into
// a scratch place and checking it (BAK-3).
type RestoreTest struct {
	ID         string    `json:"id"`
	Target     string    `json:"target"`
	BackupID   string    `json:"backup_id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	OK         bool      `json:"ok"`
	Rows       int64     `json:"rows"`
	Replayed   int       `json:"ledger_entries_replayed"`
	// AuditEntries is how many audit entries verified; BadChains names
	// chains that did not.
	AuditEntries int64    `json:"audit_entries_verified"`
	BadChains    []string `json:"bad_chains,omitempty"`
	// Sampled documents were decrypted with every version and file.
	Sampled int    `json:"documents_decrypted"`
	Error   string `json:"error,omitempty"`
}

// restoreSample is how many documents a restore test decrypts.
const restoreSample = 25

// RestoreTests restores the latest backup of each target into a scratch
// database, verifies its audit chains, compares its row counts with the
// manifest, decrypts a sample of documents, deletes the scratch copy and
// records the result. A failed test raises an alert.
func (a *App) RestoreTests(ctx context.Context) ([]RestoreTest, error) {
	root, err := a.Keys.Root()
	if err != nil {
		return nil, err
	}
	var out []RestoreTest
	var errs []error
	for _, t := range a.Backups.Targets() {
		if _, err := backup.Latest(ctx, t); errors.Is(err, backup.ErrNoBackup) && !a.anyBackup(ctx) {
			continue // a new installation: nothing to test yet
		}
		r := a.restoreTest(ctx, t, root)
		detail, _ := json.Marshal(r)
		status := "ok"
		if !r.OK {
			status = backup.StatusFailed
			errs = append(errs, fmt.Errorf("restore test of %s: %s", t.Name(), r.Error))
		}
		if werr := a.db.Write(ctx, func(tx *store.Tx) error {
			return tx.SaveBackupRun(ctx, store.BackupRun{ID: r.ID, Kind: "restore_test", BackupID: r.BackupID, StartedAt: r.StartedAt,
				FinishedAt: r.FinishedAt, Status: status, Detail: string(detail)})
		}); werr != nil {
			a.log.Error("restore test not recorded", "error", werr)
		}
		a.backupMetrics.restoreTest(r)
		jctx := a.systemContext(ctx, "backup.restore_test")
		audit.Describe(jctx, audit.Description{ResourceType: "backup", ResourceID: r.BackupID})
		audit.Detail(jctx, "target", t.Name())
		code := 200
		if !r.OK {
			code = 500
			a.log.Error("RESTORE TEST FAILED", "target", t.Name(), "backup", r.BackupID, "error", r.Error)
			a.operatorAlert(ctx, "Restore test failed", []string{
				fmt.Sprintf("Target %s, backup %s: %s", t.Name(), orNone(r.BackupID), r.Error)})
		}
		if ferr := a.Trail.Finish(jctx, code, nil); ferr != nil {
			a.log.Error("restore test not audited", "error", ferr)
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// anyBackup reports whether a backup ever reached a target.
func (a *App) anyBackup(ctx context.Context) bool {
	runs, err := a.db.Reader().BackupRuns(ctx, "backup", 100)
	for _, r := range runs {
		if r.Status != backup.StatusFailed {
			return true
		}
	}
	return err != nil
}

func (a *App) scratchDir() string {
	if a.cfg.Backup.ScratchDir != "" {
		return a.cfg.Backup.ScratchDir
	}
	return filepath.Join(a.cfg.DataDir, "restore-test")
}

func (a *App) restoreTest(ctx context.Context, t backup.Target, root keyring.RootKey) (r RestoreTest) {
	r = RestoreTest{ID: "rt-" + a.now().UTC().Format("20060102T150405Z") + "-" + randomHex(3), Target: t.Name(), StartedAt: a.now()}
	defer func() { r.FinishedAt = a.now() }()
	fail := func(err error) RestoreTest {
		r.Error = err.Error()
		return r
	}
	id, err := backup.Latest(ctx, t)
	if err != nil {
		return fail(err)
	}
	r.BackupID = id
	dir := filepath.Join(a.scratchDir(), r.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(fmt.Errorf("scratch directory: %w", err))
	}
	defer os.RemoveAll(dir)
	cfg := scratchConfig(a.cfg, dir)
	db, err := openStore(ctx, cfg, a.log)
	if err != nil {
		return fail(err)
	}
	rep, err := backup.Restore(ctx, backup.RestoreOptions{Target: t, ID: id, Root: root, Dest: db, Environment: string(cfg.Environment)})
	db.Close()
	if err != nil {
		return fail(err)
	}
	r.Rows, r.Replayed = rep.Rows, rep.Replayed.Entries
	check, err := checkRestored(ctx, cfg, root, a.now, restoreSample)
	r.AuditEntries, r.BadChains, r.Sampled = check.entries, check.bad, check.sampled
	if err != nil {
		return fail(err)
	}
	r.OK = true
	return r
}

// scratchConfig is a restored copy's configuration: an embedded database
// in dir, the installation's keys, nothing sent or forwarded.
func scratchConfig(cfg config.Config, dir string) config.Config {
	c := cfg
	c.DataDir = dir
	c.Database = config.Database{Driver: "sqlite", MaxOpenConns: 2, AutoMigrate: true}
	c.Mail = config.Mail{Transport: "file", From: cfg.Mail.From, Dir: filepath.Join(dir, "mail")}
	c.Audit.ForwardFile, c.Audit.ForwardSyslog = "", ""
	c.Backup.Targets = nil
	c.Scan.Address = ""
	c.Documents.AllowUnscanned = false
	return c
}

type restoredCheck struct {
	entries int64
	bad     []string
	sampled int
}

// checkRestored opens a restored copy with the root key, verifies every
// audit chain and decrypts a sample of documents with all their versions
// and files.
func checkRestored(ctx context.Context, cfg config.Config, root keyring.RootKey, now func() time.Time, sample int) (restoredCheck, error) {
	var c restoredCheck
	ra, err := Open(ctx, Options{Config: cfg, Root: root, Now: now})
	if err != nil {
		return c, fmt.Errorf("open the restored copy: %w", err)
	}
	defer ra.Close()
	bad, total, err := ra.Trail.VerifyAll(ctx)
	c.entries = total
	if err != nil {
		return c, fmt.Errorf("verify the restored audit trail: %w", err)
	}
	for _, b := range bad {
		c.bad = append(c.bad, b.Chain)
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%d audit chains do not verify in the restored copy (first: %s)", len(bad), bad[0].Chain)
	}
	refs, err := ra.db.Reader().SampleDocuments(ctx, sample)
	if err != nil {
		return c, err
	}
	for _, ref := range refs {
		full, err := ra.Documents.FullDocument(ctx, ref.TenantID, ref.ID)
		if err != nil {
			return c, fmt.Errorf("decrypt restored document %s: %w", ref.ID, err)
		}
		for _, v := range full.Versions {
			if v.FileID == "" {
				continue
			}
			f, _, err := ra.Documents.OpenFile(ctx, ref.TenantID, v.FileID)
			if err == nil {
				_, err = io.Copy(io.Discard, f)
			}
			if err != nil {
				return c, fmt.Errorf("decrypt a file of restored document %s: %w", ref.ID, err)
			}
		}
		c.sampled++
	}
	return c, nil
}

// BackupStatus is what operators see of backups: the latest runs and
// restore tests.
type BackupStatus struct {
	Targets      []BackupTargetInfo `json:"targets"`
	Backups      []backup.Report    `json:"backups"`
	RestoreTests []RestoreTest      `json:"restore_tests"`
}

// BackupTargetInfo describes a configured target.
type BackupTargetInfo struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	Where  string `json:"where"`
}

// BackupStatus returns the last backups and restore tests.
func (a *App) BackupStatus(ctx context.Context, limit int) (BackupStatus, error) {
	st := BackupStatus{Targets: []BackupTargetInfo{}, Backups: []backup.Report{}, RestoreTests: []RestoreTest{}}
	for _, t := range a.Backups.Targets() {
		st.Targets = append(st.Targets, BackupTargetInfo{Name: t.Name(), Region: t.Region(), Where: fmt.Sprint(t)})
	}
	runs, err := a.db.Reader().BackupRuns(ctx, "backup", limit)
	if err != nil {
		return st, err
	}
	for _, r := range runs {
		var rep backup.Report
		if json.Unmarshal([]byte(r.Detail), &rep) == nil {
			st.Backups = append(st.Backups, rep)
		}
	}
	tests, err := a.db.Reader().BackupRuns(ctx, "restore_test", limit)
	if err != nil {
		return st, err
	}
	for _, r := range tests {
		var rt RestoreTest
		if json.Unmarshal([]byte(r.Detail), &rt) == nil {
			st.RestoreTests = append(st.RestoreTests, rt)
		}
	}
	return st, nil
}

// VerifyBackup verifies a backup (id "" = the latest) on each target
// (target "" = all).
func (a *App) VerifyBackup(ctx context.Context, target, id string) ([]backup.VerifyReport, error) {
	root, err := a.Keys.Root()
	if err != nil {
		return nil, err
	}
	var out []backup.VerifyReport
	for _, t := range a.Backups.Targets() {
		if target != "" && t.Name() != target {
			continue
		}
		bid := id
		if bid == "" {
			if bid, err = backup.Latest(ctx, t); err != nil {
				out = append(out, backup.VerifyReport{Target: t.Name(), Problems: []string{err.Error()}})
				continue
			}
		}
		rep, err := backup.Verify(ctx, t, bid, root)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		}
		out = append(out, rep)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no backup target named %q (see backup.targets)", target)
	}
	return out, nil
}

// RestoreRequest says what a restore (valv backup restore) restores where.
type RestoreRequest struct {
	// Source is the installation's configuration: its backup targets and
	// its key provider.
	Source config.Config
	// Target is the target to restore from ("" = the first).
	Target string
	// ID is the backup ("" = the latest on the target).
	ID string
	// Dest is the new installation's configuration: an empty data
	// directory (SQLite) or an empty PostgreSQL database.
	Dest config.Config
	// RootKeyFile is the file provider's key file (default: the source's).
	RootKeyFile string
	// Unseal asks the key holders for shares (shamir provider).
	Unseal   UnsealPrompt
	Progress backup.Progress
	Out      io.Writer
}

// RestoreResult is what a restore did and found.
type RestoreResult struct {
	backup.RestoreReport
	AuditEntries int64  `json:"audit_entries_verified"`
	Sampled      int    `json:"documents_decrypted"`
	Database     string `json:"database"`
}

// RestoreBackup restores a backup into a new installation and checks it
// (audit chains, sample documents). It never writes over data: the
// destination must be new, and with SQLite the database appears under its
// name only once the restore has completed.
func RestoreBackup(ctx context.Context, req RestoreRequest) (RestoreResult, error) {
	var res RestoreResult
	targets, err := backupTargets(req.Source.Backup)
	if err != nil {
		return res, err
	}
	if len(targets) == 0 {
		return res, errors.New("no backup targets are configured (backup.targets)")
	}
	t := targets[0]
	if req.Target != "" {
		if t, err = backup.FindTarget(targets, req.Target); err != nil {
			return res, err
		}
	}
	id := req.ID
	if id == "" {
		if id, err = backup.Latest(ctx, t); err != nil {
			return res, err
		}
	}
	m, err := backup.ReadManifest(ctx, t, id)
	if err != nil {
		return res, err
	}
	root, keyBytes, closeRoot, err := restoreRoot(ctx, req, m.RootKey)
	if err != nil {
		return res, err
	}
	defer closeRoot()
	defer clear(keyBytes)

	dest := req.Dest
	if err := dest.Validate(); err != nil {
		return res, err
	}
	if err := ensureDataDir(dest.DataDir); err != nil {
		return res, err
	}
	final, loadCfg := "", dest
	if dest.Database.Driver != "postgres" {
		final = dest.SQLitePath()
		if req.Source.Database.Driver != "postgres" && sameFile(final, req.Source.SQLitePath()) {
			return res, errors.New("the destination is this installation's own database: restore into a new data directory")
		}
		if _, err := os.Stat(final); err == nil {
			return res, fmt.Errorf("%s exists: restore only goes into a new data directory or an empty database (a running installation is never overwritten)", final)
		}
		loadCfg.Database.Path = final + ".restoring"
		os.Remove(loadCfg.Database.Path)
		os.Remove(loadCfg.Database.Path + "-wal")
		os.Remove(loadCfg.Database.Path + "-shm")
	} else {
		res.Database = "postgres"
		if req.Source.Database.Driver == "postgres" && req.Source.Database.URL == dest.Database.URL {
			return res, errors.New("the destination is this installation's own database: restore into a new, empty database")
		}
	}
	db, err := openStore(ctx, loadCfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return res, err
	}
	rep, err := backup.Restore(ctx, backup.RestoreOptions{Target: t, ID: id, Root: root, Dest: db, Progress: req.Progress, Environment: string(req.Dest.Environment)})
	cerr := db.Close()
	res.RestoreReport = rep
	if err != nil {
		if final != "" {
			os.Remove(loadCfg.Database.Path)
			os.Remove(loadCfg.Database.Path + "-wal")
			os.Remove(loadCfg.Database.Path + "-shm")
		}
		return res, err
	}
	if cerr != nil {
		return res, cerr
	}
	if final != "" {
		if err := os.Rename(loadCfg.Database.Path, final); err != nil {
			return res, err
		}
		res.Database = final
		if d, err := os.Open(filepath.Dir(final)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	if m.RootKey.Provider == keyring.ProviderFile && keyBytes != nil {
		fk := keyring.FileKey{Path: dest.RootKeyFile()}
		if _, err := fk.Load(); errors.Is(err, keyring.ErrNoKeyFile) {
			if err := fk.Install(keyBytes); err != nil {
				return res, fmt.Errorf("write the root key file beside the restored data: %w", err)
			}
		}
	}
	check, err := checkRestored(ctx, dest, root, time.Now, restoreSample)
	res.AuditEntries, res.Sampled = check.entries, check.sampled
	return res, err
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 == nil && err2 == nil {
		return os.SameFile(sa, sb)
	}
	aa, _ := filepath.Abs(a)
	bb, _ := filepath.Abs(b)
	return aa == bb
}

// restoreRoot loads the root key a backup was made under: from the key
// file, the HSM, or the key holders' shares.
func restoreRoot(ctx context.Context, req RestoreRequest, info backup.RootKeyInfo) (keyring.RootKey, []byte, func(), error) {
	rec := info.Record()
	none := func() {}
	switch info.Provider {
	case keyring.ProviderFile:
		path := req.RootKeyFile
		if path == "" {
			path = req.Source.RootKeyFile()
		}
		key, err := keyring.FileKey{Path: path}.Load()
		if err != nil {
			return nil, nil, none, fmt.Errorf("the backup's root key is a key file: %w (give it with --root-key-file)", err)
		}
		root, err := keyring.NewMemoryRoot(key)
		if err != nil {
			return nil, nil, none, err
		}
		if err := keyring.CheckRoot(rec, root); err != nil {
			return nil, nil, none, fmt.Errorf("the key file %s is not the key this backup was made under", path)
		}
		return root, key, none, nil
	case keyring.ProviderShamir:
		if req.Unseal == nil {
			return nil, nil, none, errors.New("the backup's root key is split into shares: the key holders must give them")
		}
		set, err := keyring.NewShareSet(rec)
		if err != nil {
			return nil, nil, none, err
		}
		for {
			got, need := set.Progress()
			share, err := req.Unseal(ctx, got, need)
			if err != nil {
				return nil, nil, none, err
			}
			done, err := set.Add(strings.TrimSpace(share))
			if err != nil {
				if req.Out != nil {
					fmt.Fprintln(req.Out, err)
				}
				continue
			}
			if done {
				root, err := set.Root()
				return root, nil, none, err
			}
		}
	case keyring.ProviderPKCS11:
		root, closer, err := openHSM(req.Source.Keys.PKCS11, false)
		if err != nil {
			return nil, nil, none, err
		}
		if err := keyring.CheckRoot(rec, root); err != nil {
			closer()
			return nil, nil, none, fmt.Errorf("the HSM key is not the key this backup was made under: %w", err)
		}
		return root, nil, func() { closer() }, nil
	}
	return nil, nil, none, fmt.Errorf("the backup's root key provider %q is unknown", info.Provider)
}
