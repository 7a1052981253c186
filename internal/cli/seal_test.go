package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLI runs the valv command in process with stdin and the environment.
func runCLI(t *testing.T, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Streams{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Environ: env})
	return code, out.String(), errb.String()
}

// startServe runs 'valv serve' until the test ends and returns its address.
func startServe(t *testing.T, env []string, dir string) (string, *syncBuffer, *syncBuffer) {
	t.Helper()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"},
			Streams{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Environ: env})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "valv.addr")); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b)), &stdout, &stderr
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSealedServer: a Shamir installation starts sealed; K-1 shares leave
// it sealed, a wrong share is refused and not counted, K shares unseal it,
// one share seals it again; shares never reach the log.
func TestSealedServer(t *testing.T) {
	dir := t.TempDir()
	env := []string{"VALV_KEYS_PROVIDER=shamir", "VALV_ENVIRONMENT=test", "VALV_LOG_LEVEL=debug"}
	code, out, errs := runCLI(t, "", env, "operator", "init", "--data-dir", dir, "--key-shares", "5", "--key-threshold", "3")
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	shares := regexp.MustCompile(`Unseal share \d: (\S+)`).FindAllStringSubmatch(out, -1)
	if len(shares) != 5 {
		t.Fatalf("init printed %d shares:\n%s", len(shares), out)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Fatal("a Shamir installation wrote a root key file")
	}
	if code, _, errs := runCLI(t, "", env, "operator", "init", "--data-dir", dir); code == 0 || !strings.Contains(errs, "already initialised") {
		t.Fatalf("second init: %d %s", code, errs)
	}

	addr, serveOut, serveLog := startServe(t, env, dir)
	if !strings.Contains(serveOut.String(), "SEALED") {
		t.Errorf("serve did not say it is sealed:\n%s", serveOut.String())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	status := func(path string) (int, string) {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, body := status("/readyz"); c != 503 || !strings.Contains(body, `"keys":"sealed"`) {
		t.Fatalf("sealed /readyz = %d %s", c, body)
	}
	if c, _ := status("/healthz"); c != 200 {
		t.Fatalf("sealed /healthz = %d", c)
	}
	unseal := func(share string) (int, string, string) {
		return runCLI(t, share+"\n", env, "operator", "unseal", "--data-dir", dir)
	}
	for i := 0; i < 2; i++ {
		if code, out, errs := unseal(shares[i][1]); code != 0 || !strings.Contains(out, "sealed") {
			t.Fatalf("share %d: %d %s %s", i, code, out, errs)
		}
	}
	if c, _ := status("/readyz"); c != 503 {
		t.Fatal("unsealed with K-1 shares")
	}
	// A wrong share is refused with a clear error and does not count.
	forged := shares[2][1][:len(shares[2][1])-8] + "00000000"
	if code, _, errs := unseal(forged); code == 0 || !strings.Contains(errs, "not accepted") {
		t.Fatalf("wrong share: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, "", env, "operator", "status", "--data-dir", dir); code == 0 || !strings.Contains(out, "2 given") {
		t.Fatalf("status after wrong share: %d %s", code, out)
	}
	if code, out, errs := unseal(shares[4][1]); code != 0 || !strings.Contains(out, "Valv is unsealed") {
		t.Fatalf("K-th share: %d %s %s", code, out, errs)
	}
	if c, body := status("/readyz"); c != 200 {
		t.Fatalf("unsealed /readyz = %d %s", c, body)
	}
	// Seal again with one share.
	if code, out, errs := runCLI(t, shares[3][1]+"\n", env, "operator", "seal", "--data-dir", dir); code != 0 {
		t.Fatalf("seal: %d %s %s", code, out, errs)
	}
	if c, _ := status("/readyz"); c != 503 {
		t.Fatal("still unsealed after seal")
	}
	for _, s := range shares {
		if strings.Contains(serveOut.String()+serveLog.String(), s[1]) {
			t.Fatal("a share appeared in the server's output")
		}
	}
}
