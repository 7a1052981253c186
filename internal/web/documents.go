package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/server"
)

func (w *Web) homeRoutes() []server.Route {
	return []server.Route{
		w.route("GET", "/{$}", "portal.home", loggedIn, w.home),
	}
}

func (w *Web) documentRoutes() []server.Route {
	up := w.uploadRoute("POST", "/documents", "document.create", user, w.upload)
	up.MaxBody, up.ReadTimeout = w.maxUpload(), 30*time.Minute
	return []server.Route{
		w.route("GET", "/documents", "document.list", user, w.documents),
		w.route("POST", "/documents/search", "document.search", user, w.searchDocuments),
		up,
		w.route("GET", "/documents/{id}", "document.read", user, w.document),
	}
}

// maxUpload is the largest upload form: the largest file plus the fields.
func (w *Web) maxUpload() int64 {
	if w.d.Documents == nil {
		return 1 << 20
	}
	return w.d.Documents.MaxFileSize() + 1<<20
}

type homeView struct {
	Chart  *chart
	Recent []document.Summary
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if pg.P.Kind == authz.Operator {
		http.Redirect(rw, r, "/console", http.StatusSeeOther)
		return nil
	}
	pg.Title = "home.title"
	var v homeView
	if pg.Can("document.list") {
		from := pg.now.In(stockholm).AddDate(0, -11, 0)
		from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, stockholm)
		counts, err := w.d.Documents.PerMonth(r.Context(), pg.P, from.Format(time.DateOnly))
		if err != nil {
			return err
		}
		v.Chart = monthlyChart(pg, from, counts)
		if v.Recent, _, err = w.d.Documents.List(r.Context(), pg.P, document.Filter{}, "", 10); err != nil {
			return err
		}
	}
	pg.Data = v
	return w.show(rw, "home", pg)
}

type documentsView struct {
	Items      []document.Summary
	Next       string
	Types      []string
	Filter     document.Filter
	Subject    string
	Searched   bool
	MaxFile    int64
	CanCreate  bool
	ReviewOnly bool
}

// documents lists and filters documents.
func (w *Web) documents(rw http.ResponseWriter, r *http.Request, pg *page) error {
	return w.listDocuments(rw, r, pg, r.URL.Query(), "")
}

// searchDocuments finds documents by a data subject's identifier. It is a
// form sent by POST, so that the identifier (a personnummer) stays out of
// URLs, browser history and access logs.
func (w *Web) searchDocuments(rw http.ResponseWriter, r *http.Request, pg *page) error {
	return w.listDocuments(rw, r, pg, r.PostForm, strings.TrimSpace(r.PostForm.Get("subject")))
}

func (w *Web) listDocuments(rw http.ResponseWriter, r *http.Request, pg *page, q url.Values, subject string) error {
	pg.Title = "documents.title"
	v := documentsView{Filter: document.Filter{Type: q.Get("type"), Archive: q.Get("archive"), DateFrom: q.Get("from"), DateTo: q.Get("to"),
		ReviewDue: q.Get("review") == "1"}, Subject: subject, CanCreate: pg.Can("document.create")}
	if w.d.Documents != nil {
		v.MaxFile = w.d.Documents.MaxFileSize()
	}
	if types, err := w.d.Documents.Types(r.Context(), pg.P); err == nil {
		for _, t := range types {
			v.Types = append(v.Types, t.Name)
		}
	}
	var err error
	if v.Subject != "" {
		v.Searched = true
		v.Items, v.Next, err = w.d.Documents.Search(r.Context(), pg.P, subjectOf(v.Subject), v.Filter, q.Get("cursor"), 200)
	} else {
		v.Items, v.Next, err = w.d.Documents.List(r.Context(), pg.P, v.Filter, q.Get("cursor"), 50)
	}
	if err != nil {
		p := problem.From(err)
		if p.Kind != problem.KindInvalid {
			return err
		}
		pg.Error = pg.problemText(p)
	}
	pg.Data = v
	return w.show(rw, "documents", pg)
}

// subjectOf guesses an identifier's kind from how it looks: an e-mail
// address, else a personal identity number (the service validates it).
func subjectOf(s string) document.Subject {
	if strings.Contains(s, "@") {
		return document.Subject{Kind: document.TypeEmail, Value: s}
	}
	return document.Subject{Kind: document.TypePersonnummer, Value: s}
}

