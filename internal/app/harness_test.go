package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

// testServer is a whole Valv serving HTTPS on 127.0.0.1 for a test, with
// an injected clock and its log captured.
type testServer struct {
	t     testing.TB
	app   *App
	base  string // https://localhost:port
	clock *valvtest.Clock
	logs  *lockedBuffer
	mail  mailbox
	dir   string
	opts  Options
	stop  func()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// mailbox is where a test reads the mail Valv sent.
type mailbox interface {
	// Wait returns the text of the next mail to addr whose text matches re.
	Wait(t testing.TB, to string, re *regexp.Regexp) string
	// All returns the raw text of every mail so far.
	All() string
}

type serverOption func(*config.Config, *Options)

func startServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Listen = "127.0.0.1:0"
	clock := valvtest.NewClock(time.Now().UTC().Truncate(time.Second))
	logs := &lockedBuffer{}
	o := Options{Config: cfg, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: clock.Now}
	for _, f := range opts {
		f(&o.Config, &o)
	}
	smtp := valvtest.SMTPServer(t, valvtest.SMTPAuth("valv", "smtp-password-for-tests"))
	o.Config.Mail = config.Mail{Transport: "smtp", From: "valv@valv.test", SMTP: config.SMTP{Host: "127.0.0.1", Port: smtp.Port,
		Username: "valv", Password: "smtp-password-for-tests", TLS: "starttls", CAFile: smtp.TLS.CAFile}}
	ts := &testServer{t: t, clock: clock, logs: logs, dir: dir, mail: &smtpMailbox{srv: smtp}}
	ts.boot(o)
	t.Cleanup(func() { ts.stop() })
	return ts
}

// boot opens the app with o and serves it until stop.
func (ts *testServer) boot(o Options) {
	t := ts.t
	ctx, cancel := context.WithCancel(context.Background())
	addrFile := filepath.Join(ts.dir, "valv.addr")
	os.Remove(addrFile)
	a, err := Open(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ts.app, ts.opts = a, o
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	ts.stop = func() {
		cancel()
		<-done
		a.Close()
		ts.stop = func() {}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			_, port, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
			ts.base = "https://localhost:" + port
			// A restart listens on the same port, so clients stay valid.
			ts.opts.Config.Listen = "127.0.0.1:" + port
			return
		}
		select {
		case err := <-done:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// restart stops Valv and starts it again on the same database, data
// directory and port (a node restart).
func (ts *testServer) restart() {
	ts.stop()
	ts.boot(ts.opts)
}

// client returns a new browser-like client (its own cookie jar) that
// trusts the server's self-signed certificate.
func (ts *testServer) client() *client {
	pem, err := os.ReadFile(filepath.Join(ts.dir, "tls", "self-signed.crt"))
	if err != nil {
		ts.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	return &client{t: ts.t, base: ts.base, http: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type client struct {
	t    testing.TB
	base string
	http *http.Client
	// header is sent with every request (e.g. a User-Agent).
	header http.Header
}

// response is a decoded response.
type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

// code is the error code of an error envelope, or "".
func (r response) code() string {
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &env)
	return env.Error.Code
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: data, Header: resp.Header}
}

// must does a request and fails the test unless it has the status.
func (c *client) must(status int, method, path string, body any) response {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.Status != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	return r
}

// sessionToken returns the client's session cookie value.
func (c *client) sessionToken() string {
	req, _ := http.NewRequest("GET", c.base+"/", nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		if ck.Name == "valv_session" {
			return ck.Value
		}
	}
	return ""
}

// smtpMailbox reads what the in-test SMTP server received.
type smtpMailbox struct {
	srv *valvtest.SMTP
}

func (m *smtpMailbox) Wait(t testing.TB, to string, re *regexp.Regexp) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		msg, err := m.srv.WaitFor(ctx, to)
		if err != nil {
			var seen []string
			for _, m := range m.srv.Messages() {
				seen = append(seen, strings.Join(m.To, ",")+": "+m.Subject)
			}
			t.Fatalf("no mail to %s matching %s: %v (received: %q)", to, re, err, seen)
		}
		if !msg.TLS {
			t.Fatalf("mail to %s was sent without TLS", to)
		}
		text := "To: " + strings.Join(msg.To, ", ") + "\n" + msg.Subject + "\n" + msg.Text
		if re.MatchString(text) {
			return text
		}
	}
}

func (m *smtpMailbox) All() string {
	var b strings.Builder
	for _, msg := range m.srv.Messages() {
		b.WriteString(string(msg.Raw))
	}
	return b.String()
}

type httpCookie = http.Cookie
