package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/problem"
)

// MaxImportPackage bounds a portability package sent for import: it is
// held in memory (never written to disk in the clear) while it is read.
const MaxImportPackage = 256 << 20

// Data-subject rights (GDPR-1..5) and account termination (TEN-3).
func (a *API) gdprRoutes() []Route {
	t := func(r Route) Route { return r.tag("gdpr") }
	imp := a.route("POST", "/api/v1/subject-imports", "gdpr.import", Session, 201,
		"Import a portability package (application/zip, from another Valv): each document's current version and file becomes a new document here; nothing is created unless all are", a.importPackage).with(t).returns(gdpr.ImportResult{})
	imp.MaxBody, imp.ReadTimeout = MaxImportPackage, 30*time.Minute
	imp = imp.rawBody(nil)
	pkg := a.route("GET", "/api/v1/subject-requests/{id}/package", "gdpr.request.package", Session, 200,
		"The portability package (ZIP: subject.json, manifest.json and the original files) of a completed access or portability request", a.getPackage).with(t).produces("application/zip")
	pkg.WriteTimeout = 30 * time.Minute
	export := a.route("GET", "/api/v1/termination/export", "tenant.export", Session, 200,
		"Your organisation's full export (the return before termination): every document with every version and file, as a portability package", a.getExport).with(t).produces("application/zip")
	export.WriteTimeout = 60 * time.Minute
	return []Route{
		a.route("POST", "/api/v1/subject-requests", "gdpr.request.create", Session, 201,
			"Record a data subject's request (access, portability, erasure, anonymisation, restriction); it runs at once as durable work and is retried until done", a.createSubjectRequest).with(t).body(gdpr.RequestInput{}).returns(gdpr.View{}),
		a.route("GET", "/api/v1/subject-requests", "gdpr.request.list", Session, 200, "Data-subject requests, newest first, with their deadlines", a.listSubjectRequests).with(t).
			query(Param{Name: "status", Type: "string", Description: "open, queued, running, retrying, completed or failed"},
				Param{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"}, Param{Name: "limit", Type: "integer", Description: "1 to 200 (default 50)"}).
			returns(page[gdpr.View]{}),
		a.route("GET", "/api/v1/subject-requests/{id}", "gdpr.request.read", Session, 200,
			"One request: status, progress, deadline and, when done, the result and signed receipt", a.getSubjectRequest).with(t).returns(gdpr.View{}),
		a.route("GET", "/api/v1/subject-requests/{id}/extract", "gdpr.request.extract", Session, 200,
			"The register extract of a completed access or portability request: JSON (schema valv.subject-extract/v1), HTML or PDF, in Swedish or English", a.getExtract).with(t).
			query(Param{Name: "format", Type: "string", Description: "json (default), html or pdf"}, Param{Name: "lang", Type: "string", Description: "sv (default) or en"}).
			returns(gdpr.Extract{}),
		pkg,
		imp,
		a.route("GET", "/api/v1/termination", "tenant.termination.read", Session, 200, "Your organisation's termination, if one was requested", a.getTermination).with(t).returns(gdpr.Termination{}),
		a.route("POST", "/api/v1/termination", "tenant.termination.request", Session, 202,
			"Terminate your organisation's account (owners): after the grace period every document, user and key is deleted, except what the law keeps (restricted until its day)", a.requestTermination).with(t).returns(gdpr.Termination{}),
		a.route("DELETE", "/api/v1/termination", "tenant.termination.cancel", Session, 200, "Cancel a pending termination (owners)", a.cancelTermination).with(t).returns(gdpr.Termination{}),
		export,
	}
}

func (a *API) createSubjectRequest(w http.ResponseWriter, r *http.Request) error {
	var in gdpr.RequestInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.gdpr.Create(r.Context(), authz.PrincipalFrom(r.Context()), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/subject-requests/"+v.ID)
	return writeJSON(w, http.StatusCreated, v)
}

func (a *API) listSubjectRequests(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := a.gdpr.List(r.Context(), authz.PrincipalFrom(r.Context()), r.URL.Query().Get("status"), cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[gdpr.View]{Items: items, NextCursor: next})
}

func (a *API) getSubjectRequest(w http.ResponseWriter, r *http.Request) error {
	v, err := a.gdpr.Get(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) getExtract(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	format, lang := q.Get("format"), q.Get("lang")
	if format == "" {
		format = "json"
	}
	if lang == "" {
		lang = "sv"
	}
	if format != "json" && format != "html" && format != "pdf" {
		return problem.Invalid("invalid_format", "Use format json, html or pdf.")
	}
	if lang != "sv" && lang != "en" {
		return problem.Invalid("invalid_lang", "Use lang sv or en.")
	}
	ex, err := a.gdpr.Result(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	var ct string
	switch format {
	case "json":
		return writeJSON(w, http.StatusOK, ex)
	case "html":
		ct = "text/html; charset=utf-8"
		err = gdpr.RenderHTML(&buf, ex, lang)
	case "pdf":
		ct = "application/pdf"
		err = gdpr.RenderPDF(&buf, ex, lang)
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "register-extract-" + ex.Request.ID + "." + format}))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// streamOut is a response body that notes whether anything was written, so
// that a failure midway cuts the connection rather than ending a short
// download as if it were whole.
type streamOut struct {
	w       http.ResponseWriter
	started bool
	ctype   string
	name    string
}

func (s *streamOut) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", s.ctype)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": s.name}))
		s.w.WriteHeader(http.StatusOK)
	}
	return s.w.Write(p)
}

func (a *API) stream(w http.ResponseWriter, name string, write func(io.Writer) error) error {
	out := &streamOut{w: w, ctype: "application/zip", name: name}
	err := write(out)
	if err != nil && out.started {
		a.log.Error("download failed midway", "error", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

func (a *API) getPackage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	return a.stream(w, "portability-"+id+".zip", func(out io.Writer) error {
		return a.gdpr.WritePackage(r.Context(), authz.PrincipalFrom(r.Context()), id, out)
	})
}

func (a *API) getExport(w http.ResponseWriter, r *http.Request) error {
	return a.stream(w, "valv-export.zip", func(out io.Writer) error {
		return a.gdpr.WriteExport(r.Context(), authz.PrincipalFrom(r.Context()), out)
	})
}

func (a *API) importPackage(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	if err := a.gdpr.AuthorizeImport(r.Context(), p); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/zip" && mt != "application/octet-stream") {
			return problem.New(problem.KindUnsupportedMedia, "unsupported_media_type", "Send the package as application/zip.")
		}
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return problem.New(problem.KindTooLarge, "package_too_large", "A package sent for import is at most 256 MiB.")
		}
		return problem.Invalid("unreadable_body", "The package could not be read.")
	}
	res, err := a.gdpr.ImportAuthorized(r.Context(), p, bytes.NewReader(raw), int64(len(raw)))
	clear(raw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

func (a *API) getTermination(w http.ResponseWriter, r *http.Request) error {
	v, err := a.gdpr.GetTermination(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) requestTermination(w http.ResponseWriter, r *http.Request) error {
	v, err := a.gdpr.RequestTermination(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, v)
}

func (a *API) cancelTermination(w http.ResponseWriter, r *http.Request) error {
	v, err := a.gdpr.CancelTermination(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}
