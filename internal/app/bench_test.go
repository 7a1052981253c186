package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// BenchmarkAuditedRead is the throughput of a read request (GET
// /api/v1/tenant with an API key, through the whole middleware chain,
// without TLS) with its audit entry written before the response through
// the group-commit writer, against the same request with no audit (AUD-1:
// the goal is an audit cost under 15% of read throughput). Run in parallel:
// group commit pays off under concurrency.
//
//	go test -run '^$' -bench AuditedRead ./internal/app/
func BenchmarkAuditedRead(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchAuditedRead(b, testConfig(b.TempDir())) })
	b.Run("postgres", func(b *testing.B) {
		cfg := testConfig(b.TempDir())
		cfg.Database.Driver = "postgres"
		cfg.Database.URL = config.Secret(valvtest.PostgresURL(b))
		benchAuditedRead(b, cfg)
	})
}

func benchAuditedRead(b *testing.B, cfg config.Config) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	op := authz.LocalOperator("bench")
	c, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Bench AB"})
	if err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: c.Tenant.ID, Role: authz.Owner}
	_, key, err := a.Auth.CreateAPIKey(ctx, owner, auth.APIKeyInput{Name: "bench", Scopes: []authz.Scope{authz.ScopeTenantRead}})
	if err != nil {
		b.Fatal(err)
	}
	for _, audited := range []bool{false, true} {
		name := "unaudited"
		if audited {
			name = "audited"
		}
		b.Run(name, func(b *testing.B) {
			routes, err := a.Routes()
			if err != nil {
				b.Fatal(err)
			}
			o := server.Options{Config: a.cfg, Logger: a.log, Routes: routes, Sealed: a.Keys.Sealed,
				Authenticate: a.authenticate, Now: a.now}
			if audited {
				o.Audit = a.Trail.HTTP
			}
			srv, err := server.New(o)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			// Many requests in flight, as on a busy server: each waits for
			// its batch's commit, so throughput needs concurrency.
			b.SetParallelism(128)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "https://localhost/api/v1/tenant", nil)
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("Authorization", "Bearer "+key)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// benchDocApp opens an app with a tenant, an owner principal, an API key
// with the documents scopes, and clamd when it is installed.
func benchDocApp(b *testing.B) (*App, authz.Principal, string) {
	b.Helper()
	ctx := context.Background()
	cfg := testConfig(b.TempDir())
	cfg.Listen = "127.0.0.1:0"
	// The rate limits would cap the benchmark by design.
	cfg.Guard.AddressLimit, cfg.Guard.KeyLimit, cfg.Guard.UserLimit, cfg.Guard.TenantLimit = 0, 0, 0, 0
	if _, err := valvtest.ClamdBin(); err == nil {
		s := valvtest.ClamdWith(b, valvtest.ClamdOptions{})
		cfg.Scan.Address, cfg.Scan.MaxStreamSize = s.Addr, s.StreamMaxLength
	} else {
		cfg.Documents.AllowUnscanned = true
	}
	a, err := Open(ctx, Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	if s := os.Getenv("VALV_BENCH_CULL_BATCH"); s != "" {
		cfg.Retention.CullBatch, _ = strconv.Atoi(s)
		a.Close()
		if a, err = Open(ctx, Options{Config: cfg}); err != nil {
			b.Fatal(err)
		}
	}
	c, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Bench Dok AB"})
	if err != nil {
		b.Fatal(err)
	}
	// Payload history off: the benchmarks measure documents, not history.
	off := false
	if _, err := a.Tenants.UpdateSettings(ctx, authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: c.Tenant.ID, Role: authz.Owner},
		c.Tenant.ID, tenant.SettingsPatch{PayloadHistory: &off}); err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: c.Tenant.ID, Role: authz.Owner}
	_, key, err := a.Auth.CreateAPIKey(ctx, owner, auth.APIKeyInput{Name: "bench", Scopes: []authz.Scope{authz.ScopeDocumentsRead, authz.ScopeDocumentsWrite}})
	if err != nil {
		b.Fatal(err)
	}
	return a, owner, key
}

// benchDoc is a 1 KiB JSON document with two subjects.
func benchDoc(i int) document.Input {
	data := fmt.Sprintf(`{"invoice":"F-%08d","amount":%d.50,"currency":"SEK","iban":"SE4550000000058398257466","lines":[`, i, i%10000)
	for l := 0; len(data) < 960; l++ {
		data += fmt.Sprintf(`{"text":"Konsulttjänst %d","qty":%d,"price":1250},`, l, l+1)
	}
	data = strings.TrimSuffix(data, ",") + `]}`
	return document.Input{Type: "invoice", Data: json.RawMessage(data), Subjects: []document.Subject{
		{Kind: "customer_number", Value: fmt.Sprintf("K-%08d", i)},
		{Kind: "email", Value: fmt.Sprintf("kund%d@example.se", i)},
	}}
}

// BenchmarkDocuments measures documents at the service and over HTTPS
// with keep-alive (SQLite; files scanned by clamd when it is installed).
//
//	go test -run '^$' -bench Documents -benchtime 2s ./internal/app/
func BenchmarkDocuments(b *testing.B) {
	a, owner, key := benchDocApp(b)
	ctx := context.Background()
	var ids []string
	b.Run("service/create-1KiB-2-subjects", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := a.Documents.Create(withAuditRecord(ctx, "document.create"), owner, document.CreateRequest{Input: benchDoc(i)})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, c.Document.ID)
		}
	})
	b.Run("service/create-parallel-16", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if _, err := a.Documents.Create(withAuditRecord(ctx, "document.create"), owner, document.CreateRequest{Input: benchDoc(i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("service/read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := a.Documents.Get(withAuditRecord(ctx, "document.read"), owner, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	file := make([]byte, 10<<20)
	copy(file, "%PDF-1.7\n")
	for i := 9; i < len(file); i++ {
		file[i] = byte(i * 31 % 253)
	}
	var fileDoc string
	b.Run("service/upload-10MiB", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for i := 0; i < b.N; i++ {
			c, err := a.Documents.Create(withAuditRecord(ctx, "document.create"), owner, document.CreateRequest{Input: document.Input{Type: "scan"},
				File: &document.Upload{Name: "scan.pdf", ContentType: "application/pdf", Body: bytes.NewReader(file)}})
			if err != nil {
				b.Fatal(err)
			}
			fileDoc = c.Document.ID
		}
	})
	b.Run("service/download-10MiB", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for i := 0; i < b.N; i++ {
			c, err := a.Documents.OpenContent(withAuditRecord(ctx, "document.content.read"), owner, fileDoc)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, c.Reader); err != nil || n != int64(len(file)) {
				b.Fatal(n, err)
			}
		}
	})

	// Over HTTPS, keep-alive, with the API key.
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx) }()
	b.Cleanup(func() { cancel(); <-done })
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if raw, err := os.ReadFile(a.DataPath("valv.addr")); err == nil && bytes.HasSuffix(raw, []byte("\n")) {
			_, port, _ := strings.Cut(strings.TrimSpace(string(raw)), ":")
			base = "https://localhost:" + port
		} else if time.Now().After(deadline) {
			b.Fatal("server did not start")
		}
	}
	pem, _ := os.ReadFile(a.DataPath(filepath.Join("tls", "self-signed.crt")))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	call := func(method, path string, body []byte, want int) []byte {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	body, _ := json.Marshal(benchDoc(1))
	b.Run("https/create-1KiB-2-subjects", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			call("POST", "/api/v1/documents", body, 201)
		}
	})
	b.Run("https/read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			call("GET", "/api/v1/documents/"+ids[i%len(ids)], nil, 200)
		}
	})
	// Many clients at once: each call's audit entry shares a commit with
	// the others' (a single client waits for one commit per call).
	b.Run("https/create-parallel-16", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call("POST", "/api/v1/documents", body, 201)
			}
		})
	})
	b.Run("https/read-parallel-16", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				call("GET", "/api/v1/documents/"+ids[i%len(ids)], nil, 200)
			}
		})
	})
	b.Run("https/download-10MiB", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for i := 0; i < b.N; i++ {
			call("GET", "/api/v1/documents/"+fileDoc+"/content", nil, 200)
		}
	})
}

