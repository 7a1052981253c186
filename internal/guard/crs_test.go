package guard

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corazawaf/coraza/v3/types"
	"go.yaml.in/yaml/v3"

	"github.com/valvhq/valv/internal/valvtest"
)

// The OWASP CRS regression corpus (go-ftw format) measures what Valv's
// tuning costs in detection. Each test is a raw HTTP request and the rule
// ids expected (or not expected) to fire. The corpus is run twice through
// the real middleware behind a real net/http server — once with the stock
// CRS and once with Valv's tuned configuration — and detection is the
// share of the attack tests passed by stock that tuned still passes.

const (
	// crsCorpusEnv names a corpus directory other than the default
	// testdata/crs-regression-v4.25.0 (a copy of ../shared/testdata).
	crsCorpusEnv = "VALV_TEST_CRS_CORPUS"
	// crsParanoiaEnv runs the corpus at another paranoia level than
	// Valv's default (both configurations), for comparison.
	crsParanoiaEnv = "VALV_TEST_CRS_PARANOIA"
	// crsVerboseEnv lists every test that stock passes and tuned fails.
	crsVerboseEnv = "VALV_TEST_CRS_VERBOSE"
	crsCorpusName = "crs-regression-v4.25.0"

	// minDetection is the least share of stock's passing attack tests
	// that the tuned configuration must pass.
	minDetection = 0.95
)

// crsCorpusDir finds the corpus: $VALV_TEST_CRS_CORPUS, or the copy in
// testdata/crs-regression-v4.25.0 (the OWASP CRS regression tests, Apache
// 2.0, with their LICENSE), so that a checkout tests itself.
func crsCorpusDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join("testdata", crsCorpusName)
	if e := os.Getenv(crsCorpusEnv); e != "" {
		d = e
	}
	if _, err := os.Stat(filepath.Join(d, "tests", "regression", "tests")); err != nil {
		valvtest.Missing(t, "CRS regression corpus", fmt.Sprintf("%s not found (set %s)", d, crsCorpusEnv))
	}
	return d
}

// The go-ftw test format (ftw-tests-schema v2), as far as the corpus uses it.
type ftwFile struct {
	Meta struct {
		Enabled *bool `yaml:"enabled"`
	} `yaml:"meta"`
	RuleID int       `yaml:"rule_id"`
	Tests  []ftwTest `yaml:"tests"`
}

type ftwTest struct {
	TestID int        `yaml:"test_id"`
	Stages []ftwStage `yaml:"stages"`

	rule int // from the file
}

func (t ftwTest) name() string { return fmt.Sprintf("%d-%d", t.rule, t.TestID) }

// target is the rule a test is about: the first id it expects to fire
// (the file's rule_id is sometimes wrong, e.g. 9331200 for 933200).
func (t ftwTest) target() int {
	for _, s := range t.Stages {
		if len(s.Output.Log.ExpectIDs) > 0 {
			return s.Output.Log.ExpectIDs[0]
		}
	}
	return t.rule
}

type ftwStage struct {
	Input  ftwInput  `yaml:"input"`
	Output ftwOutput `yaml:"output"`
}

type ftwInput struct {
	Method              *string           `yaml:"method"`
	URI                 *string           `yaml:"uri"`
	Version             *string           `yaml:"version"`
	Headers             map[string]string `yaml:"headers"`
	Data                *string           `yaml:"data"`
	EncodedRequest      string            `yaml:"encoded_request"`
	AutocompleteHeaders *bool             `yaml:"autocomplete_headers"`
}

type ftwOutput struct {
	Status      int   `yaml:"status"`
	ExpectError *bool `yaml:"expect_error"`
	Log         struct {
		ExpectIDs    []int  `yaml:"expect_ids"`
		NoExpectIDs  []int  `yaml:"no_expect_ids"`
		MatchRegex   string `yaml:"match_regex"`
		NoMatchRegex string `yaml:"no_match_regex"`
	} `yaml:"log"`
	ResponseContains string `yaml:"response_contains"`
}

// attack reports whether a test expects some rule to fire (a positive
// test); the others check that rules stay quiet on benign input.
func (t ftwTest) attack() bool {
	for _, s := range t.Stages {
		if len(s.Output.Log.ExpectIDs) > 0 || s.Output.Log.MatchRegex != "" {
			return true
		}
	}
	return false
}

