package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// healthz answers while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every readiness check passes, else 503 with the
// failing checks' public reasons.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for _, c := range s.opts.Checks {
		if err := c.Fn(ctx); err != nil {
			ready = false
			checks[c.Name] = err.Error()
			s.log.Warn("readiness check failed", "check", c.Name, "request_id", call.RequestID(ctx))
		} else {
			checks[c.Name] = "ok"
		}
	}
	status, code := "ready", http.StatusOK
	if !ready {
		status, code = "not_ready", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// metricsHandler serves Prometheus metrics to loopback clients only.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := call.From(r.Context()).ClientIP
		for _, p := range s.metricsAllow {
			if p.Contains(ip) {
				h.ServeHTTP(w, r)
				return
			}
		}
		problem.Write(w, call.RequestID(r.Context()), problem.Forbidden("metrics_forbidden", "Metrics are served to local clients only."))
	})
}
