package cli

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/app"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/loadgen"
)

// benchOps are the operations 'valv bench' knows, in the order it runs
// them (download needs the files upload made).
var benchOps = []string{"create", "read", "search", "validate", "upload", "download", "login"}

// benchOptions are the flags of 'valv bench'.
type benchOptions struct {
	sizes     []int
	clients   int
	duration  time.Duration
	warmup    time.Duration
	count     int
	ops       []string
	halfPeak  bool
	profiles  bool
	jsonOut   string
	markdown  string
	workDir   string
	keep      bool
	scan      string
	server    string
	command   string // as given, for the report
	batchSize int
	notes     string // markdown file placed after the figures
	from      string // a JSON report to render instead of running
}

func newBenchCmd(e *env) *cobra.Command {
	var o benchOptions
	var sizes, ops string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Valv server under load (starts its own, in a scratch directory)",
		Long: `Measure Valv with every protection on: for each data-set size it makes a
scratch installation (SQLite, durable commits, development environment),
a tenant with an owner and an API key, loads that many 1 KiB JSON documents
with two subjects each through the import API, then starts 'valv serve' as
a child process and drives it over HTTPS with keep-alive from --clients
concurrent clients, one operation at a time:

  create    create a 1 KiB JSON document with two subjects
  read      read a document by id
  search    search by subject (a customer number) among all documents
  validate  validate a document without storing it
  upload    create a document with a 1 MiB file (multipart)
  download  download a 1 MiB file
  login     log in with tenant, e-mail and password (Argon2id)

Each operation runs closed-loop (as fast as answers come) for --duration;
create, read and search then run again open-loop at half that throughput,
which gives the latency a server has with room to spare. It reports throughput,
p50/p90/p99/max latency, errors, the server's CPU seconds (from /proc) and
its peak resident memory, the time from start to ready, and the storage
per document; with --markdown it writes the performance page, including
where the CPU time goes (a pprof CPU profile of the server per operation).

The rate limits are off in the scratch installation (they would cap the
run by design); the WAF, authentication, authorization, encryption, the
audit trail with payload history, and durable group commits are on.
Files are scanned when --scan-address names a clamd.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.from != "" {
				return e.benchPage(o)
			}
			if o.sizes, err = parseSizes(sizes); err != nil {
				return usageError{err}
			}
			if o.ops, err = parseOps(ops); err != nil {
				return usageError{err}
			}
			if o.clients < 1 || o.clients > 1024 {
				return usageError{errors.New("--clients: give 1 to 1024")}
			}
			if o.duration <= 0 && o.count <= 0 {
				return usageError{errors.New("give a --duration or a --count")}
			}
			if o.batchSize < 1 || o.batchSize > 1000 {
				return usageError{errors.New("--import-batch: give 1 to 1000")}
			}
			if o.server == "" {
				if o.server, err = os.Executable(); err != nil {
					return fmt.Errorf("find the valv binary to start (give --server): %w", err)
				}
			} else if o.server, err = exec.LookPath(o.server); err != nil {
				return usageError{fmt.Errorf("--server: %w", err)}
			}
			o.command = "valv " + strings.Join(os.Args[1:], " ")
			return e.bench(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "documents", "10000", "data-set sizes to measure, comma-separated (10000,100000,1000000; 10k, 1M)")
	f.IntVar(&o.clients, "clients", 16, "concurrent clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long each operation runs")
	f.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each operation's measured run (not counted)")
	f.IntVar(&o.count, "count", 0, "at most this many of each operation (0: no bound)")
	f.StringVar(&ops, "ops", strings.Join(benchOps, ","), "operations to run, comma-separated")
	f.BoolVar(&o.halfPeak, "half-peak", true, "run create, read and search again at half their peak throughput")
	f.BoolVar(&o.profiles, "profile", true, "CPU-profile the server during each operation")
	f.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	f.StringVar(&o.markdown, "markdown", "", "write the performance page (docs/performance.md) to this file")
	f.StringVar(&o.workDir, "work-dir", "", "where the scratch installations go (default: the system's temporary directory)")
	f.BoolVar(&o.keep, "keep", false, "keep the scratch installations")
	f.StringVar(&o.scan, "scan-address", "", "clamd to scan uploads with (default: files stored unscanned)")
	f.StringVar(&o.server, "server", "", "the valv binary to start (default: this one)")
	f.IntVar(&o.batchSize, "import-batch", 1000, "documents per import request while loading")
	f.StringVar(&o.notes, "notes", "", "a markdown file to place after the figures on the performance page (the analysis)")
	f.StringVar(&o.from, "from-json", "", "render --markdown from this earlier --json report instead of running")
	return cmd
}

// parseSizes reads "10000,100k,1M".
func parseSizes(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		mult := 1
		switch {
		case strings.HasSuffix(part, "k"), strings.HasSuffix(part, "K"):
			mult, part = 1000, part[:len(part)-1]
		case strings.HasSuffix(part, "M"):
			mult, part = 1_000_000, part[:len(part)-1]
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > 10_000_000/mult {
			return nil, fmt.Errorf("--documents: %q is not a size from 1 to 10M", part)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

func parseOps(s string) ([]string, error) {
	var out []string
	for op := range strings.SplitSeq(s, ",") {
		op = strings.TrimSpace(op)
		if !slices.Contains(benchOps, op) {
			return nil, fmt.Errorf("--ops: %q is not one of %s", op, strings.Join(benchOps, ", "))
		}
		if !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	// In the order they run.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(benchOps, a) - slices.Index(benchOps, b) })
	return out, nil
}

// benchReport is the JSON a run writes, and what the page is made from.
type benchReport struct {
	Format   string        `json:"format"`
	Version  string        `json:"version"`
	Date     string        `json:"date"`
	Command  string        `json:"command"`
	Machine  benchMachine  `json:"machine"`
	Clients  int           `json:"clients"`
	Duration string        `json:"duration"`
	Warmup   string        `json:"warmup"`
	Scanned  bool          `json:"files_scanned"`
	Sizes    []benchResult `json:"sizes"`
}

type benchMachine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	OS     string `json:"os"`
	Go     string `json:"go"`
}

// benchResult is one data-set size.
type benchResult struct {
	Documents     int     `json:"documents"`
	LoadSeconds   float64 `json:"load_seconds"`
	LoadPerSecond float64 `json:"load_per_second"`
	// Storage is the data directory's size after loading; Payload the
	// documents as submitted (their JSON); the ratio is the target's.
	StorageBytes int64   `json:"storage_bytes"`
	PayloadBytes int64   `json:"payload_bytes"`
	StorageRatio float64 `json:"storage_ratio"`
	// ReadySeconds is the time from starting 'valv serve' on the loaded
	// installation to its first 200 from /readyz.
	ReadySeconds float64 `json:"ready_seconds"`
	// PeakRSS is the largest peak resident set of any server run.
	PeakRSS  int64                      `json:"peak_rss_bytes"`
	Runs     []benchRun                 `json:"runs"`
	Profiles map[string]loadgen.Profile `json:"profiles,omitempty"`
}

// benchRun is one operation at one load.
type benchRun struct {
	Op   string `json:"op"`
	Mode string `json:"mode"` // "peak" or "half-peak"
	loadgen.Result
	ServerCPU float64 `json:"server_cpu_seconds"`
	CPUPerOp  float64 `json:"server_cpu_ms_per_op"`
	PeakRSS   int64   `json:"server_peak_rss_bytes"`
	// The server's resident set at the end of the run: anonymous memory
	// (Go heap, SQLite's page caches, stacks) and mapped file pages (the
	// binary and the memory-mapped database, which the kernel may drop).
	RSSAnon int64 `json:"server_rss_anon_bytes"`
	RSSFile int64 `json:"server_rss_file_bytes"`
	// ClientCPU is the load generator's own CPU time during the run: on
	// a small machine it competes with the server.
	ClientCPU float64 `json:"client_cpu_seconds"`
}

func (e *env) bench(ctx context.Context, o benchOptions) error {
	rep := benchReport{Format: "valv-bench-v1", Version: version, Date: time.Now().UTC().Format(time.DateOnly), Command: o.command,
		Machine: machine(), Clients: o.clients, Duration: o.duration.String(), Warmup: o.warmup.String(), Scanned: o.scan != ""}
	for _, n := range o.sizes {
		res, err := e.benchSize(ctx, o, n)
		if err != nil {
			return fmt.Errorf("bench with %d documents: %w", n, err)
		}
		rep.Sizes = append(rep.Sizes, res)
		printBenchTable(e.Stdout, res)
	}
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write the results: %w", err)
		}
	}
	return writeBenchPage(o, rep)
}

// benchPage renders the page from an earlier JSON report.
func (e *env) benchPage(o benchOptions) error {
	if o.markdown == "" {
		return usageError{errors.New("--from-json needs --markdown")}
	}
	raw, err := os.ReadFile(o.from)
	if err != nil {
		return fmt.Errorf("read the report: %w", err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("%s is not a valv bench report: %w", o.from, err)
	}
	if rep.Format != "valv-bench-v1" {
		return fmt.Errorf("%s is not a valv bench report (format %q, want valv-bench-v1)", o.from, rep.Format)
	}
	return writeBenchPage(o, rep)
}

func writeBenchPage(o benchOptions, rep benchReport) error {
	if o.markdown == "" {
		return nil
	}
	var notes []byte
	if o.notes != "" {
		var err error
		if notes, err = os.ReadFile(o.notes); err != nil {
			return fmt.Errorf("read the notes: %w", err)
		}
	}
	var buf bytes.Buffer
	writePerformancePage(&buf, rep, string(notes))
	if err := os.WriteFile(o.markdown, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the performance page: %w", err)
	}
	return nil
}

// benchSize makes a scratch installation with n documents and runs every
// operation against it.
func (e *env) benchSize(ctx context.Context, o benchOptions, n int) (benchResult, error) {
	dir, err := os.MkdirTemp(o.workDir, "valv-bench-")
	if err != nil {
		return benchResult{}, fmt.Errorf("make a scratch directory: %w", err)
	}
	res, err := e.benchIn(ctx, o, n, dir)
	switch {
	case o.keep:
		fmt.Fprintf(e.Stderr, "bench: scratch installation kept in %s\n", dir)
	case err != nil:
		// Its serve.log says what the server saw.
		fmt.Fprintf(e.Stderr, "bench: scratch installation kept for inspection in %s\n", dir)
	default:
		if rerr := os.RemoveAll(dir); rerr != nil {
			return res, fmt.Errorf("remove the scratch installation: %w", rerr)
		}
	}
	return res, err
}

// benchIn measures a scratch installation with n documents in dir.
func (e *env) benchIn(ctx context.Context, o benchOptions, n int, dir string) (benchResult, error) {
	cfgFile := filepath.Join(dir, "valv.yaml")
	if err := os.WriteFile(cfgFile, []byte(benchConfig(filepath.Join(dir, "data"), o.scan)), 0o600); err != nil {
		return benchResult{}, fmt.Errorf("write the scratch configuration: %w", err)
	}
	cfg, err := config.Load(config.Source{File: cfgFile})
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return benchResult{}, fmt.Errorf("the scratch configuration: %w", err)
	}
	fx, err := prepareBench(ctx, cfg)
	if err != nil {
		return benchResult{}, err
	}
	res := benchResult{Documents: n, Profiles: map[string]loadgen.Profile{}}
	// Load the data set through the API.
	srv, err := startBenchServer(ctx, o.server, cfgFile, dir, "")
	if err != nil {
		return benchResult{}, err
	}
	ids, payload, took, err := e.loadDocuments(ctx, srv, fx, n, o.batchSize)
	if serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return benchResult{}, err
	}
	res.LoadSeconds, res.LoadPerSecond = round3(took.Seconds()), round1(float64(n)/took.Seconds())
	res.PayloadBytes = payload
	if res.StorageBytes, err = dirSize(filepath.Join(dir, "data")); err != nil {
		return benchResult{}, err
	}
	res.StorageRatio = round3(float64(res.StorageBytes) / float64(payload))

	w := &benchWorkload{fx: fx, ids: ids, n: n, o: o}
	for _, op := range o.ops {
		profile := ""
		if o.profiles {
			profile = filepath.Join(dir, op+".pprof")
		}
		srv, err := startBenchServer(ctx, o.server, cfgFile, dir, profile)
		if err != nil {
			return res, err
		}
		if res.ReadySeconds == 0 {
			res.ReadySeconds = round3(srv.ready.Seconds())
		}
		runs, err := w.run(ctx, srv, op)
		if serr := srv.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", op, err)
		}
		for _, r := range runs {
			res.PeakRSS = max(res.PeakRSS, r.PeakRSS)
			printBenchLine(e.Stderr, n, r)
		}
		res.Runs = append(res.Runs, runs...)
		if profile != "" {
			raw, err := os.ReadFile(profile)
			if err != nil {
				return res, fmt.Errorf("%s: the CPU profile: %w", op, err)
			}
			p, err := loadgen.Summarise(raw, benchComponents, 12)
			if err != nil {
				return res, fmt.Errorf("%s: %w", op, err)
			}
			res.Profiles[op] = p
		}
	}
	return res, nil
}

// benchComponents name where a server's CPU time goes, most specific
// first: a sample counts for the first component with a frame in its
// stack.
var benchComponents = []loadgen.Component{
	{Prefix: "github.com/corazawaf/", Name: "WAF (Coraza with the OWASP CRS)"},
	{Prefix: "golang.org/x/crypto/argon2", Name: "password hashing (Argon2id)"},
	{Prefix: "modernc.org/", Name: "SQLite (queries, commits, fsync)"},
	{Prefix: "crypto/tls", Name: "TLS"},
	{Prefix: "github.com/tink-crypto/", Name: "encryption (Tink AEAD) and blind indexes"},
	{Prefix: "github.com/valvhq/valv/internal/seal", Name: "encryption (Tink AEAD) and blind indexes"},
	{Prefix: "encoding/json", Name: "JSON"},
	{Prefix: "mime/multipart", Name: "multipart parsing"},
	{Prefix: "runtime.gcBgMarkWorker", Name: "Go garbage collector"},
	{Prefix: "github.com/valvhq/valv/", Name: "Valv's own code (middleware, services, audit)"},
	{Prefix: "net/http", Name: "HTTP"},
}

// benchConfig is the scratch installation's configuration.
func benchConfig(dataDir, scan string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "environment: development\ndata_dir: %q\nlisten: 127.0.0.1:0\nlog:\n  level: warn\n", dataDir)
	b.WriteString("guard:\n  address_limit: 0\n  key_limit: 0\n  user_limit: 0\n  tenant_limit: 0\n")
	if scan != "" {
		fmt.Fprintf(&b, "scan:\n  address: %q\n", scan)
	} else {
		b.WriteString("documents:\n  allow_unscanned: true\n")
	}
	return b.String()
}

// prepareBench opens the scratch installation (making it) and sets up
// the tenant, its owner and an API key.
func prepareBench(ctx context.Context, cfg config.Config) (app.BenchFixture, error) {
	a, err := app.Open(ctx, app.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Out: io.Discard, Version: version})
	if err != nil {
		return app.BenchFixture{}, fmt.Errorf("make the scratch installation: %w", err)
	}
	defer a.Close()
	return a.PrepareBench(ctx, "Bench AB", "owner@bench.example", "bench-"+crand.Text())
}

// benchServer is a 'valv serve' child process.
type benchServer struct {
	cmd    *exec.Cmd
	base   string
	client *http.Client
	ready  time.Duration
	done   chan error
}

// startBenchServer starts 'valv serve' and waits until /readyz answers 200.
func startBenchServer(ctx context.Context, bin, cfgFile, dir, profile string) (*benchServer, error) {
	addrFile := filepath.Join(dir, "data", "valv.addr")
	_ = os.Remove(addrFile)
	log, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the server's log: %w", err)
	}
	defer log.Close()
	args := []string{"valv", "serve", "--config", cfgFile}
	if profile != "" {
		_ = os.Remove(profile)
		args = append(args, "--cpu-profile", profile)
	}
	// Args[0] is "valv" so that a test binary standing in for valv knows
	// what it is to be.
	cmd := &exec.Cmd{Path: bin, Args: args, Stdout: log, Stderr: log, Env: benchEnviron()}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &benchServer{cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	fail := func(err error) (*benchServer, error) {
		_ = cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("%w (see %s)", err, filepath.Join(dir, "serve.log"))
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.client == nil {
		select {
		case err := <-s.done:
			s.done <- err
			return fail(fmt.Errorf("valv serve ended before it was ready: %v", err))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
		raw, err := os.ReadFile(addrFile)
		if err != nil || !bytes.HasSuffix(raw, []byte("\n")) {
			if time.Now().After(deadline) {
				return fail(errors.New("valv serve did not write its address within a minute"))
			}
			continue
		}
		_, port, _ := strings.Cut(strings.TrimSpace(string(raw)), ":")
		pem, err := os.ReadFile(filepath.Join(dir, "data", "tls", "self-signed.crt"))
		if err != nil {
			return fail(fmt.Errorf("read the server's certificate: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fail(errors.New("the server's certificate file holds no PEM certificate"))
		}
		s.base = "https://localhost:" + port
		s.client = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024}}
	}
	for {
		if s.readyz(ctx) {
			s.ready = time.Since(start)
			return s, nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fail(fmt.Errorf("valv serve ended before it was ready: %v", err))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(errors.New("valv serve was not ready within a minute"))
		}
	}
}

// readyz reports whether the server answers 200 on /readyz.
func (s *benchServer) readyz(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// benchEnviron is the child's environment: this one without VALV_*
// settings, which would change the scratch configuration.
func benchEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VALV_") {
			env = append(env, kv)
		}
	}
	return env
}

// usage reads the server's usage and this process's (the load
// generator's) at one moment.
func (s *benchServer) usage() (server, self loadgen.Usage, err error) {
	if server, err = loadgen.ReadUsage(s.cmd.Process.Pid); err != nil {
		return server, self, err
	}
	self, err = loadgen.ReadUsage(os.Getpid())
	return server, self, err
}

// stop shuts the server down gracefully (which writes its CPU profile).
func (s *benchServer) stop() error {
	s.client.CloseIdleConnections()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("valv serve stopped with %w", err)
		}
		return nil
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("valv serve did not stop within a minute of SIGTERM")
	}
}

// call makes one request and checks its status; the body is read and
// returned only when out is set.
func (s *benchServer) call(ctx context.Context, method, path, contentType string, body []byte, auth func(*http.Request), want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	auth(req)
	name := method + " " + strings.Split(path, "?")[0]
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The body is always read to its end, so that the connection is kept
	// for the next request (a new TLS handshake would distort the figures).
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %d %s", name, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s: read the answer: %w", name, err)
		}
		return nil
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("%s: read the answer: %w", name, err)
	}
	return nil
}

// benchDocument is document i: 1 KiB of JSON with two subjects, a
// customer number K-<i> and an e-mail address.
func benchDocument(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"invoice","subjects":[{"kind":"customer_number","value":"K-%08d"},{"kind":"email","value":"kund%d@example.se"}],`, i, i)
	fmt.Fprintf(&b, `"data":{"invoice":"F-%08d","amount":%d.50,"currency":"SEK","iban":"SE4550000000058398257466","lines":[`, i, i%10000)
	for l := 0; b.Len() < 1000; l++ {
		if l > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"text":"Konsulttjänst %d","qty":%d,"price":1250}`, l, l+1)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// loadDocuments imports documents 0..n-1 in batches from two clients,
// and returns their ids (by number) and the payload's size.
func (e *env) loadDocuments(ctx context.Context, s *benchServer, fx app.BenchFixture, n, batch int) ([]string, int64, time.Duration, error) {
	ids := make([]string, n)
	var (
		mu      sync.Mutex
		payload int64
		done    int64
		first   error
		wg      sync.WaitGroup
	)
	p := e.progress("loading documents", int64(n))
	next := make(chan int)
	start := time.Now()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range next {
				to := min(from+batch, n)
				var body bytes.Buffer
				body.WriteString(`{"documents":[`)
				size := int64(0)
				for i := from; i < to; i++ {
					if i > from {
						body.WriteByte(',')
					}
					d := benchDocument(i)
					size += int64(len(d))
					body.Write(d)
				}
				body.WriteString(`]}`)
				var out struct {
					IDs []string `json:"ids"`
				}
				err := s.call(ctx, "POST", "/api/v1/documents/import", "application/json", body.Bytes(), bearer(fx.APIKey), 201, &out)
				if err == nil && len(out.IDs) != to-from {
					err = fmt.Errorf("import: %d ids for %d documents", len(out.IDs), to-from)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					copy(ids[from:to], out.IDs)
					payload += size
					done += int64(to - from)
					p.set(done, int64(n))
				}
				mu.Unlock()
			}
		}()
	}
	for from := 0; from < n; from += batch {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- from
	}
	close(next)
	wg.Wait()
	p.finish()
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		return nil, 0, 0, fmt.Errorf("load the documents: %w", first)
	}
	return ids, payload, time.Since(start), nil
}

// halfPeakOps run again at half their peak throughput: the latency
// targets are for create, read and search with room to spare.
var halfPeakOps = map[string]bool{"create": true, "read": true, "search": true}

// benchWorkload runs the operations against a loaded installation.
type benchWorkload struct {
	fx    app.BenchFixture
	ids   []string
	n     int
	o     benchOptions
	mu    sync.Mutex
	files []string // documents with a file, made by upload
	made  int      // documents made by create so far
}

// bearer authenticates requests with an API key.
func bearer(key string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
}

// run runs op against s: closed-loop, then (create, read and search) at
// half the throughput it reached.
func (w *benchWorkload) run(ctx context.Context, s *benchServer, op string) ([]benchRun, error) {
	fn, err := w.op(ctx, s, op)
	if err != nil {
		return nil, err
	}
	// Warm-up: connections, TLS sessions, caches, heap growth; its figures
	// are not kept.
	if w.o.warmup > 0 {
		if _, err := loadgen.Run(ctx, loadgen.Options{Clients: w.o.clients, Duration: w.o.warmup, Count: w.o.count}, fn); err != nil {
			return nil, err
		}
	}
	measure := func(mode string, rate float64) (benchRun, error) {
		// The run's own peak, not the start-up's or the warm-up's.
		if err := loadgen.ResetPeak(s.cmd.Process.Pid); err != nil {
			return benchRun{}, err
		}
		before, self, err := s.usage()
		if err != nil {
			return benchRun{}, err
		}
		r, err := loadgen.Run(ctx, loadgen.Options{Clients: w.o.clients, Duration: w.o.duration, Count: w.o.count, Rate: rate}, fn)
		if err != nil {
			return benchRun{}, err
		}
		after, selfAfter, err := s.usage()
		if err != nil {
			return benchRun{}, err
		}
		run := benchRun{Op: op, Mode: mode, Result: r, ServerCPU: round3(after.CPUSeconds - before.CPUSeconds), PeakRSS: after.PeakRSS,
			RSSAnon: after.RSSAnon, RSSFile: after.RSSFile,
			ClientCPU: round3(selfAfter.CPUSeconds - self.CPUSeconds)}
		run.PerSecond = round1(run.PerSecond)
		if r.Ops > 0 {
			run.CPUPerOp = round3(run.ServerCPU * 1000 / float64(r.Ops))
		}
		return run, nil
	}
	peak, err := measure("peak", 0)
	if err != nil {
		return nil, err
	}
	runs := []benchRun{peak}
	if w.o.halfPeak && halfPeakOps[op] && peak.PerSecond > 2 {
		half, err := measure("half-peak", peak.PerSecond/2)
		if err != nil {
			return nil, err
		}
		runs = append(runs, half)
	}
	return runs, nil
}

// op returns the load function for op.
func (w *benchWorkload) op(ctx context.Context, s *benchServer, op string) (loadgen.Op, error) {
	bearer := bearer(w.fx.APIKey)
	switch op {
	case "create":
		return func(ctx context.Context, _, _ int) error {
			w.mu.Lock()
			i := w.n + w.made
			w.made++
			w.mu.Unlock()
			return s.call(ctx, "POST", "/api/v1/documents", "application/json", benchDocument(i), bearer, 201, nil)
		}, nil
	case "read":
		return func(ctx context.Context, _, _ int) error {
			i := rand.IntN(len(w.ids)) // #nosec G404 -- which document a load run reads, not a secret
			return s.call(ctx, "GET", "/api/v1/documents/"+w.ids[i], "", nil, bearer, 200, nil)
		}, nil
	case "search":
		return func(ctx context.Context, _, _ int) error {
			k := rand.IntN(w.n) // #nosec G404 -- which customer a load run searches for, not a secret
			var out struct {
				Items []json.RawMessage `json:"items"`
			}
			body := fmt.Appendf(nil, `{"kind":"customer_number","value":"K-%08d"}`, k)
			if err := s.call(ctx, "POST", "/api/v1/documents/search", "application/json", body, bearer, 200, &out); err != nil {
				return err
			}
			if len(out.Items) != 1 {
				return fmt.Errorf("search for customer %d found %d documents, want 1", k, len(out.Items))
			}
			return nil
		}, nil
	case "validate":
		return func(ctx context.Context, _, i int) error {
			body := append(append([]byte(`{"document":`), benchDocument(i)...), '}')
			return s.call(ctx, "POST", "/api/v1/validate", "application/json", body, bearer, 200, nil)
		}, nil
	case "upload":
		body, ctype, err := uploadBody()
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, _, _ int) error {
			var out struct {
				ID string `json:"id"`
			}
			if err := s.call(ctx, "POST", "/api/v1/documents", ctype, body, bearer, 201, &out); err != nil {
				return err
			}
			w.mu.Lock()
			if len(w.files) < 1000 {
				w.files = append(w.files, out.ID)
			}
			w.mu.Unlock()
			return nil
		}, nil
	case "download":
		if len(w.files) == 0 {
			// Without an upload run, make a few files to download.
			up, err := w.op(ctx, s, "upload")
			if err != nil {
				return nil, err
			}
			for i := range 8 {
				if err := up(ctx, 0, i); err != nil {
					return nil, err
				}
			}
		}
		return func(ctx context.Context, _, i int) error {
			return s.call(ctx, "GET", "/api/v1/documents/"+w.files[i%len(w.files)]+"/content", "", nil, bearer, 200, nil)
		}, nil
	case "login":
		body, err := json.Marshal(map[string]string{"tenant": w.fx.Tenant, "email": w.fx.Email, "password": w.fx.Password})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, _, _ int) error {
			var out struct {
				Status string `json:"status"`
			}
			if err := s.call(ctx, "POST", "/api/v1/auth/login", "application/json", body, func(*http.Request) {}, 200, &out); err != nil {
				return err
			}
			if out.Status != "authenticated" {
				return fmt.Errorf("login: %q, want authenticated", out.Status)
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// uploadBody is a multipart create with a 1 MiB PDF-like file.
func uploadBody() ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="document"`)
	h.Set("Content-Type", "application/json")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := pw.Write([]byte(`{"type":"scan","subjects":[{"kind":"customer_number","value":"K-99999999"}]}`)); err != nil {
		return nil, "", err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="scan.pdf"`)
	h.Set("Content-Type", "application/pdf")
	if pw, err = mw.CreatePart(h); err != nil {
		return nil, "", err
	}
	file := make([]byte, 1<<20)
	copy(file, "%PDF-1.7\n")
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- test data for a load run, not a secret
	for i := 9; i < len(file); i++ {
		file[i] = byte(rng.Uint32()) // #nosec G115 -- any byte will do
	}
	if _, err := pw.Write(file); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// dirSize is the size of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("measure the installation's size: %w", err)
	}
	return n, nil
}

// machine describes this machine for the report.
func machine() benchMachine {
	m := benchMachine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				f := strings.Fields(v)
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	return m
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
