package message_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
)

// Fixtures of the transport tests. The path and query of every test URL
// carry markers that must never show up in an error.
const (
	trSecretPath  = "inbox-secret-path"
	trSecretQuery = "token=query-secret-token"
	trBodyMarker  = "body-marker-never-in-errors"
)

var (
	trSecret     = bytes.Repeat([]byte("k"), 32)
	trPrevSecret = bytes.Repeat([]byte("p"), 32)
	trLoopback   = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          trSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func trSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// leafSpec describes a certificate to issue; zero times mean "valid now".
type leafSpec struct {
	names     []string
	notBefore time.Time
	notAfter  time.Time
	usage     x509.ExtKeyUsage
}

// issuedCert is a certificate with its key, in the forms the tests need.
type issuedCert struct {
	tls     tls.Certificate
	certPEM []byte
	keyPEM  []byte
	pin     string
}

func (ca *testCA) issue(t testing.TB, s leafSpec) issuedCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(24 * time.Hour)
	}
	if s.usage == 0 {
		s.usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: trSerial(t),
		Subject:      pkix.Name{CommonName: strings.Join(s.names, ",")},
		DNSNames:     s.names,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{s.usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return issuedCert{
		tls:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pin:     hex.EncodeToString(sum[:]),
	}
}

// stubResolver answers from a table and counts lookups. An answer list may
// hold several answers for successive lookups of one name (rebinding); the
// last repeats.
type stubResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newStubResolver() *stubResolver {
	return &stubResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

// set makes host resolve to addrs (one answer).
func (r *stubResolver) set(host string, addrs ...string) {
	r.setAnswers(host, addrs)
}

// setAnswers makes successive lookups of host return the answers in turn.
func (r *stubResolver) setAnswers(host string, answers ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[host] = nil
	for _, a := range answers {
		var list []netip.Addr
		for _, s := range a {
			list = append(list, netip.MustParseAddr(s))
		}
		r.answers[host] = append(r.answers[host], list)
	}
}

func (r *stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.calls[host]
	r.calls[host]++
	answers, ok := r.answers[host]
	if !ok || len(answers) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(answers[min(n, len(answers)-1)]), nil
}

func (r *stubResolver) lookupsOf(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func (r *stubResolver) lookups() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

var _ message.Resolver = (*stubResolver)(nil)

// received is a request as a test server saw it.
type received struct {
	header     http.Header
	body       []byte
	host       string
	serverName string
	clientCN   string
}

// testServer is an HTTPS server on 127.0.0.1 that counts connections and
// records requests.
type testServer struct {
	*httptest.Server
	port  string
	conns atomic.Int64
	mu    sync.Mutex
	reqs  []received
}

// startServer starts a server presenting cert; handler nil answers 204.
// configure, if not nil, adjusts the server's TLS settings.
func startServer(t testing.TB, cert tls.Certificate, handler http.HandlerFunc, configure func(*tls.Config)) *testServer {
	t.Helper()
	ts := &testServer{}
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	}
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{header: r.Header.Clone(), body: body, host: r.Host}
		if r.TLS != nil {
			rec.serverName = r.TLS.ServerName
			if len(r.TLS.PeerCertificates) > 0 {
				rec.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
			}
		}
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, rec)
		ts.mu.Unlock()
		handler(w, r)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if configure != nil {
		configure(ts.TLS)
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ts.conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	ts.port = u.Port()
	return ts
}

func (ts *testServer) requests() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.reqs)
}

// url returns the URL of ts under host, with the secret path and query.
func (ts *testServer) url(host string) string {
	return fmt.Sprintf("https://%s:%s/%s?%s", host, ts.port, trSecretPath, trSecretQuery)
}

// testDelivery returns a valid delivery to rawURL.
func testDelivery(rawURL string) message.Delivery {
	return message.Delivery{
		Endpoint:    message.Endpoint{ID: "ep_1", Version: 1, URL: rawURL},
		ID:          "msg_2Yh7kQ",
		Body:        []byte("<Invoice><Note>" + trBodyMarker + "</Note></Invoice>"),
		ContentType: "application/xml",
		Secrets:     [][]byte{trSecret},
	}
}

// checkHidden fails when err's text holds the URL's path or query, the
// body, a secret or a client key.
func checkHidden(t testing.TB, err error, keyPEM []byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, bad := range []string{trSecretPath, trSecretQuery, "query-secret-token", trBodyMarker, string(trSecret), string(trPrevSecret)} {
		if strings.Contains(msg, bad) {
			t.Errorf("error %q contains %q", msg, bad)
		}
	}
	if block, _ := pem.Decode(keyPEM); block != nil {
		b64 := strings.Split(string(keyPEM), "\n")[1]
		if strings.Contains(msg, b64[:min(20, len(b64))]) || strings.Contains(msg, string(block.Bytes)) {
			t.Errorf("error %q contains the client key", msg)
		}
	}
}

