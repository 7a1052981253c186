package web

import (
	"net/http"

	"github.com/valvhq/valv/internal/problem"
)

type reportsView struct{ Formats []string }

// reports offers the organisation's signed measures report (EVD-1). The
// files come from the API route, which makes and signs them; the zip holds
// every form with its signature, since a browser download drops the
// signature header.
func (w *Web) reports(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if !pg.Can("report.measures") {
		return problem.Forbidden("forbidden", "Owners, admins and auditors can get the measures report.")
	}
	pg.Title = "reports.title"
	pg.Data = reportsView{Formats: []string{"zip", "pdf", "html", "json"}}
	return w.show(rw, "reports", pg)
}
