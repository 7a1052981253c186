package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
)

// recorder collects what OnBlock was told.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (rec *recorder) onBlock(_ context.Context, e Event) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.events = append(rec.events, e)
}

// serve sends r through h and reports the response and whether the
// handler behind the WAF was reached.
func serve(h func(http.Handler) http.Handler, r *http.Request) (*httptest.ResponseRecorder, bool) {
	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		_, _ = io.Copy(io.Discard, r.Body)
	})
	rec := httptest.NewRecorder()
	h(next).ServeHTTP(rec, r)
	return rec, reached
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Body {
	t.Helper()
	var env problem.Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("response is not a problem envelope: %v: %s", err, rec.Body)
	}
	return env.Error
}

func formRequest(target string, values string) *http.Request {
	r := apiRequest("POST", target, nil)
	r.Body = io.NopCloser(strings.NewReader(values))
	r.ContentLength = int64(len(values))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Content-Length", fmt.Sprint(len(values)))
	return r
}

// TestBlocksProbes: SQL injection and XSS probes get 403 request_blocked,
// never reach the handler, and OnBlock gets the rule ids, the score and
// the client address — and none of the probe's text.
func TestBlocksProbes(t *testing.T) {
	probes := []struct {
		name    string
		req     func() *http.Request
		payload string
		rules   []int
	}{
		{"SQL injection in the query", func() *http.Request {
			return apiRequest("GET", "/api/v1/documents?q=1%27%20OR%20%271%27%3D%271", nil)
		}, "OR '1'='1", []int{942100}},
		{"SQL injection in a JSON body", func() *http.Request {
			return apiRequest("POST", "/api/v1/documents", []byte(`{"title":"x' UNION SELECT password FROM users--"}`))
		}, "UNION SELECT password", []int{942100}},
		{"XSS in a JSON body", func() *http.Request {
			return apiRequest("POST", "/api/v1/messages", []byte(`{"body":"<script>alert(document.cookie)</script>"}`))
		}, "document.cookie", []int{941100}},
		{"XSS in a portal form", func() *http.Request {
			return formRequest("/portal/contact", "name=x&message=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E")
		}, "onerror", []int{941100}},
	}
	for _, stock := range []bool{false, true} {
		var rec recorder
		w := mustWAF(t, Options{Stock: stock, OnBlock: rec.onBlock})
		for _, p := range probes {
			t.Run(fmt.Sprintf("stock=%v/%s", stock, p.name), func(t *testing.T) {
				rec.events = nil
				r := p.req()
				// The client is behind a trusted proxy: the address to report
				// is the one call.Info holds, not the peer's.
				info := call.From(r.Context())
				info.ClientIP = netip.MustParseAddr("198.51.100.23")
				r = r.WithContext(call.With(r.Context(), info))

				resp, reached := serve(w.Middleware, r)
				if resp.Code != http.StatusForbidden || reached {
					t.Fatalf("status %d, handler reached %v; want 403 and not reached", resp.Code, reached)
				}
				body := decodeProblem(t, resp)
				if body.Code != "request_blocked" || body.RequestID != info.RequestID {
					t.Errorf("problem %+v; want code request_blocked and request id %s", body, info.RequestID)
				}
				if len(rec.events) != 1 {
					t.Fatalf("OnBlock called %d times, want 1", len(rec.events))
				}
				e := rec.events[0]
				if e.RequestID != info.RequestID || e.ClientIP != info.ClientIP {
					t.Errorf("event for %s from %v, want %s from %v", e.RequestID, e.ClientIP, info.RequestID, info.ClientIP)
				}
				ids := e.RuleIDs()
				for _, id := range append(p.rules, 949110) {
					if !slices.Contains(ids, id) {
						t.Errorf("event rules %v lack %d", ids, id)
					}
				}
				if e.AnomalyScore < DefaultInboundThreshold {
					t.Errorf("anomaly score %d, want at least %d", e.AnomalyScore, DefaultInboundThreshold)
				}
				for _, m := range e.Rules {
					if m.Message == "" {
						t.Errorf("rule %d has no message", m.ID)
					}
					for _, frag := range []string{p.payload, "users", "alert", "img"} {
						if strings.Contains(m.Message, frag) || strings.Contains(m.Severity, frag) {
							t.Errorf("rule %d's message holds request data %q: %q", m.ID, frag, m.Message)
						}
					}
				}
				var logged bytes.Buffer
				slog.New(slog.NewTextHandler(&logged, nil)).Info("blocked", "event", e)
				for _, s := range []string{logged.String(), e.String(), fmt.Sprint(e)} {
					if strings.Contains(s, "198.51.100.23") || !strings.Contains(s, info.RequestID) {
						t.Errorf("event logs or prints as %q: want the request id and not the client address", s)
					}
				}
			})
		}
	}
}