func TestTransportSendSigned(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls,
		func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }, nil)
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	now := time.Unix(1_767_225_600, 0)
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: ca.pool,
		Now:     func() time.Time { return now },
	})
	t.Cleanup(tr.Close)

	for _, tc := range []struct {
		name, host string
	}{
		{"lowercase host", "partner.test"},
		{"uppercase host and trailing dot", "PARTNER.Test."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			d := testDelivery(srv.url(tc.host))
			d.ContentType = "application/xml; charset=utf-8"
			d.Secrets = [][]byte{trSecret, trPrevSecret}
			d.Header = http.Header{
				"Valv-Message-Id":    {"m_123"},
				"Valv-Sender":        {"0007:5567321707"},
				"Valv-Document-Type": {"invoice"},
			}
			r, err := tr.Send(context.Background(), d)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if r.Status != http.StatusAccepted || r.Latency <= 0 || r.RetryAfter != 0 {
				t.Errorf("Result = %+v, want status 202, a latency and no Retry-After", r)
			}
			reqs := srv.requests()
			if len(reqs) != before+1 {
				t.Fatalf("server got %d requests, want %d", len(reqs), before+1)
			}
			got := reqs[len(reqs)-1]
			if !bytes.Equal(got.body, d.Body) {
				t.Errorf("body = %q, want %q", got.body, d.Body)
			}
			for name, want := range map[string]string{
				"Content-Type":                d.ContentType,
				"Valv-Message-Id":             "m_123",
				"Valv-Sender":                 "0007:5567321707",
				"Valv-Document-Type":          "invoice",
				notify.HeaderWebhookID:        d.ID,
				notify.HeaderWebhookTimestamp: "1767225600",
				"User-Agent":                  "Valv-Messages/1",
			} {
				if v := got.header.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("header %s = %q, want [%q]", name, v, want)
				}
			}
			if got.serverName != "partner.test" {
				t.Errorf("TLS server name = %q, want partner.test", got.serverName)
			}
			if want := "partner.test:" + srv.port; got.host != want {
				t.Errorf("Host = %q, want %q", got.host, want)
			}
			for _, secrets := range [][][]byte{{trSecret}, {trPrevSecret}} {
				if err := notify.Verify(secrets, got.header, got.body, now, 0); err != nil {
					t.Errorf("notify.Verify: %v", err)
				}
			}
			if err := notify.Verify([][]byte{bytes.Repeat([]byte("x"), 32)}, got.header, got.body, now, 0); err == nil {
				t.Error("notify.Verify accepted a secret that did not sign")
			}
			if err := notify.Verify([][]byte{trSecret}, got.header, append(got.body, ' '), now, 0); err == nil {
				t.Error("notify.Verify accepted a changed body")
			}
		})
	}
	if n := res.lookups(); n != 2 {
		t.Errorf("resolver asked %d times for 2 deliveries, want 2", n)
	}
}

