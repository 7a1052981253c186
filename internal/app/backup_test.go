package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/backup"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

// withBackupTargets configures a local directory target and, given an S3
// gateway, an S3 target.
func withBackupTargets(dir string, s3 *valvtest.S3Server) serverOption {
	return func(c *config.Config, _ *Options) {
		c.Documents.AllowUnscanned = true // files matter here, not scanning
		c.Backup.Targets = []config.BackupTarget{{Name: "primary", Type: "dir", Region: "se-sto", Path: dir}}
		if s3 != nil {
			c.Backup.Targets = append(c.Backup.Targets, config.BackupTarget{Name: "offsite", Type: "s3", Region: s3.Region,
				Endpoint: s3.Endpoint, Bucket: s3.Bucket, AccessKey: s3.AccessKey, SecretKey: config.Secret(s3.SecretKey), Insecure: true})
		}
	}
}

// dumpDB renders every backed-up table as sorted "column=value" rows, so
// that two databases (of either engine) can be compared.
func dumpDB(t *testing.T, db *store.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		for _, table := range store.BackupTables() {
			var cols []string
			rows := []string{}
			err := tx.DumpTable(context.Background(), table, func(c []string) error { cols = c; return nil }, func(vals []any) error {
				parts := make([]string, len(vals))
				for i, v := range vals {
					switch x := v.(type) {
					case []byte:
						parts[i] = cols[i] + "=x" + hex.EncodeToString(x)
					default:
						parts[i] = fmt.Sprintf("%s=%v", cols[i], x)
					}
				}
				slices.Sort(parts)
				rows = append(rows, strings.Join(parts, " "))
				return nil
			})
			if err != nil {
				return err
			}
			slices.Sort(rows)
			out[table] = rows
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareDumps compares every table but jobs, whose backup.run row the
// snapshot holds as it was while the backup ran (leased).
func compareDumps(t *testing.T, want, got map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if table == "jobs" {
			continue
		}
		if !slices.Equal(rows, got[table]) {
			t.Errorf("table %s differs after restore: %d rows before, %d after", table, len(rows), len(got[table]))
			for i := range min(len(rows), len(got[table])) {
				if rows[i] != got[table][i] {
					t.Errorf("first difference:\n  before %.300s\n  after  %.300s", rows[i], got[table][i])
					break
				}
			}
		}
	}
}

// openRestored opens a restored database for a look inside.
func openRestored(t *testing.T, cfg config.Config) *store.DB {
	t.Helper()
	db, err := openStore(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// backupFixture fills a tenant with documents (with files and versions),
// an API key and audit entries.
func backupFixture(t *testing.T, ts *testServer) {
	t.Helper()
	op := ts.operator()
	f := newGDPRFixture(t, ts, op, "Backup Bolaget AB", "owner@backup.se")
	ts.keyClient(f.owner, "documents:read").must(200, "GET", "/api/v1/documents", nil)
	big := bytes.Repeat([]byte("%PDF-1.7 backup test page\n"), 40000) // ~1 MiB, spans chunks
	if res := f.owner.upload(map[string]any{"type": "invoice", "archive": "legal", "document_date": "2026-01-02", "data": map[string]any{"number": "2002"}},
		"big.pdf", "application/pdf", big, nil); res.Status != 201 {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	ts.clock.Advance(time.Minute) // after the backup the scheduled job took at start
}

// TestBackupRoundTrip (BAK-1, BAK-2): a backup taken while serving goes to
// a directory and a real S3 gateway, verifies on both, and restores into a
// new SQLite data directory and into an empty PostgreSQL database from
// either engine: the restored data equals the source and its audit chains
// verify.
func TestBackupRoundTrip(t *testing.T) {
	s3 := valvtest.S3(t)
	for i, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			dir := t.TempDir()
			ts := startServer(t, eng.opt(t), withBackupTargets(dir, s3), func(c *config.Config, _ *Options) {
				c.Backup.Targets[1].Prefix = fmt.Sprintf("round-%d", i)
			})
			backupFixture(t, ts)
			ctx := context.Background()
			before := dumpDB(t, ts.app.db)
			var calls atomic.Int64
			rep, err := ts.app.BackupNow(ctx, func(done, total int64) { calls.Add(1) })
			if err != nil || rep.Status != backup.StatusOK {
				t.Fatalf("backup: %v %+v", err, rep)
			}
			if calls.Load() == 0 || rep.Rows == 0 || len(rep.Targets) != 2 || !rep.Targets[0].Verified || !rep.Targets[1].Verified {
				t.Fatalf("report: %+v", rep)
			}
			list, bad, err := ts.app.Backups.List(ctx)
			// (The scheduled job took one at start, too.)
			if err != nil || len(bad) != 0 || len(list) != 2 || list[0].ID != rep.ID || len(list[0].Targets) != 2 {
				t.Fatalf("list: %v %+v %+v", err, bad, list)
			}
			vr, err := ts.app.VerifyBackup(ctx, "", "")
			if err != nil || len(vr) != 2 || !vr[0].OK || !vr[1].OK {
				t.Fatalf("verify: %v %+v", err, vr)
			}
			// The data on the targets is encrypted: no document text shows.
			entries, _ := filepath.Glob(filepath.Join(dir, "backups", rep.ID, "chunks", "*"))
			for _, e := range entries {
				b, _ := os.ReadFile(e)
				if bytes.Contains(b, []byte("backup test page")) || bytes.Contains(b, []byte("Backup Bolaget")) {
					t.Fatalf("%s holds plaintext", e)
				}
			}

			for _, target := range []string{"primary", "offsite"} {
				// Into a new SQLite data directory.
				dest := ts.app.Config()
				dest.DataDir, dest.Database = filepath.Join(t.TempDir(), "restored"), config.Database{Driver: "sqlite", MaxOpenConns: 2, AutoMigrate: true}
				dest.Keys.File = ""
				res, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Target: target, Dest: dest})
				if err != nil {
					t.Fatalf("restore from %s into sqlite: %v", target, err)
				}
				if res.AuditEntries == 0 || res.Sampled == 0 || res.Rows != rep.Rows {
					t.Fatalf("restore result: %+v", res)
				}
				compareDumps(t, before, dumpDB(t, openRestored(t, dest)))
				// Never over an existing installation.
				if _, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Target: target, Dest: dest}); err == nil ||
					!strings.Contains(err.Error(), "new data directory") {
					t.Fatalf("restore over a restored copy: %v", err)
				}
			}
			// Into an empty PostgreSQL database (from SQLite: the way to
			// production; from PostgreSQL: a new database).
			dest := ts.app.Config()
			dest.DataDir = t.TempDir()
			dest.Database = config.Database{Driver: "postgres", URL: config.Secret(valvtest.PostgresURL(t)), MaxOpenConns: 4, AutoMigrate: true}
			if _, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Target: "offsite", Dest: dest}); err != nil {
				t.Fatalf("restore into postgres: %v", err)
			}
			compareDumps(t, before, dumpDB(t, openRestored(t, dest)))
			// A backup of a test installation is not restored as production
			// (nor a production one as development: ENV-1).
			other := ts.app.Config()
			other.DataDir, other.Environment = filepath.Join(t.TempDir(), "prod"), config.Production
			other.Database = config.Database{Driver: "sqlite", MaxOpenConns: 2, AutoMigrate: true}
			other.Keys.File, other.Documents.AllowUnscanned = "", false
			if _, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Target: "primary", Dest: other}); err == nil ||
				!strings.Contains(err.Error(), "a production installation refuses it") {
				t.Fatalf("a test backup restored into production: %v", err)
			}
			if entries, _ := os.ReadDir(other.DataDir); len(entries) > 0 {
				t.Errorf("the refused restore left %d files behind", len(entries))
			}
			// Restoring into the running installation itself is refused.
			if _, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Dest: ts.app.Config()}); err == nil {
				t.Fatal("restore into the running installation was not refused")
			}

			// The restore test restores each target's latest into a
			// scratch place, checks it, and shows up in /metrics.
			tests, err := ts.app.RestoreTests(ctx)
			if err != nil || len(tests) != 2 || !tests[0].OK || !tests[1].OK || tests[0].Sampled == 0 || tests[0].AuditEntries == 0 {
				t.Fatalf("restore tests: %v %+v", err, tests)
			}
			if left, _ := os.ReadDir(ts.app.scratchDir()); len(left) != 0 {
				t.Fatalf("scratch copies left behind: %v", left)
			}
			m := metrics(t, ts)
			for _, want := range []string{`valv_backup_restore_test_ok{target="offsite"} 1`, `valv_backup_last_status{status="ok"} 1`, `valv_backup_target_ok{target="primary"} 1`} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			st, err := ts.app.BackupStatus(ctx, 5)
			if err != nil || len(st.Backups) != 2 || len(st.RestoreTests) != 2 {
				t.Fatalf("status: %v %+v", err, st)
			}
		})
	}
}