// BenchmarkSearchBySubject finds a data subject's documents among many
// (VALV_BENCH_DOCUMENTS, default 1,000,000; target p50 under 5 ms). The
// documents are loaded through ImportBatch, 1,000 per transaction.
//
//	go test -run '^$' -bench SearchBySubject -benchtime 2000x -timeout 60m ./internal/app/
func BenchmarkSearchBySubject(b *testing.B) {
	n := benchDocuments(b)
	a, owner, _ := benchDocApp(b)
	ctx := context.Background()
	start := time.Now()
	for done := 0; done < n; done += document.MaxImportBatch {
		batch := make([]document.Input, min(document.MaxImportBatch, n-done))
		for i := range batch {
			batch[i] = benchDoc(done + i)
		}
		if _, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d documents in %v", n, time.Since(start).Round(time.Second))
	// A sub-benchmark, so that the documents are loaded once.
	b.Run(fmt.Sprintf("among-%d", n), func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			k := rng.IntN(n)
			t0 := time.Now()
			got, _, err := a.Documents.Search(withAuditRecord(ctx, "document.search"), owner, document.Subject{Kind: "customer_number", Value: fmt.Sprintf("K-%08d", k)}, document.Filter{}, "", 100)
			lat = append(lat, time.Since(t0))
			if err != nil || len(got) != 1 {
				b.Fatalf("search %d: %d found, %v", k, len(got), err)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})
}

// BenchmarkCull culls many expired documents (VALV_BENCH_DOCUMENTS,
// default 1,000,000; target under 60 s on SQLite) while a reader keeps
// reading kept documents, a few hundred a second (target p99 under 50 ms).
// Each document has two subjects; loading them takes minutes.
//
//	go test -run '^$' -bench Cull -benchtime 1x -timeout 60m ./internal/app/
func BenchmarkCull(b *testing.B) {
	n := benchDocuments(b)
	a, owner, _ := benchDocApp(b)
	ctx := context.Background()
	var keep []string
	for i := 0; i < 1000; i++ {
		d := benchDoc(n + i)
		ids, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, []document.Input{d}, nil)
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, ids...)
	}
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		b.StopTimer()
		start := time.Now()
		for done := 0; done < n; done += document.MaxImportBatch {
			batch := make([]document.Input, min(document.MaxImportBatch, n-done))
			for i := range batch {
				batch[i] = benchDoc(done + i)
				batch[i].DocumentDate = "2001-01-01"
			}
			if _, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, batch, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("loaded %d expired documents in %v", n, time.Since(start).Round(time.Second))
		stop := make(chan struct{})
		lats := make(chan []time.Duration)
		go func() {
			var lat []time.Duration
			rng := rand.New(rand.NewPCG(3, 4))
			for {
				select {
				case <-stop:
					lats <- lat
					return
				default:
				}
				t0 := time.Now()
				if _, err := a.Documents.Get(withAuditRecord(ctx, "document.read"), owner, keep[rng.IntN(len(keep))]); err != nil {
					b.Error(err)
				}
				lat = append(lat, time.Since(t0))
				time.Sleep(2 * time.Millisecond) // a steady 400 or so reads a second
			}
		}()
		b.StartTimer()
		t0 := time.Now()
		res, err := a.Cull(ctx, nil, archive.CullOptions{})
		took := time.Since(t0)
		b.StopTimer()
		close(stop)
		lat := <-lats
		if err != nil || res.Culled != int64(n) {
			b.Fatalf("culled %d of %d: %v", res.Culled, n, err)
		}
		slices.Sort(lat)
		b.ReportMetric(took.Seconds(), "cull-s")
		b.ReportMetric(float64(n)/took.Seconds(), "docs/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "read-p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "read-p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "read-max-ms")
		b.StartTimer()
	}
}

