package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/tenant"
)

func (w *Web) consoleRoutes() []server.Route {
	return []server.Route{
		w.route("GET", "/console", "console.read", operator, w.console),
		w.route("GET", "/console/tenants", "tenant.list", operator, w.tenants),
		w.route("POST", "/console/tenants", "tenant.create", operator, w.createTenant),
		w.route("POST", "/console/tenants/{id}/status", "tenant.suspend", operator, w.tenantStatus),
		w.route("GET", "/access-requests", "access.list", loggedIn, w.accessRequests),
		w.route("GET", "/access-requests/{id}", "access.read", loggedIn, w.accessRequest),
		w.route("POST", "/access-requests/{id}/decision", "access.decide", operator, w.decideAccess),
		w.route("POST", "/access-requests/{id}/consent", "access.consent", user, w.consentAccess),
	}
}

type consoleView struct {
	S     ConsoleStatus
	Chart *chart
}

func (w *Web) console(rw http.ResponseWriter, r *http.Request, pg *page) error {
	st, err := w.d.Console.Status(r.Context(), pg.P)
	if err != nil {
		return err
	}
	pg.Title = "console.title"
	pg.Data = consoleView{S: st, Chart: dailyChart(pg, "console.waf_chart", st.WAFBlocks)}
	return w.show(rw, "console", pg)
}

type tenantsView struct {
	Items   []tenant.Tenant
	Next    string
	Created *tenant.Created
}

func (w *Web) tenants(rw http.ResponseWriter, r *http.Request, pg *page) error {
	items, next, err := w.d.Tenants.List(r.Context(), pg.P, r.URL.Query().Get("cursor"), 100)
	if err != nil {
		return err
	}
	pg.Title = "tenants.title"
	v := tenantsView{Items: items, Next: next}
	if d, ok := pg.Data.(tenantsView); ok {
		v.Created = d.Created
	}
	pg.Data = v
	return w.show(rw, "tenants", pg)
}

func (w *Web) createTenant(rw http.ResponseWriter, r *http.Request, pg *page) error {
	f := r.PostForm
	c, err := w.d.Tenants.Create(r.Context(), pg.P, tenant.CreateInput{Name: strings.TrimSpace(f.Get("name")), Slug: strings.TrimSpace(f.Get("slug")),
		SecurityContact: strings.TrimSpace(f.Get("security_contact")), OwnerEmail: strings.TrimSpace(f.Get("owner_email")), OwnerLanguage: f.Get("owner_language")})
	if err != nil {
		return w.again(rw, r, pg, err, w.tenants)
	}
	pg.Notice = "tenants.created"
	pg.Data = tenantsView{Created: &c}
	return w.tenants(rw, r, pg)
}

func (w *Web) tenantStatus(rw http.ResponseWriter, r *http.Request, pg *page) error {
	st := tenant.Status(r.PostForm.Get("status"))
	if _, err := w.d.Tenants.SetStatus(r.Context(), pg.P, r.PathValue("id"), st); err != nil {
		return w.again(rw, r, pg, err, w.tenants)
	}
	return back(rw, r, "/console/tenants", "tenants.updated")
}

type accessView struct {
	Items []access.Request
	Next  string
	State string
}

func (w *Web) accessRequests(rw http.ResponseWriter, r *http.Request, pg *page) error {
	state := r.URL.Query().Get("state")
	items, next, err := w.d.Access.List(r.Context(), pg.P, access.Filter{State: state}, r.URL.Query().Get("cursor"), 100)
	if err != nil {
		return err
	}
	pg.Title = "access.title"
	pg.Data = accessView{Items: items, Next: next, State: state}
	return w.show(rw, "access", pg)
}

type accessRequestView struct {
	R          access.Request
	CanDecide  bool
	CanConsent bool
}

func (w *Web) accessRequest(rw http.ResponseWriter, r *http.Request, pg *page) error {
	req, err := w.d.Access.Get(r.Context(), pg.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Title = "access.request"
	v := accessRequestView{R: req}
	v.CanDecide = pg.P.Kind == authz.Operator && req.State == "pending" && req.Requester != pg.P.ID &&
		authz.Decide(pg.P, authz.AccessDecide, authz.Resource{}, pg.now).Allowed
	v.CanConsent = pg.P.Kind == authz.User && req.State == "awaiting_consent" && pg.Can("access.consent")
	pg.Data = v
	return w.show(rw, "access_request", pg)
}

func (w *Web) decideAccess(rw http.ResponseWriter, r *http.Request, pg *page) error {
	id := r.PathValue("id")
	if _, err := w.d.Access.Decide(r.Context(), pg.P, id, access.Decision{Decision: r.PostForm.Get("decision"), Comment: r.PostForm.Get("comment")}); err != nil {
		return w.again(rw, r, pg, err, w.accessRequest)
	}
	return back(rw, r, "/access-requests/"+id, "access.decided")
}

func (w *Web) consentAccess(rw http.ResponseWriter, r *http.Request, pg *page) error {
	id := r.PathValue("id")
	if _, err := w.d.Access.Consent(r.Context(), pg.P, id, access.ConsentInput{Consent: r.PostForm.Get("consent"), Comment: r.PostForm.Get("comment")}); err != nil {
		return w.again(rw, r, pg, err, w.accessRequest)
	}
	return back(rw, r, "/access-requests/"+id, "access.answered")
}

// dailyChart draws counts per day as bars.
func dailyChart(pg *page, label string, days []DayCount) *chart {
	if len(days) == 0 {
		return nil
	}
	c := &chart{Label: label, Height: chartHeight}
	for _, d := range days {
		c.Max = max(c.Max, d.Count)
	}
	for i, d := range days {
		b := bar{X: i * (chartBar + chartGap), W: chartBar, Label: pg.dayLabel(d.Day), Title: pg.dayLabel(d.Day) + ": " + pg.Num(d.Count)}
		if c.Max > 0 && d.Count > 0 {
			h := int(d.Count * (chartHeight - 20) / c.Max)
			b.Blocks = []block{{Y: chartHeight - 20 - h, H: h, Class: "a-waf"}}
		}
		c.Bars = append(c.Bars, b)
	}
	c.Width = len(days) * (chartBar + chartGap)
	return c
}

func (pg *page) dayLabel(t time.Time) string {
	t = t.In(pg.zone)
	if pg.Lang == "sv" {
		return t.Format("2/1")
	}
	return t.Format("Jan 2")
}