// TestPassesBodyOn: the handler reads exactly the body that was sent, and
// closing it closes the original.
func TestPassesBodyOn(t *testing.T) {
	w := mustWAF(t, Options{})
	body := []byte(`{"title":"Protokoll","description":"Åsa Öberg, O'Brien & Co"}`)
	for _, chunked := range []bool{false, true} {
		r := apiRequest("POST", "/api/v1/documents", nil)
		r.Header.Set("Content-Type", "application/json")
		orig := &closeRecorder{Reader: bytes.NewReader(body)}
		r.Body = orig
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", fmt.Sprint(len(body)))
		if chunked {
			r.ContentLength = -1
			r.TransferEncoding = []string{"chunked"}
			r.Header.Del("Content-Length")
		}
		var got []byte
		h := w.Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			_ = r.Body.Close()
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || !bytes.Equal(got, body) {
			t.Errorf("chunked=%v: status %d, handler got %q; want 200 and %q", chunked, rec.Code, got, body)
		}
		if !orig.closed {
			t.Errorf("chunked=%v: the original body was not closed", chunked)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestUploadRoutes: a route whose body is not inspected gets it untouched
// and unbuffered, whatever it holds and however large; its request line,
// query and headers are still inspected.
func TestUploadRoutes(t *testing.T) {
	var rec recorder
	w := mustWAF(t, Options{
		BodyLimit:   4 << 10,
		TextLimit:   1 << 10,
		OnBlock:     rec.onBlock,
		InspectBody: func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/api/v1/uploads") },
	})
	payload := append(bytes.Repeat([]byte("%PDF-1.7 "), 2000), "<script>alert(1)</script>' OR 1=1 --"...)
	for _, ct := range []string{"application/octet-stream", "application/pdf"} {
		r := apiRequest("POST", "/api/v1/uploads?name=avtal.pdf", nil)
		src := &countingReader{r: bytes.NewReader(payload)}
		r.Body = io.NopCloser(src)
		r.ContentLength = int64(len(payload))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Content-Length", fmt.Sprint(len(payload)))
		var got []byte
		var readBefore int
		h := w.Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			readBefore = src.n
			got, _ = io.ReadAll(r.Body)
		}))
		resp := httptest.NewRecorder()
		h.ServeHTTP(resp, r)
		if resp.Code != http.StatusOK || !bytes.Equal(got, payload) {
			t.Fatalf("%s upload: status %d, got %d bytes; want 200 and %d bytes", ct, resp.Code, len(got), len(payload))
		}
		if readBefore != 0 {
			t.Errorf("%s upload: the WAF read %d bytes of an upload body", ct, readBefore)
		}
	}

	r := apiRequest("POST", "/api/v1/uploads?name=%3Cscript%3Ealert(1)%3C/script%3E", []byte("plain bytes"))
	r.Header.Set("Content-Type", "application/octet-stream")
	if resp, reached := serve(w.Middleware, r); resp.Code != http.StatusForbidden || reached {
		t.Errorf("XSS in an upload's query: status %d, reached %v; want 403", resp.Code, reached)
	}

	// The same upload on a route that inspects its body: a file part is
	// refused without being parsed (Coraza would write it to disk).
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "avtal.pdf")
	_, _ = fw.Write([]byte("%PDF-1.7 personal data"))
	_ = mw.Close()
	for _, target := range []string{"/api/v1/documents", "/api/v1/uploads"} {
		rec.events = nil
		r := apiRequest("POST", target, mp.Bytes())
		r.Header.Set("Content-Type", mw.FormDataContentType())
		resp, reached := serve(w.Middleware, r)
		if upload := target == "/api/v1/uploads"; upload {
			if resp.Code != http.StatusOK || !reached {
				t.Errorf("multipart upload to %s: status %d; want 200", target, resp.Code)
			}
			continue
		}
		if resp.Code != http.StatusForbidden || reached {
			t.Errorf("multipart file to %s: status %d, reached %v; want 403", target, resp.Code, reached)
		}
		if len(rec.events) != 1 || !slices.Contains(rec.events[0].RuleIDs(), RuleFileOnInspectedRoute) {
			t.Errorf("multipart file to %s: events %+v; want rule %d", target, rec.events, RuleFileOnInspectedRoute)
		}
	}

	// A multipart form without files is parsed (in memory) and passes.
	mp.Reset()
	mw = multipart.NewWriter(&mp)
	_ = mw.WriteField("name", "Åsa Öberg")
	_ = mw.WriteField("message", "Hej! Bifogar inget.")
	_ = mw.Close()
	r = apiRequest("POST", "/portal/contact", mp.Bytes())
	r.Header.Set("Content-Type", mw.FormDataContentType())
	if resp, reached := serve(w.Middleware, r); resp.Code != http.StatusOK || !reached {
		t.Errorf("multipart form without files: status %d; want 200: %s", resp.Code, resp.Body)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestLimits: inspected bodies are bounded in bytes and in text.
func TestLimits(t *testing.T) {
	const bodyLimit, textLimit = 8 << 10, 1 << 10
	w := mustWAF(t, Options{BodyLimit: bodyLimit, TextLimit: textLimit})
	text := func(n int) string { return strings.Repeat("Asa Oberg skriver. ", n/19+1)[:n] }
	file := strings.Repeat("QUJD", 1500) // 6000 bytes of base64

	jsonBody := func(parts ...string) []byte { return []byte("{" + strings.Join(parts, ",") + "}") }
	cases := []struct {
		name    string
		req     func() *http.Request
		status  int
		problem string
	}{
		{"body at the limit", func() *http.Request {
			b := jsonBody(`"content_base64":"` + strings.Repeat("A", bodyLimit-21) + `"`)
			return apiRequest("POST", "/api/v1/documents", b)
		}, http.StatusOK, ""},
		{"body over the limit", func() *http.Request {
			b := jsonBody(`"content_base64":"` + strings.Repeat("A", bodyLimit-20) + `"`)
			return apiRequest("POST", "/api/v1/documents", b)
		}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"chunked body over the limit", func() *http.Request {
			r := apiRequest("POST", "/api/v1/documents", nil)
			r.Body = io.NopCloser(strings.NewReader(`{"content_base64":"` + strings.Repeat("A", bodyLimit) + `"}`))
			r.ContentLength = -1
			r.Header.Del("Content-Length")
			r.TransferEncoding = []string{"chunked"}
			return r
		}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"base64 file content does not count as text", func() *http.Request {
			return apiRequest("POST", "/api/v1/documents", jsonBody(`"title":"`+text(500)+`"`, `"attachment":{"content_base64":"`+file+`"}`))
		}, http.StatusOK, ""},
		{"the same bytes in an ordinary member do", func() *http.Request {
			return apiRequest("POST", "/api/v1/documents", jsonBody(`"title":"`+text(500)+`"`, `"attachment":{"content":"`+file+`"}`))
		}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"an array under a *_base64 member does", func() *http.Request {
			return apiRequest("POST", "/api/v1/documents", jsonBody(`"files_base64":["`+file+`"]`))
		}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"text over the limit in a form", func() *http.Request {
			return formRequest("/portal/contact", "message="+text(textLimit+1))
		}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"text at the limit in a form", func() *http.Request {
			return formRequest("/portal/contact", "message="+text(textLimit-len("message=")))
		}, http.StatusOK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, reached := serve(w.Middleware, c.req())
			if resp.Code != c.status || reached != (c.status == http.StatusOK) {
				t.Fatalf("status %d, reached %v; want %d: %s", resp.Code, reached, c.status, resp.Body)
			}
			if c.problem != "" {
				if p := decodeProblem(t, resp); p.Code != c.problem {
					t.Errorf("problem code %q, want %q", p.Code, c.problem)
				}
			}
		})
	}
}

