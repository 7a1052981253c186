package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webhookEndpoint is an HTTPS test endpoint that checks every delivery with
// Verify and records it.
type webhookEndpoint struct {
	*httptest.Server
	roots *x509.CertPool

	mu       sync.Mutex
	verified []error
	headers  []http.Header
	bodies   [][]byte
}

func newWebhookEndpoint(t *testing.T, secrets [][]byte, now func() time.Time, handler http.HandlerFunc) *webhookEndpoint {
	t.Helper()
	e := &webhookEndpoint{}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		e.mu.Lock()
		e.verified = append(e.verified, Verify(secrets, r.Header, body, now(), 0))
		e.headers = append(e.headers, r.Header.Clone())
		e.bodies = append(e.bodies, body)
		e.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	e.EnableHTTP2 = true
	e.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	e.StartTLS()
	t.Cleanup(e.Close)
	e.roots = x509.NewCertPool()
	e.roots.AddCert(e.Certificate())
	return e
}

func (e *webhookEndpoint) deliveries() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.verified)
}

func TestWebhookSender(t *testing.T) {
	key := mustSecret(t, kaSecret)
	old := bytes.Repeat([]byte{9}, 32)
	clock := func() time.Time { return time.Unix(1700000000, 0) }
	e := newWebhookEndpoint(t, [][]byte{key}, clock, nil)
	oldOnly := newWebhookEndpoint(t, [][]byte{old}, clock, nil)

	s := NewWebhookSender(WebhookOptions{RootCAs: e.roots, Now: clock})
	body := []byte(`{"type":"security.alert","timestamp":"2023-11-14T22:13:20Z","data":{"id":"al_1"}}`)
	w := Webhook{URL: e.URL + "/hooks/valv", ID: "msg_1", Body: body, Secrets: [][]byte{key, old}}
	res, err := s.Send(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.Latency <= 0 || res.RetryAfter != 0 {
		t.Errorf("result %+v", res)
	}
	if e.deliveries() != 1 || e.verified[0] != nil {
		t.Fatalf("endpoint: %d deliveries, verify: %v", e.deliveries(), e.verified)
	}
	h := e.headers[0]
	if h.Get("Content-Type") != "application/json" || h.Get(HeaderWebhookID) != "msg_1" || h.Get(HeaderWebhookTimestamp) != "1700000000" {
		t.Errorf("headers %v", h)
	}
	if n := len(strings.Fields(h.Get(HeaderWebhookSignature))); n != 2 {
		t.Errorf("%d signatures, want one per secret", n)
	}
	if !bytes.Equal(e.bodies[0], body) {
		t.Errorf("body %q", e.bodies[0])
	}

	// During a rotation an endpoint that still has the old secret accepts.
	w.URL = oldOnly.URL
	if _, err := s.Send(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if oldOnly.verified[0] != nil {
		t.Errorf("old secret: %v", oldOnly.verified[0])
	}
}

func TestWebhookSenderStatus(t *testing.T) {
	key := mustSecret(t, kaSecret)
	var redirected atomic.Int32
	e := newWebhookEndpoint(t, [][]byte{key}, time.Now, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			redirected.Add(1)
		case "/big":
			// Far more than the sender reads.
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 32 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/accepted":
			w.WriteHeader(http.StatusAccepted)
		}
	})
	s := NewWebhookSender(WebhookOptions{RootCAs: e.roots})
	send := func(path string) (WebhookResult, error) {
		return s.Send(t.Context(), Webhook{URL: e.URL + path + "?token=s3cr3t-t0ken", ID: "msg_2", Body: []byte(`{}`), Secrets: [][]byte{key}})
	}

	res, err := send("/busy")
	if !errors.Is(err, ErrWebhookStatus) || res.Status != 503 || res.RetryAfter != 2*time.Minute {
		t.Errorf("busy: %+v, %v", res, err)
	}
	res, err = send("/gone")
	if !errors.Is(err, ErrWebhookStatus) || res.Status != 410 {
		t.Errorf("gone: %+v, %v", res, err)
	}
	if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/gone")) {
		t.Errorf("error quotes the URL: %v", err)
	}
	res, err = send("/moved")
	if !errors.Is(err, ErrWebhookStatus) || res.Status != 302 || redirected.Load() != 0 {
		t.Errorf("redirect: %+v, %v, followed %d times", res, err, redirected.Load())
	}
	res, err = send("/big")
	if err != nil || res.Status != 200 {
		t.Errorf("big response: %+v, %v", res, err)
	}
	res, err = send("/accepted")
	if err != nil || res.Status != 202 {
		t.Errorf("202: %+v, %v", res, err)
	}
}

