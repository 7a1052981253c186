package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
)

// uploadTimeout is how long an upload's body may take to arrive.
const uploadTimeout = 30 * time.Minute

func (a *API) documentRoutes() []Route {
	t := func(r Route) Route { return r.tag("documents") }
	var upload int64 = document.DefaultMaxFileSize
	if a.docs != nil {
		upload = a.docs.MaxFileSize()
	}
	// An upload's body: the file, the document's JSON part and multipart
	// framing.
	uploadBody := upload + document.MaxDataBytes + 64<<10
	filters := []Param{
		{Name: "type", Type: "string", Description: "only documents of this type"},
		{Name: "archive", Type: "string", Description: "legal, standard or message"},
		{Name: "from", Type: "string", Description: "document date on or after (YYYY-MM-DD)"},
		{Name: "to", Type: "string", Description: "document date on or before (YYYY-MM-DD)"},
		{Name: "review_due", Type: "boolean", Description: "only documents whose review date has come"},
		{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"},
		{Name: "limit", Type: "integer", Description: "1 to 500 (default 100)"},
	}
	tenantParam := Param{Name: "tenant", Type: "string", Description: "operators under a document access grant: the tenant's id"}
	create := a.route("POST", "/api/v1/documents", "document.create", Session, 201,
		"Create a document: JSON, or multipart/form-data with a 'document' JSON part and then a 'file' part (scanned for malware). Idempotency-Key makes a retry safe.",
		a.createDocument).with(t).body(document.Input{}).returns(document.Document{})
	create.MaxBody, create.ReadTimeout = uploadBody, uploadTimeout
	create = create.rawBody(multipartBody)
	putContent := a.route("PUT", "/api/v1/documents/{id}/content", "document.content.replace", Session, 200,
		"Replace a document's file (the body is the file; Content-Disposition names it): a new version", a.putContent).with(t).returns(document.Document{})
	putContent.MaxBody, putContent.ReadTimeout = upload, uploadTimeout
	putContent = putContent.rawBody(nil)
	getContent := a.route("GET", "/api/v1/documents/{id}/content", "document.content.read", Session, 200, "Download a document's file", a.getContent).
		with(t).query(tenantParam).produces("application/octet-stream").returns([]byte{})
	getContent.WriteTimeout = uploadTimeout
	imp := a.route("POST", "/api/v1/documents/import", "document.import", Session, 201,
		"Import up to 1,000 documents (without files) in one transaction: all are stored, or none", a.importDocuments).with(t).body(importRequest{}).returns(importResponse{})
	imp.MaxBody = 32 << 20
	imp = imp.rawBody(nil) // bulk data: up to 32 MiB, decoded strictly
	return []Route{
		create,
		imp,
		a.route("GET", "/api/v1/documents", "document.list", Session, 200, "List documents, newest first", a.listDocuments).with(t).query(filters...).query(tenantParam).returns(page[document.Summary]{}),
		a.route("POST", "/api/v1/documents/search", "document.search", Session, 200,
			"Find the documents of a data subject by an identifier in any of its forms (the identifier is sent in the body, never in a URL)",
			a.searchDocuments).with(t).query(tenantParam).body(searchRequest{}).returns(page[document.Summary]{}),
		a.route("GET", "/api/v1/documents/{id}", "document.read", Session, 200, "A document with its data (ETag: its version)", a.getDocument).with(t).query(tenantParam).returns(document.Document{}),
		a.route("PATCH", "/api/v1/documents/{id}", "document.update", Session, 200,
			"Change a document (a new version; data is a JSON merge patch). Send If-Match with the ETag you read.", a.patchDocument).with(t).body(document.Patch{}).returns(document.Document{}),
		a.route("DELETE", "/api/v1/documents/{id}", "document.delete", Session, 204, "Delete a document with its versions and files", a.deleteDocument).with(t),
		getContent,
		putContent,
		a.route("GET", "/api/v1/documents/{id}/versions", "document.versions.read", Session, 200,
			"A document's version history: who changed which fields when (never the values)", a.documentVersions).with(t).query(tenantParam).returns([]document.Version{}),
		a.route("GET", "/api/v1/documents/{id}/versions/{version}", "document.version.read", Session, 200, "A document as it was at a version", a.documentVersion).with(t).query(tenantParam).returns(document.Document{}),
		a.route("GET", "/api/v1/document-types", "document.type.list", Session, 200, "Your organisation's document types", a.listTypes).with(t).returns([]document.Type{}),
		a.route("GET", "/api/v1/document-types/{name}", "document.type.read", Session, 200, "One document type with its JSON Schema", a.getType).with(t).returns(document.Type{}),
		a.route("PUT", "/api/v1/document-types/{name}", "document.type.put", Session, 200,
			"Register a document type or change its JSON Schema (owners and admins); documents of the type must match it", a.putType).with(t).body(document.TypeInput{}).returns(document.Type{}),
		a.route("DELETE", "/api/v1/document-types/{name}", "document.type.delete", Session, 204, "Remove a document type (its documents stay)", a.deleteType).with(t),
	}
}

// bodyReader maps the server's body-limit error to the document service's.
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return n, document.ErrBodyTooLarge
	}
	return n, err
}