type ftwOverrides struct {
	TestOverrides []struct {
		RuleID  int        `yaml:"rule_id"`
		TestIDs []int      `yaml:"test_ids"`
		Reason  string     `yaml:"reason"`
		Output  *ftwOutput `yaml:"output"`
	} `yaml:"test_overrides"`
}

// loadCorpus reads every test, applying coraza-overrides.yaml: the
// expectations that differ for Coraza on net/http (an override with no
// output marks a known Coraza failure; those tests are left out).
func loadCorpus(t testing.TB, dir string) (tests []ftwTest, ignored int) {
	t.Helper()
	root := filepath.Join(dir, "tests", "regression")
	var ov ftwOverrides
	if data, err := os.ReadFile(filepath.Join(root, "coraza-overrides.yaml")); err == nil {
		if err := yaml.Unmarshal(data, &ov); err != nil {
			t.Fatalf("coraza-overrides.yaml: %v", err)
		}
	}
	type key struct{ rule, test int }
	override := map[key]*ftwOutput{}
	skip := map[key]bool{}
	for _, o := range ov.TestOverrides {
		for _, id := range o.TestIDs {
			if o.Output == nil {
				skip[key{o.RuleID, id}] = true
			} else {
				override[key{o.RuleID, id}] = o.Output
			}
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "tests"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var f ftwFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if f.Meta.Enabled != nil && !*f.Meta.Enabled {
			return nil
		}
		for _, tc := range f.Tests {
			tc.rule = f.RuleID
			k := key{f.RuleID, tc.TestID}
			if skip[k] {
				ignored++
				continue
			}
			if o := override[k]; o != nil {
				for i := range tc.Stages {
					tc.Stages[i].Output = *o
				}
			}
			tests = append(tests, tc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(tests, func(i, j int) bool {
		if tests[i].rule != tests[j].rule {
			return tests[i].rule < tests[j].rule
		}
		return tests[i].TestID < tests[j].TestID
	})
	return tests, ignored
}

var (
	// repeatTemplate is the one Go template (with sprig's repeat) that the
	// corpus uses in data.
	repeatTemplate   = regexp.MustCompile(`\{\{\s*"([^"]*)"\s*\|\s*repeat\s+(\d+)\s*\}\}`)
	methodsWithBody  = regexp.MustCompile(`^POST|PUT|PATCH|DELETE$`) // sic, as go-ftw
	ftwFormEncoded   = "application/x-www-form-urlencoded"
	ftwContentType   = "Content-Type"
	ftwMultipartType = "multipart/form-data;"
)

// rawRequest builds the bytes go-ftw would send for a stage.
func rawRequest(in ftwInput) ([]byte, error) {
	if in.EncodedRequest != "" {
		return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(in.EncodedRequest), ""))
	}
	method, uri, version := "GET", "/", "HTTP/1.1"
	if in.Method != nil {
		method = *in.Method
	}
	if in.URI != nil {
		uri = *in.URI
	}
	if in.Version != nil {
		version = *in.Version
	}
	auto := in.AutocompleteHeaders == nil || *in.AutocompleteHeaders
	h := map[string]string{}
	for k, v := range in.Headers {
		h[k] = v
	}
	var data []byte
	if in.Data != nil {
		s := repeatTemplate.ReplaceAllStringFunc(*in.Data, func(m string) string {
			sm := repeatTemplate.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sm[2])
			return strings.Repeat(sm[1], n)
		})
		data = []byte(s)
	}
	if len(data) > 0 && auto {
		if h[ftwContentType] == "" {
			h[ftwContentType] = ftwFormEncoded
		}
		if h[ftwContentType] == ftwFormEncoded {
			var err error
			if data, err = ftwEncodeForm(data); err != nil {
				return nil, err
			}
		}
	}
	if strings.HasPrefix(h[ftwContentType], ftwMultipartType) {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	if auto {
		if h["Connection"] == "" {
			h["Connection"] = "close"
		}
		if (len(data) > 0 || methodsWithBody.MatchString(method)) && h["Content-Length"] == "" {
			h["Content-Length"] = strconv.Itoa(len(data))
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, uri, version)
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(&b, "%s: %s\r\n", k, h[k])
	}
	b.WriteString("\r\n")
	b.Write(data)
	return b.Bytes(), nil
}

// ftwEncodeForm URL-encodes unencoded key=value pairs, as go-ftw does.
func ftwEncodeForm(data []byte) ([]byte, error) {
	s := string(data)
	if un, err := url.QueryUnescape(s); un != s {
		return data, nil
	} else if err != nil {
		return nil, err
	}
	var parts []string
	for _, tok := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			parts = append(parts, url.QueryEscape(tok))
			continue
		}
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return []byte(strings.Join(parts, "&")), nil
}

// stageResult is what one request did. A request that net/http refused
// before the WAF saw it has no rule ids.
type stageResult struct {
	err    error
	status int
	ids    []int
	logs   string // Coraza's error-log lines (with matched data: tests only), for match_regex
}

// crsRunner sends corpus requests to a server running one WAF.
type crsRunner struct {
	srv     *httptest.Server
	mu      sync.Mutex
	results map[string]stageResult // by client address
}

func newCRSRunner(t testing.TB, opts Options) *crsRunner {
	t.Helper()
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cr := &crsRunner{results: map[string]stageResult{}}
	w.observe = func(r *http.Request, tx types.Transaction) {
		var res stageResult
		var logs strings.Builder
		for _, mr := range tx.MatchedRules() {
			res.ids = append(res.ids, mr.Rule().ID())
			logs.WriteString(mr.ErrorLog())
			logs.WriteByte('\n')
		}
		res.logs = logs.String()
		cr.mu.Lock()
		cr.results[r.RemoteAddr] = res
		cr.mu.Unlock()
	}
	h := w.Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(rw, "ok\n")
	}))
	cr.srv = httptest.NewUnstartedServer(h)
	cr.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // malformed requests are the point
	cr.srv.Start()
	t.Cleanup(cr.srv.Close)
	return cr
}