func TestWebhookSenderRefuses(t *testing.T) {
	key := mustSecret(t, kaSecret)
	e := newWebhookEndpoint(t, [][]byte{key}, time.Now, nil)
	s := NewWebhookSender(WebhookOptions{RootCAs: e.roots})
	ok := Webhook{URL: e.URL, ID: "msg_3", Body: []byte(`{"a":1}`), Secrets: [][]byte{key}}
	for name, edit := range map[string]func(*Webhook){
		"http":         func(w *Webhook) { w.URL = "http" + strings.TrimPrefix(e.URL, "https") },
		"no scheme":    func(w *Webhook) { w.URL = strings.TrimPrefix(e.URL, "https://") },
		"no host":      func(w *Webhook) { w.URL = "https:///hook" },
		"not json":     func(w *Webhook) { w.Body = []byte("a=1") },
		"empty body":   func(w *Webhook) { w.Body = nil },
		"dotted id":    func(w *Webhook) { w.ID = "msg.3" },
		"empty id":     func(w *Webhook) { w.ID = "" },
		"no secret":    func(w *Webhook) { w.Secrets = nil },
		"short secret": func(w *Webhook) { w.Secrets = [][]byte{key[:8]} },
	} {
		w := ok
		edit(&w)
		if _, err := s.Send(t.Context(), w); err == nil {
			t.Errorf("%s: sent", name)
		}
	}
	if n := e.deliveries(); n != 0 {
		t.Errorf("%d invalid webhooks reached the endpoint", n)
	}
	if _, err := s.Send(t.Context(), ok); err != nil {
		t.Errorf("valid webhook: %v", err)
	}
}

func TestWebhookSenderTLS(t *testing.T) {
	key := mustSecret(t, kaSecret)
	e := newWebhookEndpoint(t, [][]byte{key}, time.Now, nil)
	w := Webhook{URL: e.URL + "/hook/s3cr3t-path", ID: "msg_4", Body: []byte(`{}`), Secrets: [][]byte{key}}

	// Not trusted: the test CA is not in the system's roots.
	res, err := NewWebhookSender(WebhookOptions{}).Send(t.Context(), w)
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) || res.Status != 0 {
		t.Errorf("untrusted certificate: %+v, %v", res, err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error quotes the URL: %v", err)
	}

	// An endpoint that offers only TLS 1.1 is refused.
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a TLS 1.1 endpoint got a request")
	}))
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.Config.ErrorLog = log.New(io.Discard, "", 0)
	old.StartTLS()
	t.Cleanup(old.Close)
	roots := x509.NewCertPool()
	roots.AddCert(old.Certificate())
	w.URL = old.URL
	if _, err := NewWebhookSender(WebhookOptions{RootCAs: roots}).Send(t.Context(), w); err == nil {
		t.Error("TLS 1.1 endpoint accepted")
	}
}

func TestWebhookSenderTimeout(t *testing.T) {
	key := mustSecret(t, kaSecret)
	release := make(chan struct{})
	e := newWebhookEndpoint(t, [][]byte{key}, time.Now, func(http.ResponseWriter, *http.Request) {
		<-release
	})
	defer close(release)
	s := NewWebhookSender(WebhookOptions{RootCAs: e.roots, Timeout: 200 * time.Millisecond})
	w := Webhook{URL: e.URL + "/slow", ID: "msg_5", Body: []byte(`{}`), Secrets: [][]byte{key}}
	start := time.Now()
	res, err := s.Send(t.Context(), w)
	if err == nil || res.Status != 0 {
		t.Errorf("slow endpoint: %+v, %v", res, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}

	// The caller's context ends an attempt too.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Send(ctx, w); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// TestWebhookSenderDialer checks that a DialContext set in the options
// decides where connections go (the hook for refusing internal addresses).
func TestWebhookSenderDialer(t *testing.T) {
	key := mustSecret(t, kaSecret)
	e := newWebhookEndpoint(t, [][]byte{key}, time.Now, nil)
	refused := errors.New("destination not allowed")
	s := NewWebhookSender(WebhookOptions{RootCAs: e.roots, DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, refused
	}})
	_, err := s.Send(t.Context(), Webhook{URL: e.URL, ID: "msg_6", Body: []byte(`{}`), Secrets: [][]byte{key}})
	if !errors.Is(err, refused) {
		t.Errorf("err = %v, want the dialer's", err)
	}
	if e.deliveries() != 0 {
		t.Error("the dialer was bypassed")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 4, 14, 5, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-5":                            0,
		"soon":                          0,
		"99999999":                      maxRetryAfter,
		"Tue, 04 Mar 2025 14:07:00 GMT": 2 * time.Minute,
		"Tue, 04 Mar 2025 14:00:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
