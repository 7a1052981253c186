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
//	locate          which route the request is for (metrics; raw bodies for the WAF)
//	guard:          (when Options.Guard is set; GRD-1, GRD-2, AUTH-5)
//	  Blocklist     blocked addresses and networks get 403; 401s count toward a block
//	  LimitAddress  per-address rate limit (429), cheap checks before the WAF
//	  Firewall      the WAF (OWASP CRS): attacks get 403, before any handler or login
//	crossOrigin     state-changing browser requests from other origins are refused (CSRF)
//	dispatch        the route table; unknown routes get JSON 404/405
//	  per route:    markRoute (route pattern for metrics), refuseWhileSealed
//	                (all but system and unseal routes), audit (all but
//	                system routes; seal routes only while unsealed),
//	                authenticate (all but system routes), guard's
//	                LimitPrincipal (per key, user and tenant; all but
//	                system routes), limitBody
func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	all := append(s.systemRoutes(), s.opts.Routes...)
	s.byPattern = make(map[string]Route, len(all))
	for _, rt := range all {
		s.byPattern[rt.Method+" "+rt.Pattern] = rt
		h := rt.Handler
		limit := s.opts.Config.HTTP.MaxBodyBytes
		if rt.MaxBody > 0 {
			limit = rt.MaxBody
		}
		h = limitBody(h, limit)
		if rt.Class != ClassSystem {
			if s.opts.Guard != nil {
				h = s.opts.Guard.LimitPrincipal(h)
			}
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
	mw := []func(http.Handler) http.Handler{
		s.withCall,
		s.observe,
		securityHeaders,
		s.recoverPanics,
		s.locate(mux),
	}
	if g := s.opts.Guard; g != nil {
		mw = append(mw, g.Blocklist, g.LimitAddress, g.Firewall)
	}
	mw = append(mw, s.crossOrigin)
	return chain(s.dispatch(mux), mw...), nil
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