// TestBackupTargetsFail: a target that is down makes the backup degraded
// and alerts the security operators; a changed chunk is named by verify;
// without the root key a backup does not open.
func TestBackupTargetsFail(t *testing.T) {
	s3 := valvtest.S3(t)
	dir := t.TempDir()
	ts := startServer(t, withBackupTargets(dir, s3))
	backupFixture(t, ts)
	ctx := context.Background()

	s3.Stop()
	rep, err := ts.app.BackupNow(ctx, nil)
	ts.clock.Advance(time.Minute)
	if err != nil || rep.Status != backup.StatusDegraded || rep.Targets[0].OK != true || rep.Targets[1].OK {
		t.Fatalf("backup with a target down: %v %+v", err, rep)
	}
	if m := ts.mail.Wait(t, "ops@valv.test", regexp.MustCompile(`Backup degraded`)); !strings.Contains(m, "offsite") {
		t.Errorf("alert: %s", m)
	}
	if m := metrics(t, ts); !strings.Contains(m, `valv_backup_last_status{status="degraded"} 1`) || !strings.Contains(m, `valv_backup_target_ok{target="offsite"} 0`) {
		t.Error("metrics do not show the degraded backup")
	}
	if err := s3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = ts.app.BackupNow(ctx, nil)
	if err != nil || rep.Status != backup.StatusOK {
		t.Fatalf("backup with both targets: %v %+v", err, rep)
	}

	// One flipped byte in a chunk on the directory target.
	chunk := filepath.Join(dir, "backups", rep.ID, "chunks", "000000")
	b, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(chunk, b, 0o600); err != nil {
		t.Fatal(err)
	}
	vr, err := ts.app.VerifyBackup(ctx, "primary", rep.ID)
	if err != nil || len(vr) != 1 || vr[0].OK || len(vr[0].Problems) == 0 ||
		!strings.Contains(vr[0].Problems[0], "chunk 0 (backups/"+rep.ID+"/chunks/000000) on target primary: checksum mismatch") {
		t.Fatalf("verify of a changed chunk: %v %+v", err, vr)
	}
	if vr, _ := ts.app.VerifyBackup(ctx, "offsite", rep.ID); !vr[0].OK {
		t.Fatalf("the other copy: %+v", vr)
	}
	// The restore test reports the bad copy and alerts.
	if _, err := ts.app.RestoreTests(ctx); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("restore test of a bad copy: %v", err)
	}
	ts.mail.Wait(t, "ops@valv.test", regexp.MustCompile(`Restore test failed`))

	// Without the root key the backup does not open: another key file
	// is refused, and the data cannot be read.
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := (keyring.FileKey{Path: other}).Create(); err != nil {
		t.Fatal(err)
	}
	dest := ts.app.Config()
	dest.DataDir, dest.Database, dest.Keys.File = t.TempDir(), config.Database{Driver: "sqlite", AutoMigrate: true, MaxOpenConns: 2}, ""
	_, err = RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Target: "offsite", Dest: dest, RootKeyFile: other})
	if err == nil || !strings.Contains(err.Error(), "not the key this backup was made under") {
		t.Fatalf("restore with another key: %v", err)
	}
	if _, err := os.Stat(dest.SQLitePath()); err == nil {
		t.Fatal("a refused restore left a database")
	}
}