func TestTransportPinnedCertificate(t *testing.T) {
	private := newTestCA(t, "Partner private CA")
	trusted := newTestCA(t, "Trusted CA")
	good := private.issue(t, leafSpec{names: []string{"partner.test"}})
	other := private.issue(t, leafSpec{names: []string{"partner.test"}})
	expired := private.issue(t, leafSpec{names: []string{"partner.test"},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	notYet := private.issue(t, leafSpec{names: []string{"partner.test"},
		notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
	wrongName := private.issue(t, leafSpec{names: []string{"other.test"}})
	clientOnly := private.issue(t, leafSpec{names: []string{"partner.test"}, usage: x509.ExtKeyUsageClientAuth})
	trustedGood := trusted.issue(t, leafSpec{names: []string{"partner.test"}})
	trustedWrongName := trusted.issue(t, leafSpec{names: []string{"other.test"}})

	for _, tc := range []struct {
		name    string
		server  issuedCert
		pin     string
		wantErr string // "" for success
	}{
		{"pin matches, CA not trusted", good, good.pin, ""},
		{"wrong pin", good, other.pin, "does not match the pin"},
		{"pinned but expired", expired, expired.pin, "valid only from"},
		{"pinned but not yet valid", notYet, notYet.pin, "valid only from"},
		{"pinned but for another name", wrongName, wrongName.pin, "other.test"},
		{"pinned but not a server certificate", clientOnly, clientOnly.pin, "not for TLS servers"},
		{"pinned trusted certificate", trustedGood, trustedGood.pin, ""},
		{"no pin, CA not trusted", good, "", "unknown authority"},
		{"no pin, trusted CA", trustedGood, "", ""},
		{"no pin, trusted CA, wrong name", trustedWrongName, "", "other.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.server.tls, nil, nil)
			res := newStubResolver()
			res.set("partner.test", "127.0.0.1")
			tr := message.NewTransport(message.TransportOptions{
				Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
				RootCAs: trusted.pool,
			})
			t.Cleanup(tr.Close)
			d := testDelivery(srv.url("partner.test"))
			d.Endpoint.PinSHA256 = tc.pin
			r, err := tr.Send(context.Background(), d)
			checkHidden(t, err, nil)
			if tc.wantErr == "" {
				if err != nil || r.Status != http.StatusNoContent {
					t.Fatalf("Send = %+v, %v; want 204", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Send error = %v, want one saying %q", err, tc.wantErr)
			}
			if r.Status != 0 {
				t.Errorf("Result.Status = %d, want 0", r.Status)
			}
			if n := len(srv.requests()); n != 0 {
				t.Errorf("server got %d requests over a refused connection", n)
			}
		})
	}
}

func TestTransportMutualTLS(t *testing.T) {
	serverCA := newTestCA(t, "Server CA")
	clientCA := newTestCA(t, "Client CA")
	strangerCA := newTestCA(t, "Stranger CA")
	client := clientCA.issue(t, leafSpec{names: []string{"valv.test"}, usage: x509.ExtKeyUsageClientAuth})
	stranger := strangerCA.issue(t, leafSpec{names: []string{"valv.test"}, usage: x509.ExtKeyUsageClientAuth})
	srv := startServer(t, serverCA.issue(t, leafSpec{names: []string{"partner.test"}}).tls, nil, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = clientCA.pool
	})
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	// One transport for all cases: a certificate of one endpoint must never
	// be presented for another.
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: serverCA.pool,
	})
	t.Cleanup(tr.Close)

	for _, tc := range []struct {
		name     string
		endpoint string
		cert     issuedCert
		wantOK   bool
	}{
		{"with the client certificate", "ep_mtls", client, true},
		{"another endpoint without a certificate", "ep_plain", issuedCert{}, false},
		{"a certificate of another CA", "ep_stranger", stranger, false},
		{"the first endpoint again", "ep_mtls", client, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			d := testDelivery(srv.url("partner.test"))
			d.Endpoint.ID = tc.endpoint
			d.Endpoint.ClientCertPEM, d.Endpoint.ClientKeyPEM = tc.cert.certPEM, tc.cert.keyPEM
			r, err := tr.Send(context.Background(), d)
			checkHidden(t, err, tc.cert.keyPEM)
			reqs := srv.requests()
			if tc.wantOK {
				if err != nil || r.Status != http.StatusNoContent {
					t.Fatalf("Send = %+v, %v; want 204", r, err)
				}
				if cn := reqs[len(reqs)-1].clientCN; cn != "valv.test" {
					t.Errorf("server saw client certificate %q, want valv.test", cn)
				}
				return
			}
			if err == nil {
				t.Fatalf("Send = %+v, nil; want the server to refuse the handshake", r)
			}
			if len(reqs) != before {
				t.Errorf("server handled a request without a valid client certificate")
			}
		})
	}
}

func TestTransportRedirectNotFollowed(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	second := startServer(t, ca.issue(t, leafSpec{names: []string{"partner2.test"}}).tls, nil, nil)
	for _, status := range []int{
		http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			first := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls,
				func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, second.url("partner2.test"), status)
				}, nil)
			res := newStubResolver()
			res.set("partner.test", "127.0.0.1")
			res.set("partner2.test", "127.0.0.1")
			tr := message.NewTransport(message.TransportOptions{
				Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
				RootCAs: ca.pool,
			})
			t.Cleanup(tr.Close)
			r, err := tr.Send(context.Background(), testDelivery(first.url("partner.test")))
			checkHidden(t, err, nil)
			if !errors.Is(err, message.ErrStatus) {
				t.Fatalf("Send error = %v, want ErrStatus", err)
			}
			if r.Status != status {
				t.Errorf("Result.Status = %d, want %d", r.Status, status)
			}
			if n := len(first.requests()); n != 1 {
				t.Errorf("first server got %d requests, want 1", n)
			}
			if n := second.conns.Load(); n != 0 {
				t.Errorf("redirect target got %d connections, want 0", n)
			}
			if res.lookupsOf("partner2.test") != 0 {
				t.Error("the redirect target was resolved")
			}
		})
	}
}

func TestTransportNotPermitted(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test", "evil.test"}}).tls, nil, nil)
	for _, tc := range []struct {
		name  string
		addrs []string
		allow []netip.Prefix
	}{
		{"private", []string{"10.0.0.7"}, trLoopback},
		{"cloud metadata", []string{"169.254.169.254"}, trLoopback},
		{"IPv6 loopback outside Allow", []string{"::1"}, trLoopback},
		{"IPv4-mapped private", []string{"::ffff:10.0.0.7"}, trLoopback},
		{"IPv4-mapped metadata", []string{"::ffff:169.254.169.254"}, trLoopback},
		{"CGNAT", []string{"100.64.0.1"}, trLoopback},
		{"NAT64", []string{"64:ff9b::a00:7"}, trLoopback},
		{"unique local", []string{"fd00::7"}, trLoopback},
		{"unspecified", []string{"0.0.0.0"}, trLoopback},
		{"one permitted, one not", []string{"127.0.0.1", "10.0.0.7"}, trLoopback},
		{"one not, one permitted", []string{"192.168.1.1", "127.0.0.1"}, trLoopback},
		{"public and loopback", []string{"93.184.215.14", "127.0.0.1"}, nil},
		{"loopback without Allow", []string{"127.0.0.1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := newStubResolver()
			res.set("evil.test", tc.addrs...)
			tr := message.NewTransport(message.TransportOptions{
				Policy:  message.NetworkPolicy{Allow: tc.allow, Resolver: res},
				RootCAs: ca.pool,
			})
			t.Cleanup(tr.Close)
			before := srv.conns.Load()
			r, err := tr.Send(context.Background(), testDelivery(srv.url("evil.test")))
			checkHidden(t, err, nil)
			if !errors.Is(err, message.ErrNotPermitted) {
				t.Fatalf("Send error = %v, want ErrNotPermitted", err)
			}
			if r != (message.Result{}) {
				t.Errorf("Result = %+v, want zero", r)
			}
			if n := srv.conns.Load() - before; n != 0 {
				t.Errorf("server got %d connections, want 0", n)
			}
		})
	}
}