// benchDocuments is how many documents the large benchmarks load:
// VALV_BENCH_DOCUMENTS, default 1,000,000.
func benchDocuments(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("VALV_BENCH_DOCUMENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1000 {
			b.Fatalf("VALV_BENCH_DOCUMENTS=%q: give a number of documents, at least 1000", s)
		}
	}
	return n
}

func TestHashSlots(t *testing.T) {
	if got := hashSlots(5); got != 5 {
		t.Fatalf("hashSlots(5) = %d: a configured number is kept", got)
	}
	// Automatic: one per usable CPU, at least 2 and at most 16.
	for _, procs := range []int{1, 2, 8, 64} {
		old := runtime.GOMAXPROCS(procs)
		got := hashSlots(0)
		runtime.GOMAXPROCS(old)
		if want := min(max(2, procs), maxAutoHashSlots); got != want {
			t.Errorf("with GOMAXPROCS %d, hashSlots(0) = %d, want %d", procs, got, want)
		}
	}
}

// A load run's tenant, owner and key are never made in production.
func TestPrepareBenchRefusesProduction(t *testing.T) {
	for _, a := range []*App{
		{cfg: config.Config{Environment: config.Production}},
		{cfg: config.Config{Environment: config.Development}, Installation: store.InstallationRow{Environment: string(config.Production)}},
	} {
		if _, err := a.PrepareBench(context.Background(), "Bench AB", "owner@bench.example", "a long enough password"); err == nil || !strings.Contains(err.Error(), "production") {
			t.Fatalf("PrepareBench in production = %v, want a refusal", err)
		}
	}
}
