package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/backup"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/tenant"
)

// BenchmarkBackup measures backup and restore throughput on a generated
// data set (VALV_BENCH_BACKUP_MB, default 256; the figure is for
// 1024) of documents with 4 MiB files, and compares it in the same run with
// restic (if installed) backing up and restoring the same files as a
// directory. Run it with -benchtime=1x:
//
//	VALV_BENCH_BACKUP_MB=1024 go test -run '^$' -bench BenchmarkBackup -benchtime=1x ./internal/app/
func BenchmarkBackup(b *testing.B) {
	mb := 256
	if s := os.Getenv("VALV_BENCH_BACKUP_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	dir := b.TempDir()
	cfg := testConfig(filepath.Join(dir, "data"))
	cfg.Documents.AllowUnscanned = true
	cfg.Backup.Targets = []config.BackupTarget{{Name: "primary", Type: "dir", Region: "se-sto", Path: filepath.Join(dir, "target")}}
	cfg.Backup.Interval, cfg.Backup.RestoreTestInterval = 0, 0
	a, err := Open(ctx, Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Bench Backup AB"})
	if err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: c.Tenant.ID, Role: authz.Owner}
	export := filepath.Join(dir, "export")
	os.MkdirAll(export, 0o700)
	file := make([]byte, 4<<20)
	for i := range mb / 4 {
		rand.Read(file)
		if _, err := a.Documents.Create(withAuditRecord(ctx, "document.create"), owner, document.CreateRequest{Input: benchDoc(i),
			File: &document.Upload{Name: "scan.bin", ContentType: "application/octet-stream", Body: bytes.NewReader(file)}}); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(export, fmt.Sprintf("%06d.bin", i)), file, 0o600)
	}
	root, err := a.Keys.Root()
	if err != nil {
		b.Fatal(err)
	}
	var valvBackup, valvRestore float64
	b.Run("valv", func(b *testing.B) {
		for range b.N {
			start := time.Now()
			rep, err := a.Backups.Run(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			valvBackup = float64(rep.PlainBytes) / (1 << 20) / took.Seconds()
			dest := filepath.Join(b.TempDir(), "restored.db")
			db, err := openStore(ctx, config.Config{Database: config.Database{Driver: "sqlite", Path: dest, MaxOpenConns: 2}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			if _, err := backup.Restore(ctx, backup.RestoreOptions{Target: a.Backups.Targets()[0], ID: rep.ID, Root: root, Dest: db}); err != nil {
				b.Fatal(err)
			}
			valvRestore = float64(rep.PlainBytes) / (1 << 20) / time.Since(start).Seconds()
			db.Close()
			b.ReportMetric(valvBackup, "backup-MB/s")
			b.ReportMetric(valvRestore, "restore-MB/s")
			b.ReportMetric(float64(rep.Stored)/(1<<20), "stored-MiB")
		}
	})
	restic, err := exec.LookPath("restic")
	if err != nil {
		b.Log("restic is not installed: no comparison")
		return
	}
	b.Run("restic", func(b *testing.B) {
		for range b.N {
			repo := filepath.Join(b.TempDir(), "repo")
			env := append(os.Environ(), "RESTIC_PASSWORD=bench", "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+b.TempDir())
			run := func(args ...string) time.Duration {
				start := time.Now()
				cmd := exec.Command(restic, args...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("restic %v: %v\n%s", args, err, out)
				}
				return time.Since(start)
			}
			run("init")
			took := run("backup", "--quiet", export)
			rb := float64(mb) / took.Seconds()
			took = run("restore", "latest", "--target", b.TempDir())
			rr := float64(mb) / took.Seconds()
			b.ReportMetric(rb, "backup-MB/s")
			b.ReportMetric(rr, "restore-MB/s")
			if valvBackup > 0 {
				b.ReportMetric(valvBackup/rb, "valv/restic-backup")
				b.ReportMetric(valvRestore/rr, "valv/restic-restore")
			}
		}
	})
}