// TestTransportResolvesOnce shows that the address checked is the address
// dialled: a resolver that answers a permitted address first and a
// forbidden one after (DNS rebinding) is asked once per attempt.
func TestTransportResolvesOnce(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"rebind.test"}}).tls, nil, nil)
	res := newStubResolver()
	res.setAnswers("rebind.test", []string{"127.0.0.1"}, []string{"169.254.169.254"})
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: ca.pool,
	})
	t.Cleanup(tr.Close)
	d := testDelivery(srv.url("rebind.test"))
	if r, err := tr.Send(context.Background(), d); err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("first Send = %+v, %v; want 204", r, err)
	}
	if n := res.lookups(); n != 1 {
		t.Fatalf("resolver asked %d times for one attempt, want 1", n)
	}
	if _, err := tr.Send(context.Background(), d); !errors.Is(err, message.ErrNotPermitted) {
		t.Fatalf("second Send error = %v, want ErrNotPermitted", err)
	}
}

func TestTransportStatusAndRetryAfter(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		bigBody    bool
		wantRetry  time.Duration
		wantErr    bool
	}{
		{"200", http.StatusOK, "", false, 0, false},
		{"200 with a large body ignored", http.StatusOK, "", true, 0, false},
		{"400", http.StatusBadRequest, "", false, 0, true},
		{"404", http.StatusNotFound, "", false, 0, true},
		{"500 with a large body", http.StatusInternalServerError, "", true, 0, true},
		{"503 Retry-After seconds", http.StatusServiceUnavailable, "120", false, 120 * time.Second, true},
		{"429 Retry-After date", http.StatusTooManyRequests, now.Add(90 * time.Second).Format(http.TimeFormat), false, 90 * time.Second, true},
		{"503 Retry-After date in the past", http.StatusServiceUnavailable, now.Add(-time.Hour).Format(http.TimeFormat), false, 0, true},
		{"503 Retry-After capped", http.StatusServiceUnavailable, "999999999", false, 24 * time.Hour, true},
		{"503 Retry-After garbage", http.StatusServiceUnavailable, "soon", false, 0, true},
		{"503 Retry-After negative", http.StatusServiceUnavailable, "-5", false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls,
				func(w http.ResponseWriter, _ *http.Request) {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					if tc.bigBody {
						_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20))
					}
				}, nil)
			res := newStubResolver()
			res.set("partner.test", "127.0.0.1")
			tr := message.NewTransport(message.TransportOptions{
				Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
				RootCAs: ca.pool,
				Now:     func() time.Time { return now },
				Timeout: 10 * time.Second,
			})
			t.Cleanup(tr.Close)
			r, err := tr.Send(context.Background(), testDelivery(srv.url("partner.test")))
			checkHidden(t, err, nil)
			if r.Status != tc.status || r.RetryAfter != tc.wantRetry {
				t.Errorf("Result = %+v, want status %d and RetryAfter %v", r, tc.status, tc.wantRetry)
			}
			if tc.wantErr != errors.Is(err, message.ErrStatus) || tc.wantErr != (err != nil) {
				t.Errorf("Send error = %v, want ErrStatus: %t", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Errorf("Send error = %v, want it to name the status", err)
			}
		})
	}
}

