package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"github.com/valvhq/valv/internal/config"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs 'valv serve' in process and checks what a client sees.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- Run(ctx, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0",
			"--redirect-listen", "127.0.0.1:0", "--environment", "development"},
			Streams{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Environ: nil})
	}()
	addrFile := filepath.Join(dir, "valv.addr")
	var addr string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		if b, err := os.ReadFile(addrFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			addr = strings.TrimSpace(string(b))
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited with %d: %s %s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no valv.addr: %s %s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := stdout.String()
	for _, want := range []string{"Valv is listening on https://" + addr + "/", "SHA-256 fingerprint is ", "Redirecting http://"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	base := "https://" + addr

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	resp, body := get("/healthz")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("/healthz = %d %s", resp.StatusCode, body)
	}
	for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "Content-Security-Policy", "X-Request-Id", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("/healthz lacks header %s", h)
		}
	}
	resp, body = get("/readyz")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"database":"ok"`) {
		t.Fatalf("/readyz = %d %s", resp.StatusCode, body)
	}
	resp, body = get("/metrics")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `valv_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("/metrics = %d, lacks the healthz count:\n%s", resp.StatusCode, firstLines(string(body), 5))
	}

	// Unknown routes and methods get JSON envelopes with the request id.
	resp, body = get("/api/v1/nothing-here")
	var env struct {
		Error struct{ Code, Message, RequestID string } `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != 404 || env.Error.Code != "not_found" {
		t.Fatalf("unknown route = %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("DELETE", base+"/healthz", nil)
	dresp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dbody, _ := io.ReadAll(dresp.Body)
	dresp.Body.Close()
	if dresp.StatusCode != 405 || dresp.Header.Get("Allow") == "" || !strings.Contains(string(dbody), "method_not_allowed") {
		t.Fatalf("DELETE /healthz = %d allow=%q %s", dresp.StatusCode, dresp.Header.Get("Allow"), dbody)
	}

	// TLS below 1.2 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(base + "/healthz"); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}

	// Plain HTTP on the HTTPS port is not served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served on the HTTPS port")
		}
	}

	// The redirect listener only redirects.
	m := regexp.MustCompile(`Redirecting http://(\S+) to HTTPS`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no redirect address printed")
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rresp, err := noFollow.Get("http://" + m[1] + "/api/v1/openapi.json?x=1")
	if err != nil {
		t.Fatal(err)
	}
	rresp.Body.Close()
	_, port, _ := strings.Cut(addr, ":")
	if rresp.StatusCode != http.StatusPermanentRedirect || rresp.Header.Get("Location") != "https://127.0.0.1:"+port+"/api/v1/openapi.json?x=1" {
		t.Fatalf("redirect = %d %q", rresp.StatusCode, rresp.Header.Get("Location"))
	}

	// The server log holds no request paths or queries.
	resp, _ = get("/api/v1/nothing-here?personnummer=198112189876")
	_ = resp
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited with %d after shutdown: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if strings.Contains(stderr.String(), "198112189876") {
		t.Fatal("the log holds a query value")
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Fatal("valv.addr left behind after a clean shutdown")
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestConfigurationDocIsCurrent keeps docs/configuration.md in sync with
// the Config struct.
func TestConfigurationDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- generated by `valv config keys --markdown`; a test keeps it in sync -->\n"
	_, table, ok := strings.Cut(string(doc), marker)
	if !ok {
		t.Fatal("docs/configuration.md lost its generated-table marker")
	}
	if table != config.Markdown() {
		t.Fatal("docs/configuration.md is out of date: regenerate its table with 'valv config keys --markdown'")
	}
}