// TestBackupErasureReplay (GDPR-5): Anna is erased after seven daily
// backups; restoring any of them brings none of her documents back.
func TestBackupErasureReplay(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, withBackupTargets(dir, nil))
	op := ts.operator()
	f := newGDPRFixture(t, ts, op, "Minne AB", "owner@minne.se")
	ctx := context.Background()
	annaDocs := []string{f.member, f.message}
	var ids []string
	for day := range 7 {
		ts.clock.Advance(24 * time.Hour)
		f.owner = ts.login(f.slug, "owner@minne.se")
		var d gdprDoc
		f.owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "member", "document_date": "2026-03-01",
			"data": map[string]string{"name": "Anna Andersson", "plan": fmt.Sprint(day)}, "subjects": annaIDs[:1]}).json(t, &d)
		annaDocs = append(annaDocs, d.ID)
		rep, err := ts.app.BackupNow(ctx, nil)
		if err != nil || rep.Status != backup.StatusDegraded { // one target only
			t.Fatalf("day %d: %v %+v", day, err, rep)
		}
		ids = append(ids, rep.ID)
	}
	r := f.request(t, f.owner, map[string]any{"kind": "erasure", "subjects": annaIDs})
	f.owner.must(200, "GET", "/api/v1/subject-requests/"+r.ID, nil).json(t, &r)
	if r.Status != "completed" {
		t.Fatalf("erasure: %+v", r)
	}
	// The ledger goes to the targets on its own schedule.
	if _, err := ts.app.Backups.SyncLedger(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		dest := ts.app.Config()
		dest.DataDir, dest.Database, dest.Keys.File = filepath.Join(t.TempDir(), "r"), config.Database{Driver: "sqlite", AutoMigrate: true, MaxOpenConns: 2}, ""
		res, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), ID: id, Dest: dest})
		if err != nil {
			t.Fatalf("restore %s: %v", id, err)
		}
		if res.Replayed.Entries == 0 || res.Replayed.Subjects == 0 {
			t.Fatalf("restore %s replayed nothing: %+v", id, res.Replayed)
		}
		db := openRestored(t, dest)
		for _, doc := range annaDocs {
			if _, err := db.Reader().Document(ctx, f.tenantID, doc); err == nil {
				t.Fatalf("restored %s: Anna's document %s came back", id, doc)
			}
		}
		if _, err := db.Reader().Document(ctx, f.tenantID, f.other); err != nil {
			t.Fatalf("restored %s: Bertil's document is gone: %v", id, err)
		}
		// The legal-archive invoice is kept, restricted, as in the source.
		if n := countRows(t, dest, "SELECT COUNT(*) FROM documents WHERE id = '"+f.invoice+"' AND restricted = 'erasure'"); n != 1 {
			t.Fatalf("restored %s: the invoice is not restricted (%d)", id, n)
		}
	}
}