func TestTransportErrorsHideURL(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	client := ca.issue(t, leafSpec{names: []string{"valv.test"}, usage: x509.ExtKeyUsageClientAuth})
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls,
		func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }, nil)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	res.set("evil.test", "10.0.0.7")
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: ca.pool,
		Timeout: 5 * time.Second,
	})
	t.Cleanup(tr.Close)

	for _, tc := range []struct {
		name   string
		change func(*message.Delivery)
	}{
		{"status", func(*message.Delivery) {}},
		{"pin mismatch", func(d *message.Delivery) { d.Endpoint.PinSHA256 = strings.Repeat("ab", 32) }},
		{"not permitted", func(d *message.Delivery) { d.Endpoint.URL = srv.url("evil.test") }},
		{"unknown host", func(d *message.Delivery) { d.Endpoint.URL = srv.url("nowhere.test") }},
		{"connection refused", func(d *message.Delivery) {
			d.Endpoint.URL = fmt.Sprintf("https://partner.test:%d/%s?%s", closedPort, trSecretPath, trSecretQuery)
		}},
		{"IP literal", func(d *message.Delivery) {
			d.Endpoint.URL = "https://10.0.0.7/" + trSecretPath + "?" + trSecretQuery
		}},
		{"http", func(d *message.Delivery) {
			d.Endpoint.URL = "http://partner.test/" + trSecretPath + "?" + trSecretQuery
		}},
		{"userinfo", func(d *message.Delivery) {
			d.Endpoint.URL = "https://user:" + trSecretQuery + "@partner.test/" + trSecretPath
		}},
		{"key without certificate", func(d *message.Delivery) { d.Endpoint.ClientKeyPEM = client.keyPEM }},
		{"key of another certificate", func(d *message.Delivery) {
			d.Endpoint.ClientCertPEM = ca.issue(t, leafSpec{names: []string{"x.test"}}).certPEM
			d.Endpoint.ClientKeyPEM = client.keyPEM
		}},
		{"bad content type", func(d *message.Delivery) { d.ContentType = trBodyMarker + " /" }},
		{"reserved header", func(d *message.Delivery) {
			d.Header = http.Header{"Content-Type": {trSecretQuery}}
		}},
		{"header with a line break", func(d *message.Delivery) {
			d.Header = http.Header{"Valv-Sender": {trSecretQuery + "\r\nX: y"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDelivery(srv.url("partner.test"))
			d.Endpoint.ID = "ep_" + tc.name
			d.Secrets = [][]byte{trSecret, trPrevSecret}
			tc.change(&d)
			_, err := tr.Send(context.Background(), d)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			t.Log(err)
			checkHidden(t, err, client.keyPEM)
		})
	}
}

func TestTransportRefusesInvalidDelivery(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls, nil, nil)
	for _, tc := range []struct {
		name   string
		change func(*message.Delivery)
	}{
		{"empty id", func(d *message.Delivery) { d.ID = "" }},
		{"id with a dot", func(d *message.Delivery) { d.ID = "msg.1" }},
		{"id with a space", func(d *message.Delivery) { d.ID = "msg 1" }},
		{"id too long", func(d *message.Delivery) { d.ID = strings.Repeat("a", notify.MaxWebhookIDLen+1) }},
		{"no secret", func(d *message.Delivery) { d.Secrets = nil }},
		{"short secret", func(d *message.Delivery) { d.Secrets = [][]byte{trSecret, []byte("short")} }},
		{"long secret", func(d *message.Delivery) { d.Secrets = [][]byte{bytes.Repeat([]byte("k"), 65)} }},
		{"no content type", func(d *message.Delivery) { d.ContentType = "" }},
		{"content type not a media type", func(d *message.Delivery) { d.ContentType = "xml" }},
		{"content type with a line break", func(d *message.Delivery) { d.ContentType = "text/xml\r\nX: y" }},
		{"Content-Type header", func(d *message.Delivery) { d.Header = http.Header{"Content-Type": {"text/plain"}} }},
		{"lowercase content-type header", func(d *message.Delivery) { d.Header = http.Header{"content-type": {"text/plain"}} }},
		{"webhook-id header", func(d *message.Delivery) { d.Header = http.Header{"webhook-id": {"other"}} }},
		{"webhook-signature header", func(d *message.Delivery) { d.Header = http.Header{"Webhook-Signature": {"v1,x"}} }},
		{"webhook-timestamp header", func(d *message.Delivery) { d.Header = http.Header{"Webhook-Timestamp": {"1"}} }},
		{"Host header", func(d *message.Delivery) { d.Header = http.Header{"Host": {"elsewhere.test"}} }},
		{"Transfer-Encoding header", func(d *message.Delivery) { d.Header = http.Header{"Transfer-Encoding": {"chunked"}} }},
		{"header name with a space", func(d *message.Delivery) { d.Header = http.Header{"Valv Sender": {"x"}} }},
		{"header value with a line break", func(d *message.Delivery) { d.Header = http.Header{"Valv-Sender": {"a\nb"}} }},
		{"pin in upper case", func(d *message.Delivery) { d.Endpoint.PinSHA256 = strings.Repeat("AB", 32) }},
		{"certificate without key", func(d *message.Delivery) { d.Endpoint.ClientCertPEM = []byte("x") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := newStubResolver()
			res.set("partner.test", "127.0.0.1")
			tr := message.NewTransport(message.TransportOptions{
				Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
				RootCAs: ca.pool,
			})
			t.Cleanup(tr.Close)
			d := testDelivery(srv.url("partner.test"))
			tc.change(&d)
			before := srv.conns.Load()
			if _, err := tr.Send(context.Background(), d); err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if n := res.lookups(); n != 0 {
				t.Errorf("resolver asked %d times, want 0", n)
			}
			if n := srv.conns.Load() - before; n != 0 {
				t.Errorf("server got %d connections, want 0", n)
			}
		})
	}
}

// TestTransportEndpointVersion shows that a client is kept per (ID,
// Version): a new version takes new TLS settings.
func TestTransportEndpointVersion(t *testing.T) {
	ca := newTestCA(t, "Private CA")
	cert := ca.issue(t, leafSpec{names: []string{"partner.test"}})
	srv := startServer(t, cert.tls, nil, nil)
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: x509.NewCertPool(),
	})
	t.Cleanup(tr.Close)
	d := testDelivery(srv.url("partner.test"))
	d.Endpoint.PinSHA256 = strings.Repeat("00", 32)
	if _, err := tr.Send(context.Background(), d); err == nil {
		t.Fatal("Send with a wrong pin succeeded")
	}
	d.Endpoint.Version = 2
	d.Endpoint.PinSHA256 = cert.pin
	if r, err := tr.Send(context.Background(), d); err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("Send with the new version = %+v, %v; want 204", r, err)
	}
}

