package api

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/server"
)

//go:embed openapi.json
var openAPIDocument []byte

// Deps are what the API calls.
type Deps struct {
	Logger *slog.Logger
	Seal   SealControl
}

// API is the JSON API.
type API struct {
	log  *slog.Logger
	seal SealControl
}

// New builds the API.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &API{log: d.Logger, seal: d.Seal}
}

// Routes returns every route of the API.
func (a *API) Routes() []server.Route {
	rs := []route{
		a.route("GET", "/api/v1/openapi.json", a.openAPI).allowSealed(),
		a.route("GET", "/api/v1/sys/seal-status", a.sealStatus).allowSealed(),
		a.route("POST", "/api/v1/sys/unseal", a.unseal).allowSealed(),
		a.route("POST", "/api/v1/sys/seal", a.sealNow).allowSealed(),
	}
	out := make([]server.Route, len(rs))
	for i, r := range rs {
		out[i] = server.Route(r)
	}
	return out
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is a server.Route under construction.
type route server.Route

func (a *API) route(method, pattern string, h handlerFunc) route {
	return route{Method: method, Pattern: pattern, Class: server.ClassAPI, Handler: a.handle(h)}
}

// allowSealed serves the route while the keyring is sealed.
func (r route) allowSealed() route { r.AllowSealed = true; return r }

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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPIDocument)
	return err
}
