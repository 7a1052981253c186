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
}

// API is the JSON API.
type API struct {
	log *slog.Logger
}

// New builds the API.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &API{log: d.Logger}
}

// Routes returns every route of the API.
func (a *API) Routes() []server.Route {
	return []server.Route{
		a.route("GET", "/api/v1/openapi.json", a.openAPI),
	}
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) route(method, pattern string, h handlerFunc) server.Route {
	return server.Route{Method: method, Pattern: pattern, Class: server.ClassAPI, Handler: a.handle(h)}
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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPIDocument)
	return err
}