func countRows(t *testing.T, cfg config.Config, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", cfg.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return int64(count(t, db, q))
}

// TestBackupUnderLoad: a backup taken while documents are written is one
// consistent snapshot: it restores, its audit chains verify, and every
// document in it is whole (all its versions and files decrypt).
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, withBackupTargets(dir, nil))
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Last AB", "owner@last.se")
	key := ts.keyClient(owner, "documents:write", "documents:read")
	ctx := context.Background()
	ts.clock.Advance(time.Minute) // after the backup the scheduled job took at start
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res := key.upload(map[string]any{"type": "note", "document_date": "2026-05-01", "data": map[string]any{"n": i, "w": w}},
					"a.txt", "text/plain", bytes.Repeat([]byte{'a' + byte(w)}, 20000+i), nil)
				if res.Status == 201 {
					written.Add(1)
				}
			}
		}()
	}
	for written.Load() < 20 {
		time.Sleep(20 * time.Millisecond)
	}
	rep, err := ts.app.BackupNow(ctx, nil)
	close(stop)
	wg.Wait()
	if err != nil || rep.Status == backup.StatusFailed {
		t.Fatalf("backup under load: %v %+v", err, rep)
	}
	dest := ts.app.Config()
	dest.DataDir, dest.Database, dest.Keys.File = filepath.Join(t.TempDir(), "r"), config.Database{Driver: "sqlite", AutoMigrate: true, MaxOpenConns: 2}, ""
	res, err := RestoreBackup(ctx, RestoreRequest{Source: ts.app.Config(), Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	if res.AuditEntries == 0 {
		t.Fatalf("nothing verified: %+v", res)
	}
	// Every restored document decrypts whole: check them all, not a sample.
	root, err := ts.app.Keys.Root()
	if err != nil {
		t.Fatal(err)
	}
	check, err := checkRestored(ctx, dest, root, time.Now, 1<<20)
	if err != nil || check.sampled == 0 {
		t.Fatalf("restored documents: %v %+v", err, check)
	}
	t.Logf("backup under load: %d documents written during the test, %d rows in the backup", written.Load(), rep.Rows)
}