// TestTransportConcurrent sends from many goroutines over one transport
// (run with -race), with Close in between.
func TestTransportConcurrent(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls, nil, nil)
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: ca.pool,
	})
	t.Cleanup(tr.Close)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			d := testDelivery(srv.url("partner.test"))
			d.Endpoint.ID = fmt.Sprintf("ep_%d", i%4)
			d.Endpoint.Version = int64(i % 3)
			if i%10 == 0 {
				tr.Close()
			}
			if _, err := tr.Send(context.Background(), d); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.requests()); n != 40 {
		t.Errorf("server got %d requests, want 40", n)
	}
}

func TestTransportContextCanceled(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	srv := startServer(t, ca.issue(t, leafSpec{names: []string{"partner.test"}}).tls, nil, nil)
	res := newStubResolver()
	res.set("partner.test", "127.0.0.1")
	tr := message.NewTransport(message.TransportOptions{
		Policy:  message.NetworkPolicy{Allow: trLoopback, Resolver: res},
		RootCAs: ca.pool,
	})
	t.Cleanup(tr.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := tr.Send(ctx, testDelivery(srv.url("partner.test")))
	if !errors.Is(err, context.Canceled) || r.Status != 0 {
		t.Fatalf("Send = %+v, %v; want context.Canceled", r, err)
	}
	checkHidden(t, err, nil)
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		wantHost string // "" means refused
	}{
		{"https://partner.example.com/inbox", "partner.example.com"},
		{"https://partner.example.com", "partner.example.com"},
		{"https://partner.example.com:8443/a?b=c", "partner.example.com"},
		{"https://partner.example.com:1/", "partner.example.com"},
		{"https://partner.example.com:65535/", "partner.example.com"},
		{"https://Partner.EXAMPLE.com/x", "partner.example.com"},
		{"HTTPS://partner.example.com/x", "partner.example.com"},
		{"https://partner.example.com./x", "partner.example.com"},
		{"https://PARTNER.example.COM.:443/x", "partner.example.com"},
		{"https://xn--rksmrgs-5wao1o.se/", "xn--rksmrgs-5wao1o.se"},
		{"https://a-b.c-d.example/", "a-b.c-d.example"},
		{"https://1.example.com/", "1.example.com"},
		{"https://0x7f.example.com/", "0x7f.example.com"},
		{"https://api.example.com/p%2Fq?x=%20", "api.example.com"},
		{"https://" + strings.Repeat("a", 63) + ".example.com/", strings.Repeat("a", 63) + ".example.com"},

		// Not https, not absolute.
		{"", ""},
		{"http://partner.example.com/", ""},
		{"ftp://partner.example.com/", ""},
		{"//partner.example.com/", ""},
		{"partner.example.com/inbox", ""},
		{"https:partner.example.com", ""},
		{"https:/partner.example.com", ""},
		{"https:///inbox", ""},
		{"https://", ""},
		{"https://:443/", ""},
		// IP literals in every form.
		{"https://127.0.0.1/", ""},
		{"https://10.0.0.7:8443/", ""},
		{"https://169.254.169.254/latest/meta-data", ""},
		{"https://127.0.0.1./", ""},
		{"https://[::1]/", ""},
		{"https://[::1]:443/", ""},
		{"https://[::ffff:127.0.0.1]/", ""},
		{"https://[::ffff:7f00:1]/", ""},
		{"https://[fe80::1%25eth0]/", ""},
		{"https://[2001:db8::1]/", ""},
		{"https://::1/", ""},
		{"https://2130706433/", ""},
		{"https://0x7f000001/", ""},
		{"https://0x7f.1/", ""},
		{"https://0x7F.0x0.0x0.0x1/", ""},
		{"https://0177.0.0.1/", ""},
		{"https://127.1/", ""},
		{"https://017700000001/", ""},
		{"https://example.0x/", ""},
		{"https://example.123/", ""},
		{"https://%31%32%37.0.0.1/", ""},
		// Userinfo.
		{"https://user@partner.example.com/", ""},
		{"https://user:pass@partner.example.com/", ""},
		{"https://@partner.example.com/", ""},
		{"https://partner.example.com@127.0.0.1/", ""},
		// Fragments.
		{"https://partner.example.com/#frag", ""},
		{"https://partner.example.com/#", ""},
		// Ports.
		{"https://partner.example.com:0/", ""},
		{"https://partner.example.com:65536/", ""},
		{"https://partner.example.com:99999/", ""},
		{"https://partner.example.com:/", ""},
		{"https://partner.example.com:0443/", ""},
		{"https://partner.example.com:-1/", ""},
		{"https://partner.example.com:https/", ""},
		{"https://partner.example.com:1:2/", ""},
		// localhost.
		{"https://localhost/", ""},
		{"https://LOCALHOST./", ""},
		{"https://api.localhost/", ""},
		{"https://localhost:8443/", ""},
		// Host name syntax.
		{"https://partner/", ""},
		{"https://-partner.example.com/", ""},
		{"https://partner-.example.com/", ""},
		{"https://partner..example.com/", ""},
		{"https://.example.com/", ""},
		{"https://partner.example.com../", ""},
		{"https://part_ner.example.com/", ""},
		{"https://" + strings.Repeat("a", 64) + ".example.com/", ""},
		{"https://" + strings.Repeat("a.", 127) + "com/", ""},
		{"https://räksmörgås.se/", ""},
		{"https://partner.example.com\\@evil.example/", ""},
		{"https://partner.example.com /", ""},
		{"https://partner.example.com/a b", ""},
		{"https://partner.example.com/\x00", ""},
		{"https://partner.example.com/\n", ""},
		// Length.
		{"https://partner.example.com/" + strings.Repeat("a", message.MaxURLLen-len("https://partner.example.com/")), "partner.example.com"},
		{"https://partner.example.com/" + strings.Repeat("a", message.MaxURLLen-len("https://partner.example.com/")+1), ""},
	} {
		name := tc.raw
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			host, err := message.CheckURL(tc.raw)
			if tc.wantHost != "" {
				if err != nil || host != tc.wantHost {
					t.Fatalf("CheckURL = %q, %v; want %q", host, err, tc.wantHost)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckURL = %q, nil; want it refused", host)
			}
			if host != "" {
				t.Errorf("CheckURL returned host %q with an error", host)
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.KindInvalid || p.Code != "invalid_url" ||
				len(p.Fields) != 1 || p.Fields[0].Field != "/url" || p.Fields[0].Code != "invalid_url" {
				t.Fatalf("CheckURL error = %#v, want problem.Invalid invalid_url on /url", err)
			}
			if len(tc.raw) > 12 && strings.Contains(err.Error(), tc.raw[8:]) {
				t.Errorf("error %q echoes the URL", err)
			}
		})
	}
}

