package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/problem"
)

func newTestServer(t testing.TB, routes ...Route) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.MaxBodyBytes = 1 << 10
	cfg.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	s, err := New(Options{Config: cfg, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeError(t *testing.T, body io.Reader) problem.Body {
	t.Helper()
	var env problem.Envelope
	if err := json.NewDecoder(body).Decode(&env); err != nil {
		t.Fatalf("not an error envelope: %v", err)
	}
	return env.Error
}

func TestClientIP(t *testing.T) {
	var got netip.Addr
	s := newTestServer(t, Route{Method: "GET", Pattern: "/ip", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = call.From(r.Context()).ClientIP
	})})
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "192.0.2.7:1234", nil, "192.0.2.7"},
		{"untrusted peer's header ignored", "192.0.2.7:1234", []string{"203.0.113.9"}, "192.0.2.7"},
		{"trusted proxy", "10.1.2.3:1234", []string{"203.0.113.9"}, "203.0.113.9"},
		{"right-most untrusted hop", "10.1.2.3:1234", []string{"198.51.100.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"forged left part ignored", "10.1.2.3:1234", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{"malformed chain not believed", "10.1.2.3:1234", []string{"203.0.113.9, garbage"}, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:192.0.2.7]:1", nil, "192.0.2.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ip", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			s.Handler().ServeHTTP(httptest.NewRecorder(), r)
			if got.String() != tt.want {
				t.Fatalf("client IP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRequestIDFromTrustedProxyOnly(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		remote string
		keep   bool
	}{{"10.0.0.1:1", true}, {"192.0.2.1:1", false}} {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("X-Request-Id", "upstream-id-1234")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if kept := w.Header().Get("X-Request-Id") == "upstream-id-1234"; kept != tc.keep {
			t.Fatalf("peer %s: request id kept = %v", tc.remote, kept)
		}
	}
}

func TestErrorsAreEnvelopes(t *testing.T) {
	s := newTestServer(t,
		Route{Method: "GET", Pattern: "/panic", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("secret value 19811218-9876")
		})},
		Route{Method: "POST", Pattern: "/echo", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				problem.Write(w, call.RequestID(r.Context()), TooLarge(1<<10))
				return
			}
			w.WriteHeader(204)
		})},
	)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown path", "GET", "/nope", "", 404, "not_found"},
		{"wrong method", "PUT", "/healthz", "", 405, "method_not_allowed"},
		{"panic", "GET", "/panic", "", 500, "internal_error"},
		{"declared too large", "POST", "/echo", strings.Repeat("x", 2000), 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			if strings.Contains(w.Body.String(), "19811218") || strings.Contains(w.Body.String(), "goroutine") {
				t.Fatalf("body leaks: %s", w.Body.String())
			}
			e := decodeError(t, w.Body)
			if e.Code != tt.code || e.RequestID == "" || e.RequestID != w.Header().Get("X-Request-Id") {
				t.Fatalf("envelope = %+v", e)
			}
			if w.Header().Get("Strict-Transport-Security") == "" {
				t.Fatal("error response lacks security headers")
			}
		})
	}
	// A body over the limit without Content-Length fails while reading.
	r := httptest.NewRequest("POST", "/echo", io.NopCloser(strings.NewReader(strings.Repeat("x", 2000))))
	r.ContentLength = -1
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != 413 {
		t.Fatalf("streamed oversize body: status %d", w.Code)
	}
}

func TestMetricsLoopbackOnly(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		remote string
		status int
	}{{"127.0.0.1:5", 200}, {"[::1]:5", 200}, {"192.0.2.1:5", 403}} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Fatalf("%s: /metrics = %d, want %d", tc.remote, w.Code, tc.status)
		}
	}
}

func TestReadyz(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	s, err := New(Options{Config: cfg, Checks: []Check{
		{Name: "good", Fn: func(context.Context) error { return nil }},
		{Name: "bad", Fn: func(context.Context) error { return problem.Unavailable("sealed", "sealed") }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"good":"ok"`) || !strings.Contains(w.Body.String(), `"not_ready"`) {
		t.Fatalf("/readyz = %d %s", w.Code, w.Body.String())
	}
}

func TestRedirectHandler(t *testing.T) {
	tests := []struct {
		public, host, path, want string
	}{
		{"", "valv.example:80", "/a?b=c", "https://valv.example:8443/a?b=c"},
		{"", "[2001:db8::1]:80", "/", "https://[2001:db8::1]:8443/"},
		{"https://vault.example.se", "evil.example", "/x", "https://vault.example.se/x"},
	}
	for _, tt := range tests {
		h := redirectHandler(tt.public, "0.0.0.0:8443")
		r := httptest.NewRequest("GET", tt.path, nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tt.want {
			t.Errorf("redirect(%q, %q) = %d %q, want %q", tt.public, tt.host, w.Code, w.Header().Get("Location"), tt.want)
		}
	}
}

func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	c1, err := LoadCertificate("", "", dir, []string{"localhost", "127.0.0.1"}, now)
	if err != nil || !c1.Created || !c1.SelfSigned {
		t.Fatalf("first load: %+v %v", c1, err)
	}
	c2, err := LoadCertificate("", "", dir, []string{"localhost", "127.0.0.1"}, now)
	if err != nil || c2.Created || c2.Fingerprint != c1.Fingerprint {
		t.Fatalf("second load made a new certificate: %v", err)
	}
	// Near expiry it is replaced.
	c3, err := LoadCertificate("", "", dir, []string{"localhost"}, now.Add(380*24*time.Hour))
	if err != nil || !c3.Created {
		t.Fatalf("expiring certificate not replaced: %v", err)
	}
	// A new host name that the certificate does not cover makes a new one.
	c4, err := LoadCertificate("", "", dir, []string{"localhost", "valv.internal"}, now.Add(380*24*time.Hour))
	if err != nil || !c4.Created {
		t.Fatalf("certificate not replaced for a new host: %v", err)
	}
	cfg := TLSConfig(c4.TLS, "1.2")
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Fatal("min version")
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.Contains(name, "ECDHE") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("weak suite %s", name)
		}
	}
}

func TestSealedGate(t *testing.T) {
	sealed := true
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	s, err := New(Options{Config: cfg, Sealed: func() bool { return sealed }, Routes: []Route{
		{Method: "GET", Pattern: "/api/v1/data", Handler: ok, Class: ClassAPI},
		{Method: "POST", Pattern: "/api/v1/sys/unseal", Handler: ok, Class: ClassAPI, AllowSealed: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	if w := get("GET", "/api/v1/data"); w.Code != 503 || decodeError(t, w.Body).Code != "sealed" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("data route while sealed = %d", w.Code)
	}
	for _, p := range []struct{ m, path string }{{"POST", "/api/v1/sys/unseal"}, {"GET", "/healthz"}} {
		if w := get(p.m, p.path); w.Code == 503 {
			t.Fatalf("%s refused while sealed", p.path)
		}
	}
	sealed = false
	if w := get("GET", "/api/v1/data"); w.Code != 200 {
		t.Fatalf("data route unsealed = %d", w.Code)
	}
}
