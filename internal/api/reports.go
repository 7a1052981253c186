package api

import (
	"context"
	"encoding/base64"
	"mime"
	"net/http"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/report"
)

// Reports makes measures reports (the app, which reads every part of the
// installation).
type Reports interface {
	MeasuresFile(ctx context.Context, p authz.Principal, tenant string, from, to time.Time, format, lang string) (report.File, error)
}

// SignatureHeader carries a report file's detached signature (a signed
// note, base64): save it beside the file as <file>.sig.
const SignatureHeader = "Valv-Signature"

func (a *API) reportRoutes() []Route {
	return []Route{
		a.route("GET", "/api/v1/reports/measures", "report.measures", Session, 200,
			"The organisation's technical and organisational measures report, generated from the running installation and signed with the audit key "+
				"(the signature is in the Valv-Signature header, base64; zip holds every form with its .sig)", a.getMeasures).with(func(r Route) Route { return r.tag("reports") }).
			query(Param{Name: "format", Type: "string", Description: "json (default), html, pdf or zip"},
				Param{Name: "lang", Type: "string", Description: "sv (default) or en (html, pdf and zip)"},
				Param{Name: "tenant", Type: "string", Description: "operators: the tenant's id or slug"},
				Param{Name: "from", Type: "date-time", Description: "start of the period counted (default: 30 days before to)"},
				Param{Name: "to", Type: "date-time", Description: "end of the period (default: now)"}).
			returns(report.Measures{}),
	}
}

func (a *API) getMeasures(w http.ResponseWriter, r *http.Request) error {
	if a.reports == nil {
		return problem.New(problem.KindUnavailable, "reports_unavailable", "Reports are not available on this server.")
	}
	q := r.URL.Query()
	format, lang := q.Get("format"), q.Get("lang")
	if format == "" {
		format = "json"
	}
	if lang == "" {
		lang = "sv"
	}
	if format != "json" && format != "html" && format != "pdf" && format != "zip" {
		return problem.Invalid("invalid_format", "Use format json, html, pdf or zip.", problem.Field("/format", "invalid_format", "json, html, pdf or zip"))
	}
	if lang != "sv" && lang != "en" {
		return problem.Invalid("invalid_lang", "Use lang sv or en.", problem.Field("/lang", "invalid_lang", "sv or en"))
	}
	var period [2]time.Time
	for i, name := range []string{"from", "to"} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return problem.Invalid("invalid_time", "A time is not in RFC 3339 form.", problem.Field("/"+name, "invalid_time", "Use e.g. 2026-11-22T09:00:00Z."))
			}
			period[i] = t
		}
	}
	f, err := a.reports.MeasuresFile(r.Context(), authz.PrincipalFrom(r.Context()), q.Get("tenant"), period[0], period[1], format, lang)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	if len(f.Signature) > 0 {
		h.Set(SignatureHeader, base64.StdEncoding.EncodeToString(f.Signature))
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(f.Body)
	return err
}