func TestPermitted(t *testing.T) {
	allow := message.NetworkPolicy{Allow: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("fd12:3456::/32"),
	}}
	for _, tc := range []struct {
		addr        string
		want        bool // with no Allow
		wantAllowed bool // with allow
	}{
		{"93.184.215.14", true, true},
		{"8.8.8.8", true, true},
		{"1.1.1.1", true, true},
		{"2606:4700:4700::1111", true, true},
		{"2a00:1450:4001:80b::200e", true, true},
		{"::ffff:8.8.8.8", true, true},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"10.0.0.7", false, false},
		{"10.20.1.1", false, true},
		{"::ffff:10.20.1.1", false, true},
		{"100.64.0.1", false, false},
		{"100.127.255.255", false, false},
		{"100.128.0.1", true, true},
		{"127.0.0.1", false, true},
		{"127.255.255.254", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"172.16.0.1", false, false},
		{"172.31.255.255", false, false},
		{"172.32.0.1", true, true},
		{"192.0.0.8", false, false},
		{"192.0.2.1", false, false},
		{"192.88.99.1", false, false},
		{"192.168.1.1", false, false},
		{"198.18.0.1", false, false},
		{"198.19.255.255", false, false},
		{"198.20.0.1", true, true},
		{"198.51.100.1", false, false},
		{"203.0.113.1", false, false},
		{"224.0.0.1", false, false},
		{"239.255.255.250", false, false},
		{"240.0.0.1", false, false},
		{"255.255.255.255", false, false},
		{"::", false, false},
		{"::1", false, false},
		{"::127.0.0.1", false, false},
		{"::ffff:0.0.0.0", false, false},
		{"64:ff9b::a00:7", false, false},
		{"64:ff9b::808:808", false, false},
		{"64:ff9b:1::1", false, false},
		{"100::1", false, false},
		{"2001::1", false, false},
		{"2001:2::1", false, false},
		{"2001:db8::1", false, false},
		{"2002:a00:7::1", false, false},
		{"3fff::1", false, false},
		{"fc00::1", false, false},
		{"fd00::1", false, false},
		{"fd12:3456::1", false, true},
		{"fe80::1", false, false},
		{"fe80::1%eth0", false, false},
		{"febf::1", false, false},
		{"fec0::1", false, false},
		{"ff02::1", false, false},
		{"ff0e::1", false, false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if got := (message.NetworkPolicy{}).Permitted(a); got != tc.want {
				t.Errorf("Permitted(%s) = %t, want %t", tc.addr, got, tc.want)
			}
			if got := allow.Permitted(a); got != tc.wantAllowed {
				t.Errorf("Permitted(%s) with Allow = %t, want %t", tc.addr, got, tc.wantAllowed)
			}
		})
	}
	if (message.NetworkPolicy{}).Permitted(netip.Addr{}) {
		t.Error("the zero Addr is permitted")
	}
}