func (cr *crsRunner) do(raw []byte, method string) stageResult {
	conn, err := net.Dial("tcp", cr.srv.Listener.Addr().String())
	if err != nil {
		return stageResult{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	local := conn.LocalAddr().String()
	if _, err := conn.Write(raw); err != nil {
		return stageResult{err: err}
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(conn)
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, &http.Request{Method: method})
		if err != nil || resp.StatusCode >= 200 {
			break
		}
		resp.Body.Close() // 1xx: the final response follows
	}
	cr.mu.Lock()
	res := cr.results[local]
	delete(cr.results, local)
	cr.mu.Unlock()
	if err != nil {
		res.err = err
		return res
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.status = resp.StatusCode
	return res
}

// passes decides a stage as go-ftw does.
func (res stageResult) passes(out ftwOutput) bool {
	if res.err != nil {
		return out.ExpectError != nil && *out.ExpectError
	}
	if out.Status != 0 && res.status != out.Status {
		return false
	}
	lg := out.Log
	if lg.MatchRegex != "" && !regexp.MustCompile(lg.MatchRegex).MatchString(res.logs) {
		return false
	}
	for _, id := range lg.ExpectIDs {
		if !slices.Contains(res.ids, id) {
			return false
		}
	}
	if lg.NoMatchRegex != "" && regexp.MustCompile(lg.NoMatchRegex).MatchString(res.logs) {
		return false
	}
	for _, id := range lg.NoExpectIDs {
		if slices.Contains(res.ids, id) {
			return false
		}
	}
	return true
}

// testResult is the outcome of one corpus test.
type testResult struct {
	pass    bool
	blocked bool // some stage was answered 403
}

func (cr *crsRunner) run(t testing.TB, tests []ftwTest) []testResult {
	t.Helper()
	out := make([]testResult, len(tests))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				r := testResult{pass: true}
				for _, st := range tests[i].Stages {
					raw, err := rawRequest(st.Input)
					if err != nil {
						r.pass = false
						continue
					}
					method, _, _ := strings.Cut(string(raw), " ")
					res := cr.do(raw, method)
					r.pass = r.pass && res.passes(st.Output)
					r.blocked = r.blocked || res.status == http.StatusForbidden
				}
				out[i] = r
			}
		})
	}
	for i := range tests {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

// corpusReport is the comparison of stock and tuned on the corpus.
type corpusReport struct {
	tests, attacks, benign    int
	stockAttack, tunedAttack  int // attack tests passed
	kept                      int // attack tests passed by both
	stockBenign, tunedBenign  int // benign tests passed
	stockBlocked, keptBlocked int // attack tests stock blocks; of those, tuned blocks too
	lostByRule                map[int]int
	gainedByRule              map[int]int
}

func (c corpusReport) detection() float64 { return float64(c.kept) / float64(c.stockAttack) }

func compareCorpus(tests []ftwTest, stock, tuned []testResult) corpusReport {
	c := corpusReport{tests: len(tests), lostByRule: map[int]int{}, gainedByRule: map[int]int{}}
	for i, tc := range tests {
		s, u := stock[i], tuned[i]
		if !tc.attack() {
			c.benign++
			if s.pass {
				c.stockBenign++
			}
			if u.pass {
				c.tunedBenign++
			}
			continue
		}
		c.attacks++
		if s.pass {
			c.stockAttack++
		}
		if u.pass {
			c.tunedAttack++
		}
		switch {
		case s.pass && u.pass:
			c.kept++
		case s.pass && !u.pass:
			c.lostByRule[tc.target()]++
		case !s.pass && u.pass:
			c.gainedByRule[tc.target()]++
		}
		if s.blocked {
			c.stockBlocked++
			if u.blocked {
				c.keptBlocked++
			}
		}
	}
	return c
}

func (c corpusReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CRS regression corpus: %d tests (%d attack, %d benign)\n", c.tests, c.attacks, c.benign)
	fmt.Fprintf(&b, "attack tests passed: stock %d, tuned %d; of stock's, tuned keeps %d = %.1f%% (minimum %.0f%%)\n",
		c.stockAttack, c.tunedAttack, c.kept, 100*c.detection(), 100*minDetection)
	fmt.Fprintf(&b, "attack tests blocked (403): stock %d; of those, tuned blocks %d = %.1f%%\n",
		c.stockBlocked, c.keptBlocked, 100*float64(c.keptBlocked)/float64(max(c.stockBlocked, 1)))
	fmt.Fprintf(&b, "benign tests passed: stock %d, tuned %d\n", c.stockBenign, c.tunedBenign)
	fmt.Fprintf(&b, "attack tests lost by rule: %s\n", byRule(c.lostByRule))
	fmt.Fprintf(&b, "attack tests gained by rule: %s", byRule(c.gainedByRule))
	return b.String()
}

func byRule(m map[int]int) string {
	var ids []int
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%d:%d", id, m[id]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func TestCRSRegressionCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("the CRS corpus takes a while; not in -short")
	}
	tests, ignored := loadCorpus(t, crsCorpusDir(t))
	if len(tests) < 1000 {
		t.Fatalf("found only %d corpus tests; is the corpus complete?", len(tests))
	}
	pl := DefaultParanoiaLevel
	if v := os.Getenv(crsParanoiaEnv); v != "" {
		var err error
		if pl, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s: %v", crsParanoiaEnv, err)
		}
	}
	t.Logf("paranoia level %d; %d tests loaded, %d ignored as known Coraza failures (coraza-overrides.yaml)", pl, len(tests), ignored)

	start := time.Now()
	stock := newCRSRunner(t, Options{Stock: true, ParanoiaLevel: pl}).run(t, tests)
	t.Logf("stock run: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	tuned := newCRSRunner(t, Options{ParanoiaLevel: pl}).run(t, tests)
	t.Logf("tuned run: %v", time.Since(start).Round(time.Millisecond))

	c := compareCorpus(tests, stock, tuned)
	t.Log(c)
	if c.stockAttack == 0 {
		t.Fatal("stock passed no attack test: the harness is broken")
	}
	if c.detection() < minDetection {
		t.Errorf("tuned detection %.1f%% of stock is below %.0f%%", 100*c.detection(), 100*minDetection)
	}
	// The measures report states CorpusDetection: it must stay what this
	// test measures (at the default paranoia level).
	if pl == DefaultParanoiaLevel && math.Abs(c.detection()-CorpusDetection) > 0.0005 {
		t.Errorf("measured detection %.4f differs from CorpusDetection %.4f: update the constant and docs/waf.md", c.detection(), CorpusDetection)
	}
	if os.Getenv(crsVerboseEnv) != "" {
		for i, tc := range tests {
			switch {
			case tc.attack() && stock[i].pass && !tuned[i].pass:
				t.Logf("attack test lost: %s", tc.name())
			case !tc.attack() && stock[i].pass && !tuned[i].pass:
				t.Logf("benign test lost: %s", tc.name())
			}
		}
	}
}
