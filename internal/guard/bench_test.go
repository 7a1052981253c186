package guard

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/call"
)

// The benchmarks measure what the guard chain adds to a request: the same
// requests go to a bare handler ("none"), to the stock CRS and to Valv's
// tuned configuration. Besides ns/op they report the median (p50-ns) and
// the 90th percentile (p90-ns) of single requests, and the process's CPU
// time per request (cpu-ns/op; it includes the garbage collector's work on
// the other core). Run them with
//
//	go test ./internal/guard/ -run '^$' -bench Guard -benchtime 2s
//
// The request bodies are in testdata/bench: a document's metadata (993
// bytes, 14 JSON values, mostly free text), fourteen documents (9.7 KiB,
// 182 values), and invoices with many short fields (1.1 KiB with 36
// values, 9.9 KiB with 312), which cost more per byte: the rules run once
// per value. The last request carries a 100 KiB base64 attachment (75 KiB
// of random bytes) in a content_base64 member.
var benchRequests = []struct {
	name, method, target, body string
}{
	{"GET", "GET", "/api/v1/documents?limit=20&cursor=eyJpZCI6MTIzNH0&subject=person-8f3a", ""},
	{"JSON-1KiB", "POST", "/api/v1/documents", "document-1k.json"},
	{"JSON-10KiB", "POST", "/api/v1/documents/batch", "documents-10k.json"},
	{"invoice-1KiB", "POST", "/api/v1/invoices", "invoice-1k.json"},
	{"invoice-10KiB", "POST", "/api/v1/invoices", "invoice-10k.json"},
	{"attachment-100KiB", "POST", "/api/v1/documents", attachmentBody},
}

// attachmentBody names the generated body with a base64 attachment.
const attachmentBody = "(attachment)"

func benchBody(tb testing.TB, name string) []byte {
	tb.Helper()
	switch name {
	case "":
		return nil
	case attachmentBody:
		raw := make([]byte, 75<<10)
		rng := rand.New(rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'}))
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		return []byte(`{"title":"Faktura 2024-0117","attachment":{"filename":"faktura.pdf","content_type":"application/pdf","content_base64":"` +
			base64.StdEncoding.EncodeToString(raw) + `"}}`)
	}
	body, err := os.ReadFile(filepath.Join("testdata", "bench", name))
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// apiRequest is a request as Valv's API sees it behind net/http, with the
// call info that the server's first middleware sets.
func apiRequest(method, target string, body []byte) *http.Request {
	var r *http.Request
	if body == nil {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	r.Host = "valv.example.se"
	r.RemoteAddr = "203.0.113.7:52114"
	r.Header.Set("User-Agent", "valv-client/1.4 (+https://valv.example.se/docs/api)")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header.Set("Accept-Language", "sv-SE,sv;q=0.9,en;q=0.8")
	r.Header.Set("Authorization", "Bearer vk_live_4fQ2x9TmB7rP1sLk8ZcN3vWdYh6Ga0Ej")
	ctx := call.With(r.Context(), call.Info{
		RequestID: call.NewRequestID(),
		Channel:   call.ChannelAPI,
		ClientIP:  netip.MustParseAddr("203.0.113.7"),
		Start:     time.Now(),
	})
	return r.WithContext(ctx)
}

// okHandler reads the body, as a JSON handler would, and answers 200.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
})

func BenchmarkGuard(b *testing.B) {
	configs := []struct {
		name string
		h    http.Handler
	}{
		{"none", okHandler},
		{"stock", mustWAF(b, Options{Stock: true}).Middleware(okHandler)},
		{"tuned", mustWAF(b, Options{}).Middleware(okHandler)},
	}
	for _, br := range benchRequests {
		body := benchBody(b, br.body)
		for _, c := range configs {
			b.Run(fmt.Sprintf("%s/%s", br.name, c.name), func(b *testing.B) {
				benchServe(b, c.h, br.method, br.target, body)
			})
		}
	}
}

// BenchmarkGuardChain measures the whole guard chain as the server places
// it before a handler — block list (a database read per request), the
// per-address rate limit (counters synced to the database every second)
// and the WAF — on SQLite, with the stock CRS and with Valv's tuning:
//
//	go test ./internal/guard/ -run '^$' -bench GuardChain -benchtime 2s
func BenchmarkGuardChain(b *testing.B) {
	db := openDB(b)
	gate, err := NewGate(GateOptions{DB: db, Addresses: plainAddresses{}, Limits: Limits{Address: 1 << 30}, SyncInterval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	chain := func(h http.Handler) http.Handler { return gate.Blocklist(gate.LimitAddress(h)) }
	configs := []struct {
		name string
		h    http.Handler
	}{
		{"none", okHandler},
		{"gate", chain(okHandler)},
		{"chain-stock", chain(mustWAF(b, Options{Stock: true}).Middleware(okHandler))},
		{"chain-tuned", chain(mustWAF(b, Options{}).Middleware(okHandler))},
	}
	for _, br := range benchRequests[:3] {
		body := benchBody(b, br.body)
		for _, c := range configs {
			b.Run(fmt.Sprintf("%s/%s", br.name, c.name), func(b *testing.B) {
				benchServe(b, c.h, br.method, br.target, body)
			})
		}
	}
}

// benchServe sends the request to h in a loop and reports the median and
// 90th percentile of single requests and the CPU time per request.
func benchServe(b *testing.B, h http.Handler, method, target string, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var times []time.Duration
	cpu0, haveCPU := processCPU()
	for b.Loop() {
		r := apiRequest(method, target, body)
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, r)
		times = append(times, time.Since(t0))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if cpu1, _ := processCPU(); haveCPU {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(len(times)), "cpu-ns/op")
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*9/10].Nanoseconds()), "p90-ns")
}