func TestCheckTLS(t *testing.T) {
	ca := newTestCA(t, "Client CA")
	c := ca.issue(t, leafSpec{names: []string{"valv.test"}, usage: x509.ExtKeyUsageClientAuth})
	other := ca.issue(t, leafSpec{names: []string{"valv.test"}, usage: x509.ExtKeyUsageClientAuth})
	chain := append(slices.Clone(c.certPEM), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)

	// The same key in SEC 1 form, and an RSA pair in PKCS #1 form.
	ecKey := c.tls.PrivateKey.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "rsa"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	rsaDER, err := x509.CreateCertificate(rand.Reader, rsaTmpl, ca.cert, rsaKey.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	rsaCertPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaDER})
	rsaKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: sec1})
	corrupt := bytes.Replace(c.keyPEM, []byte("PRIVATE KEY-----\n"), []byte("PRIVATE KEY-----\nAAAA"), 1)

	type want struct{ field, code string }
	for _, tc := range []struct {
		name    string
		cert    []byte
		key     []byte
		pin     string
		wantErr []want
	}{
		{"nothing", nil, nil, "", nil},
		{"pair", c.certPEM, c.keyPEM, "", nil},
		{"pair and pin", c.certPEM, c.keyPEM, c.pin, nil},
		{"chain", chain, c.keyPEM, "", nil},
		{"SEC 1 key", c.certPEM, sec1PEM, "", nil},
		{"RSA PKCS #1 key", rsaCertPEM, rsaKeyPEM, "", nil},
		{"pin only", nil, nil, c.pin, nil},
		{"certificate without key", c.certPEM, nil, "", []want{{"/client_key", "required"}}},
		{"key without certificate", nil, c.keyPEM, "", []want{{"/client_certificate", "required"}}},
		{"certificate not PEM", []byte("hello"), c.keyPEM, "", []want{{"/client_certificate", "invalid_certificate"}}},
		{"certificate is a key", c.keyPEM, c.keyPEM, "", []want{{"/client_certificate", "invalid_certificate"}}},
		{"certificate bytes corrupt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), c.keyPEM, "",
			[]want{{"/client_certificate", "invalid_certificate"}}},
		{"certificate with trailing text", append(slices.Clone(c.certPEM), "trailing"...), c.keyPEM, "",
			[]want{{"/client_certificate", "invalid_certificate"}}},
		{"certificate too long", bytes.Repeat(c.certPEM, 200), c.keyPEM, "", []want{{"/client_certificate", "invalid_certificate"}}},
		{"key not PEM", c.certPEM, []byte("hello"), "", []want{{"/client_key", "invalid_key"}}},
		{"key is a certificate", c.certPEM, c.certPEM, "", []want{{"/client_key", "invalid_key"}}},
		{"key encrypted", c.certPEM, encrypted, "", []want{{"/client_key", "invalid_key"}}},
		{"key corrupt", c.certPEM, corrupt, "", []want{{"/client_key", "invalid_key"}}},
		{"two keys", c.certPEM, append(slices.Clone(c.keyPEM), other.keyPEM...), "", []want{{"/client_key", "invalid_key"}}},
		{"key of another certificate", c.certPEM, other.keyPEM, "", []want{{"/client_key", "key_mismatch"}}},
		{"pin upper case", nil, nil, strings.ToUpper(c.pin), []want{{"/pin_sha256", "invalid_pin"}}},
		{"pin short", nil, nil, c.pin[:63], []want{{"/pin_sha256", "invalid_pin"}}},
		{"pin long", nil, nil, c.pin + "0", []want{{"/pin_sha256", "invalid_pin"}}},
		{"pin base64", nil, nil, "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", []want{{"/pin_sha256", "invalid_pin"}}},
		{"pin with colons", nil, nil, strings.Repeat("ab:", 31) + "ab", []want{{"/pin_sha256", "invalid_pin"}}},
		{"everything wrong", []byte("x"), []byte("y"), "z",
			[]want{{"/client_certificate", "invalid_certificate"}, {"/client_key", "invalid_key"}, {"/pin_sha256", "invalid_pin"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := message.CheckTLS(tc.cert, tc.key, tc.pin)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckTLS = %v, want nil", err)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.KindInvalid || p.Code != "invalid_tls" {
				t.Fatalf("CheckTLS = %v, want problem.Invalid invalid_tls", err)
			}
			var got []want
			for _, f := range p.Fields {
				got = append(got, want{f.Field, f.Code})
			}
			if !slices.Equal(got, tc.wantErr) {
				t.Errorf("fields = %v, want %v", got, tc.wantErr)
			}
			checkHidden(t, err, tc.key)
			if len(tc.key) > 40 && strings.Contains(err.Error(), string(tc.key[30:40])) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

// TestTransportRedacted checks that Endpoint and Delivery print and log
// without their URL, key, body or secrets.
func TestTransportRedacted(t *testing.T) {
	d := testDelivery("https://partner.test/" + trSecretPath + "?" + trSecretQuery)
	d.Secrets = [][]byte{trSecret}
	d.Endpoint.ClientKeyPEM = []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n")
	d.Endpoint.ClientCertPEM = []byte("cert")
	for _, s := range []string{
		fmt.Sprint(d), fmt.Sprintf("%+v", d), fmt.Sprintf("%#v", d), fmt.Sprintf("%v", d.Endpoint),
		fmt.Sprintf("%#v", d.Endpoint), d.LogValue().String(), d.Endpoint.LogValue().String(),
	} {
		for _, bad := range []string{trSecretPath, trSecretQuery, trBodyMarker, string(trSecret), "c2VjcmV0", "107 107 107"} {
			if strings.Contains(s, bad) {
				t.Errorf("%q contains %q", s, bad)
			}
		}
	}
}
