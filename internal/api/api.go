package api

import (
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/tenant"
)

// Deps are what the API calls.
type Deps struct {
	Logger    *slog.Logger
	Seal      SealControl
	Auth      *auth.Service
	Tenants   *tenant.Service
	Trail     *audit.Trail
	Documents *document.Service
	Archive   *archive.Service
	GDPR      *gdpr.Service
	Messages  *message.Service
	Access    *access.Service
	// CheckJSON runs the WAF over the JSON part of a multipart upload,
	// whose body the WAF passed on unread (nil: no WAF).
	CheckJSON func(r *http.Request, doc []byte) error
	// Reports makes measures reports; nil answers 503.
	Reports Reports
	Now     func() time.Time
}

// API is the JSON API.
type API struct {
	log     *slog.Logger
	seal    SealControl
	auth    *auth.Service
	tenants *tenant.Service
	trail   *audit.Trail
	docs    *document.Service
	archive *archive.Service
	gdpr    *gdpr.Service
	msgs    *message.Service
	access  *access.Service
	check   func(r *http.Request, doc []byte) error
	reports Reports
	now     func() time.Time
}

// New builds the API.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &API{log: d.Logger, seal: d.Seal, auth: d.Auth, tenants: d.Tenants, trail: d.Trail, docs: d.Documents, archive: d.Archive, gdpr: d.GDPR, msgs: d.Messages, access: d.Access, check: d.CheckJSON, reports: d.Reports, now: d.Now}
}

// Access says who may call a route, for the documentation and the
// authorization scenario tests. Services decide; this only describes.
type Access string

const (
	Public  Access = "public"  // no login needed
	Session Access = "session" // a logged-in user or operator (or an API key where the service allows)
)

// Route is an endpoint with what the OpenAPI document says about it.
type Route struct {
	server.Route
	Summary  string
	Tag      string
	Access   Access
	Request  any // a value of the request body's type, or nil
	Response any // a value of the success body's type, or nil
	Status   int // the success status
	// Query documents the query parameters.
	Query []Param
	// ContentType is the success body's media type (default JSON).
	ContentType string
}

// Param is a documented query parameter.
type Param struct {
	Name        string
	Type        string // string, integer, boolean; "date-time" is a string in RFC 3339
	Description string
}

// Routes returns every route of the API, with its documentation.
func (a *API) Routes() []Route {
	var rs []Route
	rs = append(rs, a.sysRoutes()...)
	rs = append(rs, a.authRoutes()...)
	rs = append(rs, a.userRoutes()...)
	rs = append(rs, a.tenantRoutes()...)
	rs = append(rs, a.apiKeyRoutes()...)
	rs = append(rs, a.auditRoutes()...)
	rs = append(rs, a.validateRoutes()...)
	rs = append(rs, a.documentRoutes()...)
	rs = append(rs, a.retentionRoutes()...)
	rs = append(rs, a.gdprRoutes()...)
	rs = append(rs, a.messageRoutes()...)
	rs = append(rs, a.accessRoutes()...)
	rs = append(rs, a.reportRoutes()...)
	return rs
}

// ServerRoutes returns the routes for the server.
func (a *API) ServerRoutes() []server.Route {
	rs := a.Routes()
	out := make([]server.Route, len(rs))
	for i, r := range rs {
		out[i] = r.Route
	}
	return out
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) route(method, pattern, action string, access Access, status int, summary string, h handlerFunc) Route {
	return Route{Route: server.Route{Method: method, Pattern: pattern, Class: server.ClassAPI, Handler: a.handle(h), Action: action},
		Access: access, Status: status, Summary: summary}
}

func (r Route) allowSealed() Route             { r.AllowSealed = true; return r }
func (r Route) tag(t string) Route             { r.Tag = t; return r }
func (r Route) body(req any) Route             { r.Request = req; return r }
func (r Route) returns(resp any) Route         { r.Response = resp; return r }
func (r Route) with(f func(Route) Route) Route { return f(r) }
func (r Route) query(ps ...Param) Route        { r.Query = append(r.Query, ps...); return r }
func (r Route) produces(ct string) Route       { r.ContentType = ct; return r }

// rawBody marks a route whose body is file content, a stream or bulk data
// (when f says so, or always for nil f): the WAF inspects its request
// line and headers but passes the body on unread, to the malware scanner
// or a strict decoder.
func (r Route) rawBody(f func(*http.Request) bool) Route {
	if f == nil {
		f = func(*http.Request) bool { return true }
	}
	r.RawBody = f
	return r
}

// multipartBody is true for multipart requests: an upload with a file.
func multipartBody(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.HasPrefix(mt, "multipart/")
}

// handle writes a handler's error as a problem envelope and logs the cause
// of internal errors under the request id.
func (a *API) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		id := call.RequestID(r.Context())
		p := problem.Write(w, id, err)
		if p.Kind == problem.KindInternal || p.Kind == problem.KindUnavailable {
			a.log.Error("request failed", "request_id", id, "code", p.Code, "error", err)
		}
	})
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	doc, err := a.OpenAPI()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err = w.Write(doc)
	return err
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
