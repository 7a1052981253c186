package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
)

// Rule ids the middleware itself reports (Valv's local range is
// 10000-10099; the SecLang rules are in valv-setup.conf and
// valv-exclusions.conf).
const (
	// RuleFileOnInspectedRoute is reported when a multipart body with a
	// file part is sent to a route whose body is inspected: files are
	// taken only on upload routes, whose bodies go to the malware scanner.
	RuleFileOnInspectedRoute = 10010

	// ruleContentTypePolicy is the CRS rule that refuses request content
	// types outside tx.allowed_request_content_type.
	ruleContentTypePolicy = 920420

	// ruleBodyParse and ruleMultipartStrict (valv-setup.conf) refuse a
	// body that cannot be parsed.
	ruleBodyParse       = 200002
	ruleMultipartStrict = 200003
)

// fileSuffix marks JSON members that carry base64 file content. The rules
// do not read them (rule 10001 in valv-exclusions.conf) and they do not
// count against the text limit. The API MUST decode such members as
// base64 and hand the bytes to the malware scanner; it MUST NOT use them
// as text.
const fileSuffix = "_base64"

// Middleware returns next behind the WAF. For every request it inspects
// the request line, query and headers, and — unless Options.InspectBody
// says otherwise — the body. A request the rules block gets a 403 problem
// with the code request_blocked and never reaches next; so does a file
// upload to a route whose body is inspected. An inspected body larger than
// the body or text limit gets a 413. The body next reads is the one that
// was inspected.
func (w *WAF) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.serve(rw, r, next, false)
	})
}

// CheckJSON runs the rules over a JSON document that a handler found
// inside a body the WAF passed on unread — the metadata part of a
// multipart upload — as if it had been the request's body: the same
// request line and headers, Content-Type application/json. It returns
// nil if the rules let it through, or the problem the middleware would
// have answered (OnBlock is told as for any blocked request).
func (w *WAF) CheckJSON(r *http.Request, doc []byte) error {
	r2 := r.Clone(r.Context())
	r2.Header.Set("Content-Type", "application/json")
	r2.Header.Del("Content-Length")
	r2.Header.Del("Transfer-Encoding")
	r2.TransferEncoding = nil
	r2.ContentLength = int64(len(doc))
	r2.Body = io.NopCloser(bytes.NewReader(doc))
	passed := false
	rec := &statusOnly{header: http.Header{}}
	w.serve(rec, r2, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }), true)
	if passed {
		return nil
	}
	switch rec.status {
	case http.StatusForbidden:
		return problem.Forbidden("request_blocked",
			"The request was blocked by the web application firewall. If it was legitimate, contact support and quote the request id.")
	case http.StatusBadRequest:
		return problem.Invalid("invalid_body", "The document part could not be parsed as JSON.")
	case http.StatusRequestEntityTooLarge:
		return tooLarge(w.opts.TextLimit)
	}
	return errors.New("guard: the WAF could not inspect the document part")
}

// statusOnly is a ResponseWriter that keeps only the status.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (w *WAF) serve(rw http.ResponseWriter, r *http.Request, next http.Handler, forceInspect bool) {
	ctx := r.Context()
	info := call.From(ctx)
	peer, port := splitAddr(r.RemoteAddr)
	ip := info.ClientIP
	if !ip.IsValid() {
		ip = peer
	} else if ip != peer {
		port = 0 // the client is behind a proxy: its port is not known
	}

	txID := info.RequestID
	if txID == "" {
		txID = call.NewRequestID()
	}
	tx := w.newTx(ctx, txID)
	// Every path ends the transaction: phase 5, then back to Coraza's pool.
	// Close fails only removing temporary files, which this configuration
	// does not write.
	defer func() {
		if w.observe != nil {
			w.observe(r, tx)
		}
		tx.ProcessLogging()
		_ = tx.Close()
	}()

	hasBody := r.Body != nil && r.Body != http.NoBody
	inspect := forceInspect || w.opts.InspectBody == nil || w.opts.InspectBody(r)
	if hasBody && !inspect {
		// An upload's body is not parsed here, so the content-type policy
		// (which exists to keep bodies from slipping past the parsers) does
		// not apply: the upload handler checks the type and the scanner the
		// content. Coraza's own ctl:ruleRemoveById does the same.
		if rr, ok := tx.(interface{ RemoveRuleByID(id int) }); ok {
			rr.RemoveRuleByID(ruleContentTypePolicy)
		}
	}

	addRequest(tx, r, ip, port)
	if tx.ProcessRequestHeaders() != nil {
		w.block(rw, r, tx, ip, nil)
		return
	}

	if hasBody && inspect {
		if r.ContentLength > w.opts.BodyLimit {
			problem.Write(rw, info.RequestID, tooLarge(w.opts.BodyLimit))
			return
		}
		body, err := readBody(r, w.opts.BodyLimit)
		if err != nil {
			problem.Write(rw, info.RequestID, err)
			return
		}
		r.Body = &replayBody{data: body, orig: r.Body}
		mediaType := mediaType(r)
		if !w.opts.Stock && strings.HasPrefix(mediaType, "multipart/") && hasFilePart(body) {
			w.block(rw, r, tx, ip, &Match{ID: RuleFileOnInspectedRoute,
				Message: "File upload to a route that takes no files", Severity: "critical"})
			return
		}
		if int64(len(body)) > w.opts.TextLimit && textBytes(mediaType, body) > w.opts.TextLimit {
			problem.Write(rw, info.RequestID, problem.New(problem.KindTooLarge, "body_too_large",
				fmt.Sprintf("The request body holds more than %d bytes of text. Send files as uploads, or as base64 in members whose names end in %q.", w.opts.TextLimit, fileSuffix)))
			return
		}
		if it, _, err := tx.WriteRequestBody(body); err != nil {
			w.fail(rw, r, fmt.Errorf("guard: buffer request body: %w", err))
			return
		} else if it != nil {
			w.block(rw, r, tx, ip, nil)
			return
		}
	}
	// Phase 2 runs whether or not there is a body: it is where the CRS
	// adds up the anomaly score.
	it, err := tx.ProcessRequestBody()
	if err != nil {
		w.fail(rw, r, fmt.Errorf("guard: inspect request body: %w", err))
		return
	}
	if it != nil {
		w.block(rw, r, tx, ip, nil)
		return
	}
	next.ServeHTTP(rw, r)
}