// TestUnreadableBody: a body that fails mid-way is a 400, not a pass.
func TestUnreadableBody(t *testing.T) {
	w := mustWAF(t, Options{})
	r := apiRequest("POST", "/api/v1/documents", nil)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"title":"`), errReader{}))
	r.ContentLength = 100
	resp, reached := serve(w.Middleware, r)
	if resp.Code != http.StatusBadRequest || reached || decodeProblem(t, resp).Code != "body_unreadable" {
		t.Errorf("status %d, reached %v: %s; want 400 body_unreadable", resp.Code, reached, resp.Body)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestOptionsApply: the paranoia level and threshold reach the rules.
func TestOptionsApply(t *testing.T) {
	// A POST without Content-Length over HTTP/1.1 is a warning (3 points,
	// rule 920180): below the default threshold of 5, at a threshold of 3.
	req := func() *http.Request {
		r := apiRequest("POST", "/api/v1/documents", []byte(`{"title":"x"}`))
		r.Header.Del("Content-Length")
		return r
	}
	for _, c := range []struct {
		threshold int
		status    int
	}{{0, http.StatusOK}, {3, http.StatusForbidden}} {
		w := mustWAF(t, Options{InboundThreshold: c.threshold})
		if resp, _ := serve(w.Middleware, req()); resp.Code != c.status {
			t.Errorf("threshold %d: status %d, want %d", c.threshold, resp.Code, c.status)
		}
	}
	// A request without an Accept header is a notice (2 points) at
	// paranoia level 3 (rule 920300), and nothing at level 1.
	noAccept := func() *http.Request {
		r := apiRequest("GET", "/api/v1/documents", nil)
		r.Header.Del("Accept")
		return r
	}
	var rec recorder
	w := mustWAF(t, Options{ParanoiaLevel: 3, InboundThreshold: 2, OnBlock: rec.onBlock})
	if resp, _ := serve(w.Middleware, noAccept()); resp.Code != http.StatusForbidden || len(rec.events) != 1 || !slices.Contains(rec.events[0].RuleIDs(), 920300) {
		t.Errorf("paranoia 3: status %d, events %+v; want 403 by 920300", resp.Code, rec.events)
	}
	w = mustWAF(t, Options{InboundThreshold: 2})
	if resp, _ := serve(w.Middleware, noAccept()); resp.Code != http.StatusOK {
		t.Errorf("paranoia 1: status %d, want 200", resp.Code)
	}

	for _, bad := range []Options{
		{ParanoiaLevel: 5}, {ParanoiaLevel: -1}, {InboundThreshold: -1},
		{BodyLimit: -1}, {BodyLimit: maxBodyLimit + 1}, {BodyLimit: 1 << 10, TextLimit: 2 << 10},
		{ArgumentLimit: -1},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded; want an error", bad)
		}
	}
}

// TestTransactionsEnd: every path through the middleware runs phase 5 and
// returns the transaction to Coraza, exactly once.
func TestTransactionsEnd(t *testing.T) {
	w := mustWAF(t, Options{BodyLimit: 4 << 10, TextLimit: 1 << 10, ArgumentLimit: 5})
	var opened, logged, closed int
	inner := w.newTx
	w.newTx = func(ctx context.Context, id string) types.Transaction {
		opened++
		return &countingTx{Transaction: inner(ctx, id), logged: &logged, closed: &closed}
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	_, _ = fw.Write([]byte("x"))
	_ = mw.Close()
	reqs := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"pass", func() *http.Request { return apiRequest("GET", "/api/v1/documents", nil) }, 200},
		{"blocked in phase 1 (too many arguments)", func() *http.Request {
			return apiRequest("GET", "/api/v1/documents?a=1&b=2&c=3&d=4&e=5&f=6", nil)
		}, 403},
		{"blocked in phase 2", func() *http.Request {
			return apiRequest("GET", "/api/v1/documents?q=%3Cscript%3Ealert(1)%3C/script%3E", nil)
		}, 403},
		{"body too large", func() *http.Request {
			return apiRequest("POST", "/api/v1/documents", bytes.Repeat([]byte("a"), 5<<10))
		}, 413},
		{"text too large", func() *http.Request { return formRequest("/portal/contact", strings.Repeat("a", 2<<10)) }, 413},
		{"unreadable body", func() *http.Request {
			r := apiRequest("POST", "/api/v1/documents", nil)
			r.Body = io.NopCloser(errReader{})
			r.ContentLength = 10
			return r
		}, 400},
		{"file on an inspected route", func() *http.Request {
			r := apiRequest("POST", "/api/v1/documents", mp.Bytes())
			r.Header.Set("Content-Type", mw.FormDataContentType())
			return r
		}, 403},
	}
	for _, c := range reqs {
		opened, logged, closed = 0, 0, 0
		resp, _ := serve(w.Middleware, c.req())
		if resp.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.Code, c.status)
		}
		if opened != 1 || logged != 1 || closed != 1 {
			t.Errorf("%s: %d opened, %d logged, %d closed; want 1 each", c.name, opened, logged, closed)
		}
	}
}

