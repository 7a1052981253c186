package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

func crashDocConfig(dir string) config.Config {
	cfg := testConfig(dir)
	cfg.Documents.AllowUnscanned = true
	return cfg
}

func crashOwner(tenantID string) authz.Principal {
	return authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: tenantID, Role: authz.Owner}
}

// crashDocumentsChild creates documents with files as fast as it can from
// several goroutines, printing "ack <id> <sha256 of the file>" for each one
// Create returned, until killed.
func crashDocumentsChild(dir, tenantID string) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: crashDocConfig(dir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			for i := 0; ; i++ {
				file := make([]byte, 1000+rng.IntN(1<<20)) // up to two chunks and more
				for j := range file {
					file[j] = byte(rng.IntN(256))
				}
				copy(file, "%PDF-1.7\n")
				sum := sha256.Sum256(file)
				cctx, _ := audit.Begin(ctx, "document.create")
				c, err := a.Documents.Create(cctx, crashOwner(tenantID), document.CreateRequest{
					Input: document.Input{Type: "crash", Subjects: []document.Subject{{Kind: "customer_number", Value: fmt.Sprintf("C-%d-%d", w, i)}}},
					File:  &document.Upload{Name: "f.pdf", ContentType: "application/pdf", Body: bytes.NewReader(file)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s %s\n", c.Document.ID, hex.EncodeToString(sum[:]))
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

var docAckLine = regexp.MustCompile(`^ack ([0-9a-f-]{36}) ([0-9a-f]{64})$`)

// TestCrashSafetyDocuments kills a child creating documents with files
// with SIGKILL, 10 times: every acknowledged document must be readable
// with its file intact afterwards, and nothing half-stored is visible —
// every listed document reads whole, no stored file is orphaned, and the
// cleanup removes what interrupted uploads staged (DOC-3).
func TestCrashSafetyDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is long")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: crashDocConfig(dir)})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Crash Docs AB"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	tenantID := tn.Tenant.ID

	acked := map[string]string{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round := 0; round < 10; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashTenantEnv+"="+tenantID)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncWriter
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan map[string]string, 1)
		go func() {
			got := map[string]string{}
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := docAckLine.FindStringSubmatch(sc.Text()); m != nil {
					got[m[1]] = m[2]
				}
			}
			_, _ = io.Copy(io.Discard, stdout)
			lines <- got
		}()
		time.Sleep(time.Duration(300+rng.IntN(500)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		got := <-lines
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own (%v): %s", round, err, stderr.String())
		}
		for id, sum := range got {
			acked[id] = sum
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d documents acknowledged; the test did not exercise much", len(acked))
	}

	clock := valvtest.NewClock(time.Now())
	a, err = Open(ctx, Options{Config: crashDocConfig(dir), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	owner := crashOwner(tenantID)
	read := func(id string) (string, error) {
		rctx, _ := audit.Begin(ctx, "document.content.read")
		c, err := a.Documents.OpenContent(rctx, owner, id)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		if _, err := io.Copy(h, c.Reader); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	for id, sum := range acked {
		got, err := read(id)
		if err != nil || got != sum {
			t.Errorf("acknowledged document %s: %v (file %s, want %s)", id, err, got, sum)
		}
	}
	// Every document that is visible reads whole.
	listed, cursor := 0, ""
	for {
		lctx, _ := audit.Begin(ctx, "document.list")
		page, next, err := a.Documents.List(lctx, owner, document.Filter{}, cursor, document.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			listed++
			if _, err := read(d.ID); err != nil {
				t.Errorf("listed document %s does not read: %v", d.ID, err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// Nothing stored is orphaned, and the cleanup removes what was staged.
	cfg := a.Config()
	rawDB, err := sql.Open("sqlite", cfg.SQLitePath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer rawDB.Close()
	raw := func(q string) int64 {
		return int64(count(t, rawDB, q))
	}
	if n := raw(`SELECT count(*) FROM files f WHERE state = 'stored' AND NOT EXISTS (SELECT 1 FROM document_versions v WHERE v.file_id = f.id)`); n != 0 {
		t.Errorf("%d stored files belong to no document", n)
	}
	staged := raw(`SELECT count(*) FROM files WHERE state = 'staged'`)
	clock.Advance(7 * time.Hour)
	if _, err := a.Documents.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if n := raw(`SELECT count(*) FROM files WHERE state = 'staged'`); n != 0 {
		t.Errorf("%d staged files left after the cleanup", n)
	}
	if n := raw(`SELECT count(*) FROM file_chunks c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = c.file_id)`); n != 0 {
		t.Errorf("%d chunks belong to no file", n)
	}
	t.Logf("%d acknowledged documents intact, %d listed, %d interrupted uploads cleaned up", len(acked), listed, staged)
}