func (a *API) createDocument(w http.ResponseWriter, r *http.Request) error {
	req := document.CreateRequest{IdempotencyKey: r.Header.Get("Idempotency-Key")}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var mr *multipart.Reader
	switch {
	case mt == "multipart/form-data":
		if params["boundary"] == "" {
			return problem.Invalid("invalid_multipart", "The multipart body has no boundary.")
		}
		mr = multipart.NewReader(bodyReader{r.Body}, params["boundary"])
		part, err := mr.NextPart()
		if err != nil {
			return multipartProblem(err)
		}
		if part.FormName() != "document" {
			return problem.Invalid("invalid_multipart", "Send the 'document' JSON part first, then the 'file' part.")
		}
		if req.Raw, err = readLimited(part, document.MaxDataBytes+64<<10); err != nil {
			return err
		}
		// The WAF passed the multipart body on unread (the file goes to
		// the scanner); the document part is inspected here, as a JSON
		// body would have been.
		if a.check != nil {
			if err := a.check(r, req.Raw); err != nil {
				return err
			}
		}
	default:
		raw, err := readLimited(bodyReader{r.Body}, document.MaxDataBytes+64<<10)
		if err != nil {
			return err
		}
		if mt != "" && mt != "application/json" {
			return problem.New(problem.KindUnsupportedMedia, "unsupported_media_type", "Send the body as application/json, or as multipart/form-data with a file.")
		}
		req.Raw = raw
	}
	if err := decodeStrict(req.Raw, &req.Input); err != nil {
		return err
	}
	if mr != nil {
		part, err := mr.NextPart()
		switch {
		case errors.Is(err, io.EOF):
		case err != nil:
			return multipartProblem(err)
		case part.FormName() != "file":
			return problem.Invalid("invalid_multipart", "The second part is the 'file' part.")
		default:
			req.File = &document.Upload{Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Body: part}
		}
	}
	c, err := a.docs.Create(r.Context(), authz.PrincipalFrom(r.Context()), req)
	if err != nil {
		return err
	}
	if mr != nil && req.File != nil {
		if _, err := mr.NextPart(); !errors.Is(err, io.EOF) {
			// Parts after the file are ignored; the document is stored.
			a.log.Debug("multipart parts after the file ignored")
		}
	}
	w.Header().Set("Location", "/api/v1/documents/"+c.Document.ID)
	w.Header().Set("ETag", document.ETag(c.Document.Version))
	if c.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return writeJSON(w, http.StatusCreated, c.Document)
}

// importRequest is a batch of documents to import.
type importRequest struct {
	Documents []document.Input `json:"documents"`
}

// importResponse lists the new documents' ids, in the order sent.
type importResponse struct {
	Imported int      `json:"imported"`
	IDs      []string `json:"ids"`
}

func (a *API) importDocuments(w http.ResponseWriter, r *http.Request) error {
	raw, err := readLimited(bodyReader{r.Body}, 32<<20)
	if err != nil {
		return err
	}
	var req importRequest
	if err := decodeStrict(raw, &req); err != nil {
		return err
	}
	ids, err := a.docs.ImportBatch(r.Context(), authz.PrincipalFrom(r.Context()), req.Documents, raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, importResponse{Imported: len(ids), IDs: ids})
}

func multipartProblem(err error) error {
	if errors.Is(err, document.ErrBodyTooLarge) {
		return problem.New(problem.KindTooLarge, "body_too_large", "The request body is larger than the limit.")
	}
	return problem.Invalid("invalid_multipart", "The multipart body could not be read.")
}

// readLimited reads a JSON part or body of at most limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if errors.Is(err, document.ErrBodyTooLarge) || int64(len(raw)) > limit {
		return nil, problem.New(problem.KindTooLarge, "body_too_large", fmt.Sprintf("The JSON is larger than the limit of %d bytes.", limit))
	}
	if err != nil {
		return nil, problem.Invalid("invalid_body", "The body could not be read.")
	}
	return raw, nil
}

// decodeStrict decodes JSON bytes like decodeJSON does a body.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.Invalid("invalid_json", "The body holds more than one JSON value.")
	}
	return nil
}

func documentFilter(r *http.Request) (document.Filter, error) {
	q := r.URL.Query()
	f := document.Filter{Type: q.Get("type"), Archive: q.Get("archive"), DateFrom: q.Get("from"), DateTo: q.Get("to")}
	if s := q.Get("review_due"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return f, problem.Invalid("invalid_filter", "review_due is true or false.", problem.Field("/review_due", "invalid_bool", "Use true or false."))
		}
		f.ReviewDue = b
	}
	return f, nil
}

