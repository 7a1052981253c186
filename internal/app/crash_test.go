package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

const crashChildEnv = "VALV_TEST_CRASH_CHILD_DIR"

// op is the principal tests act as: the operator at the console.
var op = authz.LocalOperator("test")

// crashTenantEnv makes the crash child write documents of this tenant.
const crashTenantEnv = "VALV_TEST_CRASH_TENANT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveChildEnv); dir != "" {
		serveChild(dir)
		return
	}
	if dir := os.Getenv(cullChildEnv); dir != "" {
		cullChild(dir)
		return
	}
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if tenantID := os.Getenv(crashTenantEnv); tenantID != "" {
			crashDocumentsChild(dir, tenantID)
			return
		}
		crashChild(dir)
		return
	}
	valvtest.Main(m)
}

func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.Environment = config.Test
	cfg.DataDir = dir
	// Background jobs run once at start; tests run them when they want to
	// (App.Jobs.RunDue) with the test clock.
	cfg.Jobs.Poll = 10 * time.Minute
	return cfg
}

// crashChild writes tenants as fast as it can from several goroutines and
// prints "ack <id>" for each one Create returned successfully, until killed.
func crashChild(dir string) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: testConfig(dir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				t, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: fmt.Sprintf("crash %d %d %d", os.Getpid(), w, i)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s\n", t.Tenant.ID)
				out.Flush() // the line must leave the process before we count it
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

var ackLine = regexp.MustCompile(`^ack ([0-9a-f-]{36})$`)

// TestCrashSafety kills a writing child with SIGKILL at random moments, 20
// times: every write it acknowledged must be there afterwards, and the
// database must pass SQLite's integrity check (BAK-4).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is long")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := 0; round < 20; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncWriter
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string, 1)
		go func() {
			var ids []string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := ackLine.FindStringSubmatch(sc.Text()); m != nil {
					ids = append(ids, m[1])
				}
			}
			_, _ = io.Copy(io.Discard, stdout)
			lines <- ids
		}()
		time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		ids := <-lines
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own (%v): %s", round, err, stderr.String())
		}
		for _, id := range ids {
			acked[id] = true
		}
		t.Logf("round %d: %d acknowledged", round, len(ids))
	}
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged; the test did not exercise much", len(acked))
	}
	a, err := Open(context.Background(), Options{Config: testConfig(dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range acked {
		if _, err := a.Tenants.Get(context.Background(), op, id); err != nil {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged tenant %s is gone: %v", id, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acked))
	}
	t.Logf("%d acknowledged writes all present in %s", len(acked), filepath.Base(dir))
}

type syncWriter struct {
	mu sync.Mutex
	b  []byte
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
