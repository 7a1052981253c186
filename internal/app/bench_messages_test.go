package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// BenchmarkMessages measures the message pipeline on the embedded default
// (SQLite): messages accepted per second (Send: convert, seal, store,
// queue, audit — no HTTP and no malware scan in front of it), messages
// delivered per second to a local HTTPS receiver that checks every
// signature, and the delivery latency from acceptance to the receiver,
// p50 and p99, with the receiver healthy. VALV_BENCH_MESSAGES sets how
// many (default 1000). Run it with -benchtime=1x:
//
//	VALV_BENCH_MESSAGES=2000 go test -run '^$' -bench BenchmarkMessages -benchtime=1x ./internal/app/
func BenchmarkMessages(b *testing.B) {
	n := 1000
	if s := os.Getenv("VALV_BENCH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	dir := b.TempDir()
	files, err := valvtest.WriteTLSFilesFor(dir, "receiver.test")
	if err != nil {
		b.Fatal(err)
	}
	// The receiver: verifies, records when each delivery id first arrived.
	var mu sync.Mutex
	var secret []byte
	arrived := map[string]time.Time{}
	done := make(chan struct{})
	recv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := notify.Verify([][]byte{secret}, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(notify.HeaderWebhookID)
		if _, ok := arrived[id]; !ok {
			arrived[id] = time.Now()
			if len(arrived) == n {
				close(done)
			}
		}
	}))
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		b.Fatal(err)
	}
	recv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	recv.StartTLS()
	defer recv.Close()
	_, port, _ := net.SplitHostPort(recv.Listener.Addr().String())

	cfg := testConfig(filepath.Join(dir, "data"))
	cfg.Documents.AllowUnscanned = true
	cfg.Messages.AllowNetworks = []string{"127.0.0.0/8"}
	cfg.Messages.CAFile = files.CAFile
	a, err := Open(ctx, Options{Config: cfg, Resolver: testResolver{"receiver.test": []netip.Addr{netip.MustParseAddr("127.0.0.1")}}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	c, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Bench Messages AB"})
	if err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0002", TenantID: c.Tenant.ID, Role: authz.Owner}
	reg, err := a.Messages.RegisterEndpoint(withAuditRecord(ctx, "message.endpoint.create"), owner,
		message.EndpointInput{Name: "Receiver", URL: "https://receiver.test:" + port + "/in", Region: "se-sto"})
	if err != nil {
		b.Fatal(err)
	}
	if secret, err = notify.ParseWebhookSecret(reg.Secret); err != nil {
		b.Fatal(err)
	}
	security := authz.Principal{Kind: authz.Operator, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0003", Role: authz.RoleSecurity}
	if _, err := a.Messages.Decide(withAuditRecord(ctx, "message.endpoint.decide"), security, c.Tenant.ID, reg.Endpoint.ID,
		message.Decision{Decision: "approve", Version: 1, Comment: "benchmark"}); err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"order": "PO-12345", "lines": []map[string]any{{"sku": "A-1", "qty": 3, "price": "12.50"}}})

	// Deliveries run as they would on a node: woken by every send.
	dctx, stop := context.WithCancel(ctx)
	wait := a.startDeliveries(dctx)
	defer func() { stop(); wait() }()

	b.ResetTimer()
	for range b.N {
		mu.Lock()
		clear(arrived)
		finished := make(chan struct{})
		done = finished
		mu.Unlock()
		accepted := make(map[string]time.Time, n)
		var amu sync.Mutex
		start := time.Now()
		var wg sync.WaitGroup
		jobs := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					m, err := a.Messages.Send(withAuditRecord(ctx, "message.send"), owner, message.SendRequest{
						To: message.Recipient{Endpoint: reg.Endpoint.ID}, Type: "order", Data: data})
					if err != nil {
						b.Error(err)
						return
					}
					amu.Lock()
					accepted[m.DeliveryID] = time.Now()
					amu.Unlock()
				}
			}()
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		acceptTook := time.Since(start)
		select {
		case <-finished:
		case <-time.After(5 * time.Minute):
			b.Fatalf("only %d of %d delivered", len(arrived), n)
		}
		deliverTook := time.Since(start)
		mu.Lock()
		lat := make([]float64, 0, n)
		for id, at := range arrived {
			lat = append(lat, float64(at.Sub(accepted[id]).Microseconds())/1000)
		}
		mu.Unlock()
		slices.Sort(lat)
		b.ReportMetric(float64(n)/acceptTook.Seconds(), "accepted/s")
		b.ReportMetric(float64(n)/deliverTook.Seconds(), "delivered/s")
		b.ReportMetric(lat[len(lat)/2], "p50_ms")
		b.ReportMetric(lat[len(lat)*99/100], "p99_ms")
	}
}