type countingTx struct {
	types.Transaction
	logged, closed *int
}

func (c *countingTx) ProcessLogging() { *c.logged++; c.Transaction.ProcessLogging() }
func (c *countingTx) Close() error    { *c.closed++; return c.Transaction.Close() }

// TestConcurrentRequests: pooled transactions carry nothing from one
// request to the next, under concurrency (run with -race).
func TestConcurrentRequests(t *testing.T) {
	w := mustWAF(t, Options{})
	h := w.Middleware(okHandler)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				attack := (g+i)%2 == 0
				body := []byte(`{"title":"Protokoll för Åsa Öberg","n":` + fmt.Sprint(i) + `}`)
				if attack {
					body = []byte(`{"title":"1' UNION SELECT password FROM users--"}`)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, apiRequest("POST", "/api/v1/documents", body))
				if want := map[bool]int{true: 403, false: 200}[attack]; rec.Code != want {
					errs <- fmt.Errorf("goroutine %d request %d (attack %v): status %d, want %d", g, i, attack, rec.Code, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCorazaRxPreFilter documents why valv-setup.conf leaves SecRxPreFilter
// off: in Coraza v3.8.1 it makes CRS rule 942220's expression miss input
// the expression matches (CRS regression test 942220-2), so it is not the
// detection-neutral optimisation it claims to be. When this test fails,
// Coraza has fixed it: measure again and consider turning it on (it saves
// 15-25% of the WAF's CPU time).
func TestCorazaRxPreFilter(t *testing.T) {
	const rx = `(?i)^(?:429496729[56]|2(?:14748364[78]|.22507385850720(?:07|11)e-308)|-(?:214748364[89]|0000023456)|00000(?:12345|23456)|1e309)$`
	matches := func(prefilter string) bool {
		waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(
			"SecRuleEngine On\nSecRxPreFilter " + prefilter + "\nSecRule ARGS \"@rx " + rx + "\" \"id:1,phase:1,deny,log\""))
		if err != nil {
			t.Fatal(err)
		}
		tx := waf.NewTransaction()
		defer tx.Close()
		tx.ProcessURI("/get?i=2.2250738585072011e-308", "GET", "HTTP/1.1")
		return tx.ProcessRequestHeaders() != nil
	}
	if !matches("Off") {
		t.Fatal("without the pre-filter the expression does not match: the test is wrong")
	}
	if matches("On") {
		t.Error("Coraza's SecRxPreFilter no longer misses 942220's match: see this test's comment and docs/waf.md")
	}
}
