package web

import (
	"net/http"
	"strings"

	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/server"
)

func (w *Web) gdprRoutes() []server.Route {
	return []server.Route{
		w.route("GET", "/gdpr", "gdpr.request.list", user, w.subjectRequests),
		w.route("POST", "/gdpr", "gdpr.request.create", user, w.createSubjectRequest),
		w.route("GET", "/gdpr/{id}", "gdpr.request.read", user, w.subjectRequest),
	}
}

// requestKinds are the data-subject requests the form offers.
var requestKinds = []string{"access", "portability", "anonymisation", "erasure", "restriction"}

type gdprView struct {
	Items []gdpr.View
	Next  string
	Kinds []string
}

func (w *Web) subjectRequests(rw http.ResponseWriter, r *http.Request, pg *page) error {
	items, next, err := w.d.GDPR.List(r.Context(), pg.P, r.URL.Query().Get("status"), r.URL.Query().Get("cursor"), 50)
	if err != nil {
		return err
	}
	pg.Title = "gdpr.title"
	pg.Data = gdprView{Items: items, Next: next, Kinds: requestKinds}
	return w.show(rw, "gdpr", pg)
}

func (w *Web) createSubjectRequest(rw http.ResponseWriter, r *http.Request, pg *page) error {
	f := r.PostForm
	in := gdpr.RequestInput{Kind: f.Get("kind"), DocumentID: strings.TrimSpace(f.Get("document_id"))}
	for _, name := range []string{"personnummer", "email"} {
		if v := strings.TrimSpace(f.Get(name)); v != "" {
			in.Subjects = append(in.Subjects, gdpr.Identifier{Kind: name, Value: v})
		}
	}
	v, err := w.d.GDPR.Create(r.Context(), pg.P, in)
	if err != nil {
		return w.again(rw, r, pg, err, w.subjectRequests)
	}
	return back(rw, r, "/gdpr/"+v.ID, "gdpr.created")
}

func (w *Web) subjectRequest(rw http.ResponseWriter, r *http.Request, pg *page) error {
	v, err := w.d.GDPR.Get(r.Context(), pg.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Title = "gdpr.request"
	pg.Data = v
	return w.show(rw, "gdpr_request", pg)
}
