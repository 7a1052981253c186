package guard

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
)

// Defaults of Options, and the limits behind them.
const (
	// DefaultBodyLimit is the most bytes of an inspected request body the
	// WAF buffers: the server's default limit for JSON bodies. Larger
	// payloads belong on upload routes, whose bodies go to the malware
	// scanner instead.
	DefaultBodyLimit = 1 << 20

	// DefaultTextLimit is the most bytes of an inspected body that the
	// rules read: the body less base64 file content in JSON members named
	// *_base64. The rules cost about 3.5 ms of CPU per KiB of text on
	// these machines, so this bounds a request at roughly a quarter of a
	// second; a larger text is refused.
	DefaultTextLimit = 64 << 10

	// DefaultArgumentLimit is the most arguments (query parameters, form
	// fields or JSON leaves) the WAF collects from each source. A request
	// with more is refused, because the rest could not be inspected.
	DefaultArgumentLimit = 512

	// DefaultJSONDepth is the deepest JSON nesting the WAF parses. Valv's
	// documents nest a few levels; a deeper body is refused.
	DefaultJSONDepth = 32

	// DefaultParanoiaLevel is the CRS paranoia level: 1 is the level
	// meant for production without application-specific tuning of
	// higher-level rules.
	DefaultParanoiaLevel = 1

	// CorpusDetection is the share of the CRS regression corpus's attack
	// tests that the stock rule set passes which Valv's tuned set passes
	// too, at the default paranoia level, as TestCRSRegressionCorpus
	// measures it (docs/waf.md). The measures report states it; the test
	// fails when it no longer matches.
	CorpusDetection = 0.9607

	// DefaultInboundThreshold is the anomaly score at which a request is
	// blocked: 5 is one rule of critical severity (the CRS default).
	DefaultInboundThreshold = 5
)

// Options configure a WAF. The zero value is the production
// configuration.
type Options struct {
	// ParanoiaLevel is the CRS blocking paranoia level, 1 to 4.
	// Zero means DefaultParanoiaLevel.
	ParanoiaLevel int

	// InboundThreshold is the anomaly score at which a request is
	// blocked. Zero means DefaultInboundThreshold.
	InboundThreshold int

	// BodyLimit is the most bytes of an inspected request body that are
	// read (into memory, never to disk). A larger inspected body is refused
	// with 413: the WAF never passes on bytes it has not seen. Zero means
	// DefaultBodyLimit.
	BodyLimit int64

	// TextLimit is the most bytes of an inspected body that the rules read
	// (see DefaultTextLimit); a body with more text is refused with 413.
	// Zero means DefaultTextLimit.
	TextLimit int64

	// ArgumentLimit is the most arguments collected from each source
	// (query, form or JSON body); a request with more is blocked. Zero
	// means DefaultArgumentLimit.
	ArgumentLimit int

	// InspectBody reports whether the body of r is read and inspected.
	// Return false for routes that take file uploads or streams: their
	// bodies go to the malware scanner and are passed on untouched, while
	// the request line, query and headers are still inspected. Nil means
	// every body is inspected.
	InspectBody func(r *http.Request) bool

	// OnBlock, if set, is called for every blocked request, on the
	// request's goroutine, before the 403 is written. It gets what is
	// needed to audit, count and notify; see Event.
	OnBlock func(ctx context.Context, e Event)

	// Log receives the WAF's own failures (never request data). Nil
	// discards them.
	Log *slog.Logger

	// Stock loads the unmodified OWASP CRS with Coraza's recommended
	// configuration instead of Valv's tuned configuration: all rule
	// groups, no exclusions, multipart files parsed (to temporary files).
	// Only SecRuleEngine On and the options above are applied. It exists
	// to measure the tuning (detection and cost) in tests and benchmarks;
	// production MUST NOT use it.
	Stock bool
}

// WAF is the web application firewall: Coraza with the OWASP Core Rule
// Set, compiled once and safe for concurrent use. Coraza keeps a pool of
// transactions; the middleware returns each to it when the request ends.
type WAF struct {
	newTx    func(ctx context.Context, id string) types.Transaction
	opts     Options
	log      *slog.Logger
	messages map[int]string                              // rule id → message template, macros unexpanded
	observe  func(r *http.Request, tx types.Transaction) // tests only
}

// New compiles the rule set. It takes a few hundred milliseconds and
// tens of megabytes; build one WAF per process and share it.
func New(opts Options) (*WAF, error) { return newWAF(opts, "") }