// upload reads the upload form part by part: the form token first, then
// the fields, then the file, which streams to the service.
func (w *Web) upload(rw http.ResponseWriter, r *http.Request, pg *page) error {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	mr := multipart.NewReader(r.Body, params["boundary"])
	fields := map[string]string{}
	var file *multipart.Part
	budget := int64(document.MaxDataBytes + 64<<10) // all the fields together
	for file == nil {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return formError(err)
		}
		name := part.FormName()
		if name == "file" {
			if part.FileName() != "" {
				file = part
			}
			break
		}
		// The form token comes first; nothing else is read without it.
		if len(fields) == 0 && name != "csrf" {
			return errCSRF
		}
		if len(fields) >= 16 {
			return problem.Invalid("invalid_form", "The form has too many fields.")
		}
		limit := int64(4 << 10)
		if name == "data" {
			limit = document.MaxDataBytes
		}
		limit = min(limit, budget)
		b, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return formError(err)
		}
		if int64(len(b)) > limit {
			return problem.New(problem.KindTooLarge, "too_large", "A field is too long.")
		}
		budget -= int64(len(b))
		fields[name] = string(b)
		if name == "csrf" && !pg.validCSRF(fields["csrf"]) {
			return errCSRF
		}
	}
	if !pg.validCSRF(fields["csrf"]) {
		return errCSRF
	}
	in := document.Input{Type: strings.TrimSpace(fields["type"]), Archive: fields["archive"], DocumentDate: fields["document_date"],
		ReviewDate: fields["review_date"]}
	if s := strings.TrimSpace(fields["subject"]); s != "" {
		in.Subjects = []document.Subject{subjectOf(s)}
	}
	if t := strings.TrimSpace(fields["title"]); t != "" {
		in.Metadata = map[string]string{"title": t}
	}
	if d := strings.TrimSpace(fields["data"]); d != "" {
		if !json.Valid([]byte(d)) {
			return w.uploadFailed(rw, r, pg, problem.Invalid("invalid_json", "The data is not valid JSON.", problem.Field("/data", "invalid_json", "Write the data as a JSON object, or leave it empty.")))
		}
		in.Data = json.RawMessage(d)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	// The WAF passed the multipart body on unread (the file goes to the
	// scanner); the fields are inspected as the document JSON they make.
	if w.d.CheckJSON != nil {
		if err := w.d.CheckJSON(r, raw); err != nil {
			return err
		}
	}
	req := document.CreateRequest{Input: in, Raw: raw}
	if file != nil {
		req.File = &document.Upload{Name: file.FileName(), ContentType: file.Header.Get("Content-Type"), Body: file}
	}
	c, err := w.d.Documents.Create(r.Context(), pg.P, req)
	if err != nil {
		return w.uploadFailed(rw, r, pg, err)
	}
	return back(rw, r, "/documents/"+c.Document.ID, "documents.created")
}

// uploadFailed shows the list again with why the upload was refused.
func (w *Web) uploadFailed(rw http.ResponseWriter, r *http.Request, pg *page, err error) error {
	p := problem.From(err)
	if p.Kind == problem.KindInternal || p.Kind == problem.KindUnavailable {
		return err
	}
	pg.Title = "documents.title"
	pg.Error = pg.problemText(p)
	v := documentsView{CanCreate: true}
	if w.d.Documents != nil {
		v.MaxFile = w.d.Documents.MaxFileSize()
	}
	v.Items, v.Next, _ = w.d.Documents.List(r.Context(), pg.P, document.Filter{}, "", 50)
	pg.Data = v
	w.render(rw, p.Kind.Status(), "documents", pg)
	return nil
}

type documentView struct {
	Doc      document.Document
	Data     string
	Versions []document.Version
}

func (w *Web) document(rw http.ResponseWriter, r *http.Request, pg *page) error {
	d, err := w.d.Documents.Get(r.Context(), pg.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Title = "document.title"
	v := documentView{Doc: d}
	if len(d.Data) > 0 {
		// Indented as stored: numbers keep every digit.
		var pretty bytes.Buffer
		if json.Indent(&pretty, d.Data, "", "  ") == nil {
			v.Data = pretty.String()
		}
	}
	if v.Versions, err = w.d.Documents.Versions(r.Context(), pg.P, d.ID); err != nil {
		return err
	}
	pg.Data = v
	return w.show(rw, "document", pg)
}