func mustWAF(tb testing.TB, opts Options) *WAF {
	tb.Helper()
	w, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// TestRuleCost measures what rules cost, for tuning: the stock CRS as it
// is and without each rule (or "+"-joined group of rules) named in
// VALV_TEST_RULE_COST, on the benchmark requests, in CPU time, with the
// configurations measured in turns so that other load on the machine
// affects them alike. For example, docs/waf.md's figures come from
//
//	VALV_TEST_RULE_COST=932250+932260+932340,932125+932370+932380 \
//	  go test ./internal/guard/ -run RuleCost -v -cpu 1
func TestRuleCost(t *testing.T) {
	spec := os.Getenv("VALV_TEST_RULE_COST")
	if spec == "" {
		t.Skip("set VALV_TEST_RULE_COST to the rules to measure")
	}
	if _, ok := processCPU(); !ok {
		t.Skip("no CPU time on this platform")
	}
	type variant struct {
		name string
		h    http.Handler
	}
	variants := []variant{{"stock", mustWAF(t, Options{Stock: true}).Middleware(okHandler)}}
	for _, group := range strings.Split(spec, ",") {
		w, err := newWAF(Options{Stock: true}, "\nSecRuleRemoveById "+strings.ReplaceAll(group, "+", " ")+"\n")
		if err != nil {
			t.Fatal(err)
		}
		variants = append(variants, variant{"without " + group, w.Middleware(okHandler)})
	}
	for _, br := range benchRequests[:4] {
		body := benchBody(t, br.body)
		n := max(2000/(len(body)/256+1), 20)
		cpu := make([][]time.Duration, len(variants))
		for range 5 {
			for i, v := range variants {
				c0, _ := processCPU()
				for range n {
					v.h.ServeHTTP(httptest.NewRecorder(), apiRequest(br.method, br.target, body))
				}
				c1, _ := processCPU()
				cpu[i] = append(cpu[i], (c1-c0)/time.Duration(n))
			}
		}
		med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
		base := med(cpu[0])
		t.Logf("%s: stock %v CPU per request", br.name, base)
		for i, v := range variants[1:] {
			m := med(cpu[i+1])
			t.Logf("%s: %s: %v, saves %v (%.0f%%)", br.name, v.name, m, base-m, 100*float64(base-m)/float64(base))
		}
	}
}