// newWAF is New with extra directives appended (tests measure rule costs
// with it).
func newWAF(opts Options, extra string) (*WAF, error) {
	if opts.ParanoiaLevel == 0 {
		opts.ParanoiaLevel = DefaultParanoiaLevel
	}
	if opts.InboundThreshold == 0 {
		opts.InboundThreshold = DefaultInboundThreshold
	}
	if opts.BodyLimit == 0 {
		opts.BodyLimit = DefaultBodyLimit
	}
	if opts.TextLimit == 0 {
		opts.TextLimit = DefaultTextLimit
	}
	if opts.ArgumentLimit == 0 {
		opts.ArgumentLimit = DefaultArgumentLimit
	}
	switch {
	case opts.ParanoiaLevel < 1 || opts.ParanoiaLevel > 4:
		return nil, fmt.Errorf("guard: paranoia level %d is not between 1 and 4", opts.ParanoiaLevel)
	case opts.InboundThreshold < 1:
		return nil, fmt.Errorf("guard: inbound anomaly threshold %d is not positive", opts.InboundThreshold)
	case opts.BodyLimit < 1 || opts.BodyLimit > maxBodyLimit:
		return nil, fmt.Errorf("guard: body limit %d is not between 1 and %d", opts.BodyLimit, maxBodyLimit)
	case opts.TextLimit < 1 || opts.TextLimit > opts.BodyLimit:
		return nil, fmt.Errorf("guard: text limit %d is not between 1 and the body limit %d", opts.TextLimit, opts.BodyLimit)
	case opts.ArgumentLimit < 1:
		return nil, fmt.Errorf("guard: argument limit %d is not positive", opts.ArgumentLimit)
	}

	w := &WAF{opts: opts, log: opts.Log, messages: map[int]string{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	cfg := coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(directives(opts) + extra)
	// Keep each rule's message template, so that events can name what
	// matched without the matched data (which may be personal data).
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) {
		if m := messageTemplate(r.Raw()); m != "" {
			if _, ok := w.messages[r.ID()]; !ok {
				w.messages[r.ID()] = m
			}
		}
	})
	waf, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("guard: compile rules: %w", err)
	}
	txo, ok := waf.(experimental.WAFWithOptions)
	if !ok {
		return nil, errors.New("guard: coraza does not support transaction options")
	}
	w.newTx = func(ctx context.Context, id string) types.Transaction {
		return txo.NewTransactionWithOptions(experimental.Options{ID: id, Context: ctx})
	}
	return w, nil
}

// maxBodyLimit bounds BodyLimit: the WAF buffers an inspected body in
// memory (twice: its own copy and Coraza's). It is the largest body the
// server's configuration allows.
const maxBodyLimit = 64 << 20

// The tuned configuration is in two SecLang files, embedded: the setup
// that runs before the CRS, and the exclusions that run after it. Each
// directive is explained where it is made.
var (
	//go:embed valv-setup.conf
	valvSetup string
	//go:embed valv-exclusions.conf
	valvExclusions string
)

// directives is the SecLang configuration for opts.
func directives(opts Options) string {
	var b strings.Builder
	// Coraza refuses a body whose length reaches SecRequestBodyLimit (it
	// compares with >=), so it is set one byte above ours. The middleware
	// enforces the real limit before Coraza sees the body. The in-memory
	// limit is the same, so that a body never spills to a temporary file:
	// bodies hold personal data and MUST NOT be written to disk.
	coraLimit := opts.BodyLimit + 1
	if opts.Stock {
		// The unmodified Coraza configuration shipped with the CRS module,
		// switched to blocking, and the example CRS setup.
		b.WriteString("Include @coraza.conf-recommended\n")
	} else {
		b.WriteString(valvSetup)
		b.WriteByte('\n')
		fmt.Fprintf(&b, "SecRequestBodyJsonDepthLimit %d\n", DefaultJSONDepth)
	}
	fmt.Fprintf(&b, `SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit %d
SecRequestBodyInMemoryLimit %d
SecRequestBodyLimitAction Reject
SecArgumentsLimit %d
SecResponseBodyAccess Off
SecAuditEngine Off
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4"
`, coraLimit, coraLimit, opts.ArgumentLimit, opts.ParanoiaLevel, opts.InboundThreshold)
	if opts.Stock {
		b.WriteString("Include @owasp_crs/*.conf\n")
		return b.String()
	}
	b.WriteString(valvPolicy)
	// Only the request rules: responses are never inspected.
	b.WriteString("Include @owasp_crs/REQUEST-*.conf\n")
	b.WriteString(valvExclusions)
	return b.String()
}

// valvPolicy is Valv's HTTP policy for the CRS (crs-setup.conf's
// settings 900200 and 900220): the methods a JSON API uses, and only the
// content types whose bodies the WAF parses: JSON, URL-encoded forms and
// multipart forms (whose files are refused on inspected routes). A body
// of another type would reach a handler uninspected. Routes whose bodies
// are not inspected are exempt (see Middleware).
const valvPolicy = `SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST PUT PATCH DELETE OPTIONS'"
SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|application/json| |application/merge-patch+json| |application/x-www-form-urlencoded| |multipart/form-data|'"
`

var msgRe = regexp.MustCompile(`msg:'((?:[^'\\]|\\.)*)'`)

// messageTemplate returns the msg of a rule's SecLang text, with its
// macros (%{...}) left unexpanded: it names what the rule detects, never
// what it matched.
func messageTemplate(raw string) string {
	m := msgRe.FindStringSubmatch(raw)
	if m == nil {
		return ""
	}
	return m[1]
}

// RuleMessage is the description of a rule with its macros unexpanded
// (never matched data), or "" for a rule without one.
func (w *WAF) RuleMessage(id int) string {
	if w == nil {
		return ""
	}
	switch id {
	case RuleFileOnInspectedRoute:
		return "File upload to a route that takes no files"
	}
	return w.messages[id]
}