func (a *API) listDocuments(w http.ResponseWriter, r *http.Request) error {
	f, err := documentFilter(r)
	if err != nil {
		return err
	}
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := a.docs.List(r.Context(), within(r), f, cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[document.Summary]{Items: items, NextCursor: next})
}

// searchRequest finds the documents of a data subject.
type searchRequest struct {
	Kind      string `json:"kind"`
	Value     string `json:"value"`
	Type      string `json:"type,omitempty"`
	Archive   string `json:"archive,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	ReviewDue bool   `json:"review_due,omitempty"`
	Cursor    string `json:"cursor,omitempty"`
	Limit     int    `json:"limit,omitempty"`
}

func (a *API) searchDocuments(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Limit < 0 || req.Limit > document.MaxPage {
		return problem.Invalid("invalid_limit", "limit is a number from 1 to 500.", problem.Field("/limit", "out_of_range", "Use 1 to 500."))
	}
	if req.Limit == 0 {
		req.Limit = 100
	}
	items, next, err := a.docs.Search(r.Context(), within(r), document.Subject{Kind: req.Kind, Value: req.Value},
		document.Filter{Type: req.Type, Archive: req.Archive, DateFrom: req.From, DateTo: req.To, ReviewDue: req.ReviewDue}, req.Cursor, req.Limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[document.Summary]{Items: items, NextCursor: next})
}

func (a *API) getDocument(w http.ResponseWriter, r *http.Request) error {
	d, err := a.docs.Get(r.Context(), within(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", document.ETag(d.Version))
	return writeJSON(w, http.StatusOK, d)
}

// ifMatch reads If-Match: 0 when absent or "*".
func ifMatch(r *http.Request) (int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return 0, nil
	}
	v := document.ParseETag(h)
	if v < 0 {
		return 0, &problem.Error{Kind: problem.KindPrecondition, Code: "version_mismatch", Message: "If-Match does not name a version of this document; read it again."}
	}
	return v, nil
}

func (a *API) patchDocument(w http.ResponseWriter, r *http.Request) error {
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	raw, err := readLimited(bodyReader{r.Body}, document.MaxDataBytes+64<<10)
	if err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" && mt != "application/merge-patch+json" {
			return problem.New(problem.KindUnsupportedMedia, "unsupported_media_type", "Send the body as application/json.")
		}
	}
	var p document.Patch
	if err := decodeStrict(raw, &p); err != nil {
		return err
	}
	d, err := a.docs.Update(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), document.UpdateRequest{Patch: p, IfMatch: im, Raw: raw})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", document.ETag(d.Version))
	return writeJSON(w, http.StatusOK, d)
}

func (a *API) deleteDocument(w http.ResponseWriter, r *http.Request) error {
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.docs.Delete(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), im); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) getContent(w http.ResponseWriter, r *http.Request) error {
	c, err := a.docs.OpenContent(r.Context(), within(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", c.ContentType)
	h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	h.Set("Content-Disposition", contentDisposition(c.Name))
	h.Set("ETag", document.ETag(c.Version))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, c.Reader); err != nil {
		// The status is out: cut the connection so the client sees the
		// download is incomplete, rather than a short file.
		a.log.Error("file download failed", "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// contentDisposition names a download: an ASCII fallback and the UTF-8 name
// (RFC 6266, RFC 8187).
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + url.PathEscape(name)
}

func (a *API) putContent(w http.ResponseWriter, r *http.Request) error {
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	name := ""
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
		name = params["filename"]
	}
	up := &document.Upload{Name: name, ContentType: r.Header.Get("Content-Type"), Body: bodyReader{r.Body}}
	d, err := a.docs.ReplaceContent(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), im, up)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", document.ETag(d.Version))
	return writeJSON(w, http.StatusOK, d)
}

func (a *API) documentVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := a.docs.Versions(r.Context(), within(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, vs)
}

func (a *API) documentVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 {
		return problem.NotFound("version_not_found", "The document has no such version.")
	}
	d, err := a.docs.AtVersion(r.Context(), within(r), r.PathValue("id"), v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (a *API) listTypes(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.docs.Types(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ts)
}

func (a *API) getType(w http.ResponseWriter, r *http.Request) error {
	t, err := a.docs.GetType(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) putType(w http.ResponseWriter, r *http.Request) error {
	var in document.TypeInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	t, err := a.docs.PutType(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) deleteType(w http.ResponseWriter, r *http.Request) error {
	if err := a.docs.DeleteType(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}

// within is the request's principal; an operator's names the tenant the
// request asks for (?tenant=), whose data an access grant may open.
func within(r *http.Request) authz.Principal {
	p := authz.PrincipalFrom(r.Context())
	if p.Kind == authz.Operator {
		// Tenants are named by their canonical ids; anything else names none.
		if t := r.URL.Query().Get("tenant"); len(t) == 36 {
			if u, err := uuid.Parse(t); err == nil && u.String() == t {
				p.Within = t
			}
		}
	}
	return p
}