// addRequest gives tx the connection, request line and headers of r.
func addRequest(tx types.Transaction, r *http.Request, ip netip.Addr, port int) {
	addr := ""
	if ip.IsValid() {
		addr = ip.String()
	}
	tx.ProcessConnection(addr, port, "", 0)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	// net/http moves Host and Transfer-Encoding out of the header map; the
	// rules look for them there (Host checks, request smuggling).
	if r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	}
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
}

// block reports a blocked request to OnBlock and answers 403. extra is a
// decision of the middleware's own, not of a rule.
func (w *WAF) block(rw http.ResponseWriter, r *http.Request, tx types.Transaction, ip netip.Addr, extra *Match) {
	id := call.RequestID(r.Context())
	e := w.event(tx, id, ip)
	if extra != nil {
		e.Rules = append(e.Rules, *extra)
	}
	if w.opts.OnBlock != nil {
		w.opts.OnBlock(r.Context(), e)
	}
	if unparsable(e) {
		// Refused all the same (what cannot be parsed cannot be
		// inspected), but it is a client's mistake, not an attack: say
		// what is wrong, as the handler would have.
		problem.Write(rw, id, problem.Invalid("invalid_body",
			"The request body could not be parsed as its Content-Type says (JSON, a URL-encoded form or multipart). Check its syntax and encoding."))
		return
	}
	problem.Write(rw, id, problem.Forbidden("request_blocked",
		"The request was blocked by the web application firewall. If it was legitimate, contact support and quote the request id."))
}

// unparsable reports whether the only reason a request was refused is a
// body that could not be parsed (rules 200002, 200003), with no attack
// scored.
func unparsable(e Event) bool {
	if e.AnomalyScore > 0 || len(e.Rules) == 0 {
		return false
	}
	for _, m := range e.Rules {
		if m.ID != ruleBodyParse && m.ID != ruleMultipartStrict {
			return false
		}
	}
	return true
}

// fail answers 500 when the WAF itself fails: the request is not passed
// on uninspected. The cause is logged under the request id; Coraza's
// errors name what failed, never request data.
func (w *WAF) fail(rw http.ResponseWriter, r *http.Request, err error) {
	id := call.RequestID(r.Context())
	w.log.Error("waf failed", "request_id", id, "err", err)
	problem.Write(rw, id, err)
}

// readBody reads all of r's body, which must be at most limit bytes. It
// never holds more than limit+1 bytes: one byte past the limit is how it
// knows the body is too large.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	size := r.ContentLength // checked against limit by the caller
	if size < 0 {
		size = min(limit, 32<<10) // chunked: grow as needed
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, tooLarge(limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(mbe.Limit)
			}
			return nil, problem.Wrap(err, problem.KindInvalid, "body_unreadable", "The request body could not be read.")
		}
	}
}

// tooLarge is the problem for a body over limit bytes; it matches the
// server's own (code body_too_large).
func tooLarge(limit int64) *problem.Error {
	return problem.New(problem.KindTooLarge, "body_too_large",
		fmt.Sprintf("The request body is larger than the limit of %d bytes.", limit))
}

// mediaType is r's lower-cased media type without parameters, or "".
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// hasFilePart reports whether a multipart body may hold a file part. Coraza
// writes file parts to temporary files, and bodies MUST NOT reach the
// disk; so any body in which "filename" appears (every file part's
// Content-Disposition has it) counts, without parsing: a parser that
// disagreed with Coraza's would let a file through.
func hasFilePart(body []byte) bool {
	lower := make([]byte, len(body))
	for i, c := range body {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return bytes.Contains(lower, []byte("filename"))
}

// textBytes is how many bytes of body the rules read: for a JSON body,
// all but the string values of members named *_base64 (which rule 10001
// excludes); for any other body, all of it. A JSON body that does not
// parse counts in full (Coraza will refuse it anyway).
func textBytes(mediaType string, body []byte) int64 {
	if mediaType != "application/json" && !(strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json")) {
		return int64(len(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		files   int64
		stack   []bool // per open container: is it an object?
		wantKey bool   // the next string in the current object is a member name
		member  string // the member name just read
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return int64(len(body)) - files
		}
		if err != nil {
			return int64(len(body))
		}
		inObject := len(stack) > 0 && stack[len(stack)-1]
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, v == '{')
				wantKey = v == '{'
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if inObject && wantKey {
				member = v
				wantKey = false
				continue
			}
			if inObject && strings.HasSuffix(strings.ToLower(member), fileSuffix) {
				files += int64(len(v))
			}
		}
		// A value ended: the next string in an object is a member name.
		wantKey = len(stack) > 0 && stack[len(stack)-1]
	}
}

// replayBody gives the next handler the body that was inspected, and
// closes the original.
type replayBody struct {
	data []byte
	orig io.Closer
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *replayBody) Close() error { return b.orig.Close() }

// splitAddr parses a RemoteAddr ("ip:port"); either part may be missing.
func splitAddr(remote string) (netip.Addr, int) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), int(ap.Port())
	}
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	p, _ := strconv.Atoi(port)
	return a.Unmap(), p
}
