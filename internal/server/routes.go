package server

import (
	"net/http"
)

// routes builds the one handler that serves everything. The middleware
// order is declared here, outermost first, and nowhere else:
//
//	withCall        request id, client address (trusted proxies only), user agent
//	observe         metrics and the access log, for every response
//	securityHeaders HSTS, CSP and friends, on every response, errors included
//	recoverPanics   a panic becomes a 500 envelope with the request id
//	crossOrigin     state-changing browser requests from other origins are refused (CSRF)
//	dispatch        the route table; unknown routes get JSON 404/405
//	  per route:    markRoute (route pattern for metrics), refuseWhileSealed
//	                (all but system and unseal routes), audit (all but
//	                system routes; seal routes only while unsealed),
//	                authenticate (all but system routes), limitBody
func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	all := append(s.systemRoutes(), s.opts.Routes...)
	for _, rt := range all {
		h := rt.Handler
		limit := s.opts.Config.HTTP.MaxBodyBytes
		if rt.MaxBody > 0 {
			limit = rt.MaxBody
		}
		h = limitBody(h, limit)
		if rt.Class != ClassSystem {
			h = s.authenticate(h)
			// While sealed there are no keys to seal audit entries with:
			// the routes served then (unseal, status) are audited only
			// while unsealed, and every other route is refused before it
			// is audited.
			if s.opts.Audit != nil {
				if rt.AllowSealed {
					h = s.auditUnlessSealed(s.opts.Audit(rt.Action, h), h)
				} else {
					h = s.opts.Audit(rt.Action, h)
				}
			}
			if !rt.AllowSealed {
				h = s.refuseWhileSealed(h)
			}
		}
		if rt.ReadTimeout > 0 || rt.WriteTimeout > 0 {
			h = extendDeadlines(rt.ReadTimeout, rt.WriteTimeout, h)
		}
		h = markRoute(rt.Pattern, h)
		mux.Handle(rt.Method+" "+rt.Pattern, h)
	}
	return chain(s.dispatch(mux),
		s.withCall,
		s.observe,
		securityHeaders,
		s.recoverPanics,
		s.crossOrigin,
	), nil
}

func (s *Server) systemRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/healthz", Handler: http.HandlerFunc(s.healthz), Class: ClassSystem},
		{Method: "GET", Pattern: "/readyz", Handler: http.HandlerFunc(s.readyz), Class: ClassSystem},
		{Method: "GET", Pattern: "/metrics", Handler: s.metricsHandler(), Class: ClassSystem},
	}
}

// chain wraps h in middleware, the first one outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
