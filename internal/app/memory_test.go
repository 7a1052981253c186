package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// serveChildEnv makes the test binary a Valv server on the data directory
// it names (for measurements of a process of its own).
const (
	serveChildEnv      = "VALV_TEST_SERVE_CHILD_DIR"
	serveChildClamdEnv = "VALV_TEST_SERVE_CHILD_CLAMD"
)

func serveChild(dir string) {
	cfg := testConfig(dir)
	cfg.Listen = "127.0.0.1:0"
	cfg.Scan.Address = os.Getenv(serveChildClamdEnv)
	cfg.Scan.MaxStreamSize = valvtest.DefaultClamdStreamMaxLength
	a, err := Open(context.Background(), Options{Config: cfg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	if err := a.Serve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(4)
	}
}

// procStatus reads a field of a process's /proc status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// peakAnon samples a process's anonymous resident memory (heap, stacks,
// SQLite's page cache — not the file pages the database maps) while fn
// runs, and returns the largest value seen.
func peakAnon(t *testing.T, pid int, fn func()) int64 {
	t.Helper()
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var max int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := procStatus(pid, "RssAnon"); err == nil && v > max {
				max = v
			}
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	return <-peak
}

// TestUploadMemoryIsBounded uploads a 40 MiB file to a Valv server in a
// process of its own and measures the server's peak resident set: the
// file is streamed (scanned, sealed, written in chunks), never held whole,
// so the peak grows by much less than the file (DOC-3).
func TestUploadMemoryIsBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read a process's peak memory")
	}
	clamd := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: testConfig(dir)})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Minne AB"})
	if err != nil {
		t.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: tn.Tenant.ID, Role: authz.Owner}
	_, key, err := a.Auth.CreateAPIKey(ctx, owner, auth.APIKeyInput{Name: "upload", Scopes: []authz.Scope{authz.ScopeDocumentsWrite, authz.ScopeDocumentsRead}})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	cmd := exec.Command(exe, "-test.run=^$")
	// GOGC=50: the garbage collector runs twice as often, so that what is
	// measured is memory the server holds, not garbage it has yet to
	// collect (which grows with the bytes passing through, however they
	// are passed).
	cmd.Env = append(os.Environ(), serveChildEnv+"="+dir, serveChildClamdEnv+"="+clamd.Addr, "GOGC=50")
	var stderr syncWriter
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var base string
	for deadline := time.Now().Add(20 * time.Second); ; {
		if b, err := os.ReadFile(filepath.Join(dir, "valv.addr")); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			_, port, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
			base = "https://localhost:" + port
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child server did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "tls", "self-signed.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &client{t: t, base: base, header: http.Header{"Authorization": {"Bearer " + key}},
		http: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}

	// Warm up (first upload, first download), then measure.
	pid := cmd.Process.Pid
	small := append([]byte("%PDF-1.7\n"), randomBytes(t, 1<<20)...)
	var warm docView
	c.upload(map[string]any{"type": "warm"}, "w.pdf", "application/pdf", small, nil).json(t, &warm)
	c.must(200, "GET", "/api/v1/documents/"+warm.ID+"/content", nil)
	base0, err := procStatus(pid, "RssAnon")
	if err != nil {
		t.Fatal(err)
	}

	// Upload and download a file, returning how far the server's memory
	// grew above what it was at rest during each.
	measure := func(size int64) (up, down int64) {
		var doc docView
		upPeak := peakAnon(t, pid, func() {
			body, ct := multipartBody(t, map[string]any{"type": "big"}, "big.bin", "application/octet-stream", &patternReader{n: size})
			r := c.send("POST", "/api/v1/documents", body, ct, nil)
			if r.Status != 201 {
				t.Fatalf("%d MiB upload = %d %s", size>>20, r.Status, r.Body)
			}
			r.json(t, &doc)
		})
		downPeak := peakAnon(t, pid, func() {
			req, _ := http.NewRequest("GET", base+"/api/v1/documents/"+doc.ID+"/content", nil)
			req.Header = c.header.Clone()
			resp, err := c.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			want := patternSum(size)
			if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("download: %d bytes, %v", n, err)
			}
		})
		return upPeak - base0, downPeak - base0
	}
	up4, down4 := measure(4 << 20)
	up40, down40 := measure(40 << 20)
	hwm, _ := procStatus(pid, "VmHWM")
	t.Logf("server anonymous memory %d MiB at rest; peak growth: 4 MiB file +%d MiB up, +%d MiB down; 40 MiB file +%d MiB up, +%d MiB down (VmHWM with file pages: %d MiB)",
		base0>>20, up4>>20, down4>>20, up40>>20, down40>>20, hwm>>20)
	// Streamed: ten times the file does not take ten times the memory —
	// the growth is the buffers', the page caches' and the garbage
	// collector's slack, not the file's.
	// (Held whole, the file alone would add 40 MiB, its ciphertext as much
	// again.)
	// The bounds allow for the garbage collector's slack, which grows
	// with the live heap (the compiled WAF rule set, about 25 MiB, is part
	// of it) and varies from run to run.
	const slack = 20 << 20
	if up40 > up4+slack || down40 > down4+slack || up40 >= 34<<20 || down40 >= 34<<20 {
		t.Errorf("memory grows with the file: 4 MiB +%d/+%d MiB, 40 MiB +%d/+%d MiB", up4>>20, down4>>20, up40>>20, down40>>20)
	}
}
